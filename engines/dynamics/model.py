"""The generator of Potamias et al. (2020): motion labels -> LSTM -> latent per frame -> mesh
decoder -> per-vertex deformation added to the subject's neutral mesh.

Shapes: B sequences, T frames, L motion-label classes, Z latent size, N decoded frames,
V_0 decoder-region vertices.

Two decoders behind the same encoder:

- :class:`SpiralDecoder`: a fully connected layer to the coarsest level, then per level an
  up-sampling and a spiral convolution with ReLU, the last one (level 0) linear to xyz.
- :class:`PCADecoder`: the paper's baseline, ``mean + Σ_k z_k σ_k B_k`` with the PCA basis of
  the motion deformations (whitened: z has unit variance on the training corpus). The basis
  is derived from the face model, so it is a non-persistent buffer, set after loading
  (``engines.dynamics.research.pca`` recomputes it from the user's own model).
"""

from __future__ import annotations

import torch
from torch import nn

from engines.dynamics.config import DynamicsModelConfig
from engines.dynamics.hierarchy import MeshHierarchy
from engines.dynamics.layers import SpiralConv, UpSample

__all__ = ["DynamicsModel", "MotionEncoder", "PCADecoder", "SpiralDecoder", "build_model"]


class MotionEncoder(nn.Module):
    """(B, T, L) motion labels -> (B, T, Z) latents: an LSTM and a linear read-out."""

    def __init__(self, config: DynamicsModelConfig) -> None:
        super().__init__()
        self.lstm = nn.LSTM(
            len(config.labels), config.lstm_hidden, num_layers=config.lstm_layers,
            batch_first=True,
        )  # fmt: skip
        self.readout = nn.Linear(config.lstm_hidden, config.latent)

    def forward(self, labels: torch.Tensor) -> torch.Tensor:
        hidden, _ = self.lstm(labels)
        latents: torch.Tensor = self.readout(hidden)
        return latents


class SpiralDecoder(nn.Module):
    """(N, Z) latents -> (N, V_0, 3) deformations through the mesh hierarchy.

    A fully connected layer gives the coarsest level's features; each level then up-samples
    and applies a spiral convolution. ReLU follows the convolutions down to level
    ``config.linear_levels``; the finest ``linear_levels`` stages are linear, so that at plan
    time they fold, with the projection onto the 53 expression shapes, into one matrix on
    the features of level ``linear_levels`` (:meth:`features` / :meth:`tail`; see
    ``engines.dynamics.generator``).
    """

    def __init__(self, config: DynamicsModelConfig, hierarchy: MeshHierarchy) -> None:
        super().__init__()
        levels = hierarchy.num_levels - 1
        if len(config.channels) != levels:
            raise ValueError(f"channels must have {levels} entries (one per level)")
        if not 1 <= config.linear_levels <= levels:
            raise ValueError(f"linear_levels must be in [1, {levels}]")
        sizes = hierarchy.sizes()
        self.coarse_vertices = sizes[-1]
        self.coarse_channels = config.channels[0]
        self.linear_levels = config.linear_levels
        self.fc = nn.Linear(config.latent, self.coarse_vertices * self.coarse_channels)
        self.ups = nn.ModuleList()
        self.convs = nn.ModuleList()
        # level L -> L-1 -> ... -> 0; channels[i] lives at level L - i
        outputs = (*config.channels[1:], 3)
        for step, (c_in, c_out) in enumerate(zip(config.channels, outputs, strict=True)):
            fine = levels - 1 - step  # up_rows[fine] maps level fine + 1 -> level fine
            self.ups.append(
                UpSample(hierarchy.up_rows[fine], hierarchy.up_cols[fine],
                         hierarchy.up_values[fine], (sizes[fine], sizes[fine + 1]))
            )  # fmt: skip
            self.convs.append(SpiralConv(c_in, c_out, hierarchy.spirals[fine]))
        self.activation = nn.ReLU()

    @property
    def feature_level(self) -> int:
        """The level whose features :meth:`features` returns (= ``linear_levels``)."""
        return self.linear_levels

    def features(self, latents: torch.Tensor) -> torch.Tensor:
        """(N, Z) -> (V_k, N, C_k) at level k = ``linear_levels``: the non-linear part."""
        x = self.fc(latents).reshape(-1, self.coarse_vertices, self.coarse_channels)
        x = x.permute(1, 0, 2).contiguous()
        stop = len(self.convs) - self.linear_levels
        for up, conv in zip(self.ups[:stop], self.convs[:stop], strict=True):
            x = self.activation(conv(up(x)))
        return x

    def tail(self, features: torch.Tensor) -> torch.Tensor:
        """(V_k, N, C_k) -> (V_0, N, 3): the linear stages (affine in ``features``)."""
        stop = len(self.convs) - self.linear_levels
        x = features
        for up, conv in zip(self.ups[stop:], self.convs[stop:], strict=True):
            x = conv(up(x))
        return x

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        out = self.tail(self.features(latents))
        return out.permute(1, 0, 2)


class PCADecoder(nn.Module):
    """(N, Z) latents -> (N, V_0, 3): ``mean + latents @ (σ · basis)``, a linear blendshape
    decoder of the same latent size (components past the basis' rank are zero).

    The buffers are zeros until :meth:`set_basis`; they are never saved in a checkpoint.
    """

    mean: torch.Tensor
    basis: torch.Tensor

    def __init__(self, config: DynamicsModelConfig, num_vertices: int) -> None:
        super().__init__()
        self.num_vertices = num_vertices
        self.latent = config.latent
        self.register_buffer("mean", torch.zeros(num_vertices * 3), persistent=False)
        self.register_buffer("basis", torch.zeros(config.latent, num_vertices * 3),
                             persistent=False)  # fmt: skip
        self.ready = False

    def set_basis(self, mean: torch.Tensor, scaled_basis: torch.Tensor) -> None:
        """mean (V_0 * 3,), scaled_basis (Z', V_0 * 3) with Z' <= Z (σ_k B_k per row)."""
        if mean.shape != self.mean.shape:
            raise ValueError(f"mean must be {tuple(self.mean.shape)}, got {tuple(mean.shape)}")
        rows = scaled_basis.shape[0]
        if rows > self.latent or scaled_basis.shape[1] != self.basis.shape[1]:
            raise ValueError(f"basis must be (<= {self.latent}, {self.basis.shape[1]})")
        self.mean.copy_(mean)
        self.basis.zero_()
        self.basis[:rows].copy_(scaled_basis)
        self.ready = True

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        flat = self.mean + latents @ self.basis
        return flat.reshape(-1, self.num_vertices, 3)


class DynamicsModel(nn.Module):
    """Encoder + decoder. ``forward`` (B, T, L) labels -> (B, T, V_0, 3) deformations (cm)."""

    def __init__(self, config: DynamicsModelConfig, decoder: SpiralDecoder | PCADecoder) -> None:
        super().__init__()
        self.config = config
        self.encoder = MotionEncoder(config)
        self.decoder = decoder

    def latents(self, labels: torch.Tensor) -> torch.Tensor:
        """(B, T, L) -> (B, T, Z)."""
        out: torch.Tensor = self.encoder(labels)
        return out

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """(N, Z) -> (N, V_0, 3)."""
        out: torch.Tensor = self.decoder(latents)
        return out

    def forward(self, labels: torch.Tensor) -> torch.Tensor:
        latents = self.latents(labels)
        batch, frames, _ = latents.shape
        return self.decode(latents.reshape(batch * frames, -1)).reshape(batch, frames, -1, 3)


def build_model(config: DynamicsModelConfig, hierarchy: MeshHierarchy) -> DynamicsModel:
    """A freshly initialised model of ``config`` on ``hierarchy``.

    Raises:
        ValueError: the config was made for another hierarchy.
    """
    if config.hierarchy != hierarchy.config:
        raise ValueError("the model config and the mesh hierarchy were built differently")
    decoder: SpiralDecoder | PCADecoder
    if config.decoder == "spiral":
        decoder = SpiralDecoder(config, hierarchy)
    else:
        decoder = PCADecoder(config, hierarchy.sizes()[0])
    return DynamicsModel(config, decoder)
