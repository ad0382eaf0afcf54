"""Between the 53 expression coefficients and per-vertex deformations of the decoder region.

The renderer takes expression coefficients, the decoder makes vertex offsets; the learned
deformation reaches the renderer by least squares onto the 53 ICT expression shapes on the
region's vertices (``coeffs = (X Xᵀ)⁻¹ X d``, clipped to [0, 1]). Everything here is
computed from the user's face model at load time.

Shapes: N frames, V region vertices, E = 53 expression shapes.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from engines.face_model.ict import FaceModelData

__all__ = ["RegionBasis"]


class RegionBasis:
    """The expression shapes on the decoder region, and the projection back onto them.

    Args:
        model: the face model.
        region_vertices: (V,) ICT vertex indices of the region (``MeshHierarchy``).
    """

    def __init__(self, model: FaceModelData, region_vertices: NDArray[np.int64]) -> None:
        self.expression_names = model.expression_names
        self.region_vertices = np.asarray(region_vertices, np.int64)
        self.basis = np.ascontiguousarray(model.expression_basis[:, self.region_vertices])
        flat = self.basis.reshape(self.basis.shape[0], -1).astype(np.float64)
        gram = flat @ flat.T
        self.pseudo_inverse = np.linalg.solve(gram, flat).astype(np.float32)  # (E, 3V)

    @property
    def num_vertices(self) -> int:
        return int(self.region_vertices.shape[0])

    @property
    def num_expressions(self) -> int:
        return int(self.basis.shape[0])

    def deform(self, coeffs: NDArray[np.floating], scale: float = 1.0) -> NDArray[np.float32]:
        """(N, E) or (E,) coefficients -> (N, V, 3) or (V, 3) region deformation (cm)."""
        array = np.asarray(coeffs, np.float32)
        flat = self.basis.reshape(self.basis.shape[0], -1)
        out = (array @ flat) * np.float32(scale)
        return out.reshape(*array.shape[:-1], self.num_vertices, 3)

    def project(
        self, deformation: NDArray[np.floating], *, clip: bool = True
    ) -> NDArray[np.float32]:
        """(N, V, 3) or (V, 3) deformation -> (N, E) or (E,) least-squares coefficients."""
        array = np.asarray(deformation, np.float32)
        flat = array.reshape(*array.shape[:-2], -1)
        coeffs = flat @ self.pseudo_inverse.T
        return np.clip(coeffs, 0.0, 1.0) if clip else coeffs.astype(np.float32)
