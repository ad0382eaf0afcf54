"""Pure functions: blend shapes and rigid transforms, in numpy and in batched torch.

Shape algebra (V vertices, K identity modes, E expression shapes, B batch):

    vertices = neutral + Σ_k identity_k · identity_basis[k] + Σ_e expression_e · expression_basis[e]
    (V, 3)     (V, 3)    (K,) × (K, V, 3)                       (E,) × (E, V, 3)
"""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import NDArray

__all__ = [
    "blend_vertices",
    "blend_vertices_torch",
    "rigid_transform",
    "rigid_transform_torch",
]


def blend_vertices(
    neutral: NDArray[np.float32],
    identity_basis: NDArray[np.float32],
    identity_coeffs: NDArray[np.floating],
    expression_basis: NDArray[np.float32],
    expression_coeffs: NDArray[np.floating],
) -> NDArray[np.float32]:
    """Linear blend of identity and expression shapes.

    Args:
        neutral: (V, 3).
        identity_basis: (K, V, 3); ``identity_coeffs`` may be shorter (first K' modes).
        identity_coeffs: (K',) with K' <= K.
        expression_basis: (E, V, 3).
        expression_coeffs: (E,).

    Returns:
        (V, 3) float32 vertices.
    """
    k = int(identity_coeffs.shape[0])
    num_vertices = neutral.shape[0]
    out = neutral.reshape(-1).astype(np.float32, copy=True)
    if k:
        out += identity_coeffs.astype(np.float32) @ identity_basis[:k].reshape(k, -1)
    out += expression_coeffs.astype(np.float32) @ expression_basis.reshape(
        expression_basis.shape[0], -1
    )
    return out.reshape(num_vertices, 3)


def rigid_transform(
    vertices: NDArray[np.floating],
    rotation: NDArray[np.floating],
    translation: NDArray[np.floating],
    scale: float = 1.0,
) -> NDArray[np.float32]:
    """``scale · R · v + t`` for every vertex.

    Args:
        vertices: (V, 3).
        rotation: (3, 3).
        translation: (3,).
        scale: uniform scale.

    Returns:
        (V, 3) float32.
    """
    return (scale * (vertices @ rotation.T) + translation).astype(np.float32)


def blend_vertices_torch(
    neutral: torch.Tensor,
    identity_basis: torch.Tensor,
    identity_coeffs: torch.Tensor,
    expression_basis: torch.Tensor,
    expression_coeffs: torch.Tensor,
) -> torch.Tensor:
    """Batched, differentiable :func:`blend_vertices`.

    Args:
        neutral: (V, 3).
        identity_basis: (K, V, 3).
        identity_coeffs: (B, K') with K' <= K.
        expression_basis: (E, V, 3).
        expression_coeffs: (B, E).

    Returns:
        (B, V, 3).
    """
    batch = expression_coeffs.shape[0]
    k = identity_coeffs.shape[1]
    flat = neutral.reshape(1, -1).expand(batch, -1)
    if k:
        flat = flat + identity_coeffs @ identity_basis[:k].reshape(k, -1)
    flat = flat + expression_coeffs @ expression_basis.reshape(expression_basis.shape[0], -1)
    return flat.reshape(batch, -1, 3)


def rigid_transform_torch(
    vertices: torch.Tensor,
    rotation: torch.Tensor,
    translation: torch.Tensor,
    scale: torch.Tensor | None = None,
) -> torch.Tensor:
    """Batched ``scale · R · v + t``.

    Args:
        vertices: (B, V, 3).
        rotation: (B, 3, 3).
        translation: (B, 3).
        scale: (B,) or None for 1.

    Returns:
        (B, V, 3).
    """
    out = vertices @ rotation.transpose(1, 2)
    if scale is not None:
        out = out * scale.reshape(-1, 1, 1)
    return out + translation.reshape(-1, 1, 3)
