"""Per-pixel triangle ids and barycentrics for calibration (building the landmark
correspondence, unwrapping the texture), through the real-time renderer's z-buffer kernel
(``engines.render.rasterizer``), plus attribute interpolation. Pixel ``(row, col)``
samples the point ``(col + 0.5, row + 0.5)`` in image coordinates ``(u, w)``.
"""

from __future__ import annotations

import numba
import numpy as np
from numpy.typing import NDArray

from engines.render.rasterizer import Fragments, RasterBuffers
from engines.render.rasterizer import rasterize as render_rasterize

__all__ = ["Fragments", "interpolate", "rasterize"]


def rasterize(
    points: NDArray[np.floating],
    depth: NDArray[np.floating],
    faces: NDArray[np.integer],
    height: int,
    width: int,
    *,
    cull_backfaces: bool = False,
) -> Fragments:
    """Rasterize triangles given in pixel coordinates.

    Args:
        points: (V, 2) ``(u, w)`` pixel coordinates (column, row).
        depth: (V,) depth per vertex, larger is closer (constant for a flat UV-space render).
        faces: (F, 3) vertex indices.
        height: output rows.
        width: output columns.
        cull_backfaces: skip triangles whose model-space front faces away from the camera.

    Returns:
        The :class:`Fragments` of the nearest surface at every pixel.
    """
    if height <= 0 or width <= 0:
        raise ValueError(f"raster size must be positive, got {height}x{width}")
    faces32 = np.ascontiguousarray(faces, np.int32)
    buffers = RasterBuffers(int(height), int(width))
    # One z-buffer kernel for the whole project: the real-time renderer's (fresh buffers,
    # so the returned fragments are this call's own).
    return render_rasterize(
        np.ascontiguousarray(points, np.float32),
        np.ascontiguousarray(depth, np.float32),
        faces32,
        np.full(len(faces32), bool(cull_backfaces), np.bool_),
        buffers,
    )


def interpolate(
    fragments: Fragments, faces: NDArray[np.integer], attributes: NDArray[np.floating]
) -> NDArray[np.float32]:
    """Interpolate per-vertex attributes over the covered pixels.

    Args:
        fragments: the rasterizer output (H, W).
        faces: (F, 3) the faces that were rasterized.
        attributes: (V, C) per-vertex values.

    Returns:
        (H, W, C) float32, zeros where no triangle covers the pixel.
    """
    tri = fragments.triangle
    out = np.zeros((*tri.shape, attributes.shape[1]), np.float32)
    _interpolate_kernel(
        tri,
        fragments.barycentric,
        np.ascontiguousarray(faces, np.int32),
        np.ascontiguousarray(attributes, np.float32),
        out,
    )
    return out


@numba.njit(cache=True, nogil=True)
def _interpolate_kernel(
    triangle: NDArray[np.int32],
    bary: NDArray[np.float32],
    faces: NDArray[np.int32],
    attributes: NDArray[np.float32],
    out: NDArray[np.float32],
) -> None:
    height, width = triangle.shape
    channels = attributes.shape[1]
    for row in range(height):
        for col in range(width):
            f = triangle[row, col]
            if f < 0:
                continue
            i0, i1, i2 = faces[f, 0], faces[f, 1], faces[f, 2]
            b0, b1, b2 = bary[row, col, 0], bary[row, col, 1], bary[row, col, 2]
            for c in range(channels):
                out[row, col, c] = (
                    b0 * attributes[i0, c] + b1 * attributes[i1, c] + b2 * attributes[i2, c]
                )
