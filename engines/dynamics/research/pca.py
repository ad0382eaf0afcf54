"""PCA of the corpus' motion deformations: the baseline decoder's basis and the classifier's
features.

A frame's region deformation is ``d = g · Xᵀ w`` (g the face scale, X the (E, 3V) expression
shapes, w the E coefficients), so the deformation covariance over the training frames is
``Xᵀ Σ X`` with Σ the (E, E) covariance of ``g · w``. Its eigenvectors come from the small
(E, E) problem ``Σ^½ X Xᵀ Σ^½ = U S² Uᵀ``: component k is ``B_k = U_kᵀ Σ^½ X / S_k`` with
standard deviation ``S_k``. This is exactly the PCA of the stacked training deformations,
without stacking them. The rank is at most E = 53: with the paper's 64 latents, the last
components are zero.

The basis is derived from the ICT shapes, so it is never saved: :func:`corpus_pca`
recomputes it from the user's model and the corpus config stored in the checkpoint
(deterministic; signs fixed so that each U_k's largest entry is positive).

Shapes: N frames, V region vertices, E shapes, Z latent size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray

from engines.dynamics.projection import RegionBasis
from engines.dynamics.research.corpus import DynamicSequence

__all__ = ["DeformationPCA", "corpus_pca"]

_RANK_TOLERANCE = 1e-9


@dataclass(frozen=True)
class DeformationPCA:
    """Mean and whitened basis of the training deformations.

    Attributes:
        mean: (3V,) mean deformation (cm).
        scaled_basis: (R, 3V) ``S_k B_k`` rows (R = rank <= E), variance order.
        stddev: (R,) S_k.
        explained: (R,) share of the variance of each component.
    """

    mean: NDArray[np.float32]
    scaled_basis: NDArray[np.float32]
    stddev: NDArray[np.float32]
    explained: NDArray[np.float32]

    @property
    def rank(self) -> int:
        return int(self.stddev.shape[0])

    def coefficients(self, deformations: NDArray[np.floating], size: int) -> NDArray[np.float32]:
        """(N, V, 3) deformations -> (N, size) whitened coefficients (zeros past the rank)."""
        flat = np.asarray(deformations, np.float32).reshape(len(deformations), -1) - self.mean
        unit = self.scaled_basis / (self.stddev[:, None] ** 2)
        out = np.zeros((len(flat), size), np.float32)
        count = min(size, self.rank)
        out[:, :count] = flat @ unit[:count].T
        return out

    def coefficients_of_weights(
        self, scaled_weights: NDArray[np.floating], basis: RegionBasis, size: int
    ) -> NDArray[np.float32]:
        """:meth:`coefficients` of ``scaled_weights @ X`` ((N, E) face scale × coefficients)
        without building the deformations (the map is linear: an (R, E) matrix)."""
        unit = self.scaled_basis.astype(np.float64) / (self.stddev[:, None].astype(np.float64) ** 2)
        flat = basis.basis.reshape(basis.num_expressions, -1).astype(np.float64)
        through = unit @ flat.T  # (R, E)
        offset = unit @ self.mean.astype(np.float64)
        out = np.zeros((len(scaled_weights), size), np.float32)
        count = min(size, self.rank)
        values = np.asarray(scaled_weights, np.float64) @ through.T - offset
        out[:, :count] = values[:, :count]
        return out

    def decoder_tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, scaled_basis) as float32 tensors for ``PCADecoder.set_basis``."""
        return torch.from_numpy(self.mean.copy()), torch.from_numpy(self.scaled_basis.copy())


def corpus_pca(sequences: tuple[DynamicSequence, ...], basis: RegionBasis) -> DeformationPCA:
    """PCA of every frame of ``sequences`` (the training split)."""
    scaled = np.concatenate([s.weights.astype(np.float64) * s.face_scale for s in sequences])
    mean_w = scaled.mean(axis=0)
    centred = scaled - mean_w
    covariance = centred.T @ centred / len(scaled)
    values, vectors = np.linalg.eigh(covariance)
    root = (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T  # Σ^½
    flat = basis.basis.reshape(basis.num_expressions, -1).astype(np.float64)
    gram = flat @ flat.T
    small = root @ gram @ root
    s2, u = np.linalg.eigh(small)
    order = np.argsort(s2)[::-1]
    s2, u = s2[order], u[:, order]
    keep = s2 > _RANK_TOLERANCE * max(float(s2[0]), 1e-30)
    s2, u = s2[keep], u[:, keep]
    signs = np.sign(u[np.argmax(np.abs(u), axis=0), np.arange(u.shape[1])])
    u = u * np.where(signs == 0, 1.0, signs)
    scaled_basis = u.T @ root @ flat  # (R, 3V): U_kᵀ Σ^½ X = S_k B_k
    mean = mean_w @ flat
    return DeformationPCA(
        mean=mean.astype(np.float32),
        scaled_basis=scaled_basis.astype(np.float32),
        stddev=np.sqrt(s2).astype(np.float32),
        explained=(s2 / s2.sum()).astype(np.float32),
    )
