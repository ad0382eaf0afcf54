"""``FaceModelModule``: the ICT model arrays as torch buffers, for fitting and for losses.

Like smplx's body models: the pure functions live in ``blend``/``camera``; this module only
holds the (optionally vertex-subsampled) bases as buffers and calls them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from engines.face_model.blend import blend_vertices_torch, rigid_transform_torch
from engines.face_model.camera import euler_to_matrix_torch
from engines.face_model.ict import FaceModelData

__all__ = ["FaceModelModule"]


class FaceModelModule(nn.Module):
    """Differentiable ICT vertices for a batch of coefficients.

    Args:
        model: the loaded face model.
        num_identity: how many identity modes to keep (K).
        vertex_ids: optional subset of vertices (e.g. 2,000 face vertices for a cheap loss).
    """

    neutral: torch.Tensor
    identity_basis: torch.Tensor
    expression_basis: torch.Tensor

    def __init__(
        self,
        model: FaceModelData,
        num_identity: int = 50,
        vertex_ids: Sequence[int] | np.ndarray | None = None,
    ) -> None:
        super().__init__()
        if not 0 <= num_identity <= model.num_identity:
            raise ValueError(f"num_identity must be in [0, {model.num_identity}]")
        index = (
            np.arange(model.num_vertices)
            if vertex_ids is None
            else np.asarray(vertex_ids, dtype=np.int64)
        )
        self.register_buffer("neutral", torch.from_numpy(model.neutral[index].copy()))
        self.register_buffer(
            "identity_basis",
            torch.from_numpy(model.identity_basis[:num_identity, index].copy()),
        )
        self.register_buffer(
            "expression_basis", torch.from_numpy(model.expression_basis[:, index].copy())
        )
        self.num_identity = num_identity
        self.num_expressions = model.num_expressions

    def forward(
        self,
        expression: torch.Tensor,
        identity: torch.Tensor | None = None,
        rotation: torch.Tensor | None = None,
        translation: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Vertices for a batch.

        Args:
            expression: (B, 53) expression coefficients.
            identity: (B, K') identity coefficients, K' <= K; None for the mean face.
            rotation: (B, 3) Euler ``(pitch, yaw, roll)`` radians; None for no rotation.
            translation: (B, 3) centimetres; None for none.

        Returns:
            (B, V', 3) vertices (V' = number of kept vertices).
        """
        batch = expression.shape[0]
        if identity is None:
            identity = expression.new_zeros(batch, 0)
        vertices = blend_vertices_torch(
            self.neutral, self.identity_basis, identity, self.expression_basis, expression
        )
        if rotation is None and translation is None:
            return vertices
        matrices = (
            euler_to_matrix_torch(rotation)
            if rotation is not None
            else torch.eye(3, dtype=expression.dtype).expand(batch, 3, 3)
        )
        offset = translation if translation is not None else expression.new_zeros(batch, 3)
        return rigid_transform_torch(vertices, matrices, offset)
