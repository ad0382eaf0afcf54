"""Low-order lighting of the source frame: 9 spherical-harmonic coefficients per colour.

The renderer can re-shade a re-posed face with ratio images: a texel's colour times
``shade(n_new) / shade(n_source)``, where ``shade(n) = sh_basis(n) · L`` for the camera-space
normals before and after the change. The albedo is folded into ``L`` (one colour per
channel, fitted on the visible skin), so ``shade`` is in 0–255 sRGB-ish units; only ratios
are meaningful.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["estimate_sh_lighting", "sh_basis", "shade"]


def sh_basis(normals: NDArray[np.floating]) -> NDArray[np.float64]:
    """(N, 9) real SH basis (bands 0-2, unnormalised) of unit normals (N, 3), camera space
    (+x image right, +y up, +z towards the camera)."""
    n = np.asarray(normals, np.float64)
    x, y, z = n[:, 0], n[:, 1], n[:, 2]
    return np.stack(
        [np.ones_like(x), y, z, x, x * y, y * z, 3.0 * z * z - 1.0, x * z, x * x - y * y], 1
    )


def shade(normals: NDArray[np.floating], lighting: NDArray[np.floating]) -> NDArray[np.float64]:
    """(N, 3) shading of normals (N, 3) under ``lighting`` (9, 3)."""
    return sh_basis(normals) @ np.asarray(lighting, np.float64)


def estimate_sh_lighting(
    normals: NDArray[np.floating],
    colours: NDArray[np.floating],
    weights: NDArray[np.floating] | None = None,
    *,
    ridge: float = 1e-3,
) -> NDArray[np.float32]:
    """Fit ``colours ≈ sh_basis(normals) · L`` by robust weighted least squares.

    Args:
        normals: (N, 3) unit camera-space normals of visible skin points.
        colours: (N, 3) their RGB values (0-255).
        weights: (N,) confidence (visibility); None = 1.
        ridge: Tikhonov weight on the band-1/2 coefficients relative to the data.

    Returns:
        (9, 3) float32 lighting coefficients ``L``.
    """
    basis = sh_basis(normals)
    target = np.asarray(colours, np.float64)
    w = np.ones(len(basis)) if weights is None else np.asarray(weights, np.float64)
    if basis.shape[0] < 9 or w.sum() <= 0:
        raise ValueError("need at least 9 weighted points to fit 9 SH coefficients")
    penalty = np.full(9, ridge * w.sum())
    penalty[0] = 0.0
    lighting: NDArray[np.floating] = np.zeros((9, 3))
    for _ in range(3):  # reweight: dark brows, lips and specular spots are outliers
        weighted = basis * w[:, None]
        normal = basis.T @ weighted + np.diag(penalty)
        lighting = np.linalg.solve(normal, weighted.T @ target)
        residual = np.linalg.norm(target - basis @ lighting, axis=1)
        scale = 1.4826 * np.median(residual) + 1e-6
        w = w * (1.0 / (1.0 + (residual / (2.0 * scale)) ** 2))
    return lighting.astype(np.float32)
