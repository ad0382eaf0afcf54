"""A small z-buffer triangle rasterizer (numba) giving per-pixel triangle ids and barycentrics.

Used by calibration only (building the landmark correspondence and unwrapping the texture);
the real-time renderer lives in ``engines.render``. Pixel ``(row, col)`` samples the point
``(col + 0.5, row + 0.5)`` in image coordinates ``(u, w)``.
"""

from __future__ import annotations

import numba
import numpy as np
from numpy.typing import NDArray

from engines.render.rasterizer import Fragments  # one Fragments type for both rasterizers

__all__ = ["Fragments", "interpolate", "rasterize"]


@numba.njit(cache=True, nogil=True)
def _raster_kernel(
    points: NDArray[np.float64],
    depth: NDArray[np.float64],
    faces: NDArray[np.int32],
    height: int,
    width: int,
    cull_backfaces: bool,
    triangle_out: NDArray[np.int32],
    bary_out: NDArray[np.float32],
    depth_out: NDArray[np.float32],
) -> None:
    for f in range(faces.shape[0]):
        i0, i1, i2 = faces[f, 0], faces[f, 1], faces[f, 2]
        x0, y0 = points[i0, 0], points[i0, 1]
        x1, y1 = points[i1, 0], points[i1, 1]
        x2, y2 = points[i2, 0], points[i2, 1]
        area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
        if area == 0.0 or not np.isfinite(area):
            continue
        # Image rows grow downwards: a triangle counter-clockwise in model space (facing
        # the camera) has negative signed area here.
        if cull_backfaces and area > 0.0:
            continue
        xmin = max(int(np.floor(min(x0, x1, x2) - 0.5)), 0)
        xmax = min(int(np.ceil(max(x0, x1, x2) - 0.5)), width - 1)
        ymin = max(int(np.floor(min(y0, y1, y2) - 0.5)), 0)
        ymax = min(int(np.ceil(max(y0, y1, y2) - 0.5)), height - 1)
        if xmin > xmax or ymin > ymax:
            continue
        inv_area = 1.0 / area
        z0, z1, z2 = depth[i0], depth[i1], depth[i2]
        for row in range(ymin, ymax + 1):
            py = row + 0.5
            for col in range(xmin, xmax + 1):
                px = col + 0.5
                b0 = ((x1 - px) * (y2 - py) - (x2 - px) * (y1 - py)) * inv_area
                b1 = ((x2 - px) * (y0 - py) - (x0 - px) * (y2 - py)) * inv_area
                b2 = 1.0 - b0 - b1
                if b0 < -1e-7 or b1 < -1e-7 or b2 < -1e-7:
                    continue
                z = b0 * z0 + b1 * z1 + b2 * z2
                if z > depth_out[row, col]:
                    depth_out[row, col] = z
                    triangle_out[row, col] = f
                    bary_out[row, col, 0] = b0
                    bary_out[row, col, 1] = b1
                    bary_out[row, col, 2] = b2


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
    triangle = np.full((height, width), -1, np.int32)
    bary = np.zeros((height, width, 3), np.float32)
    zbuf = np.full((height, width), -np.inf, np.float32)
    _raster_kernel(
        np.ascontiguousarray(points, np.float64),
        np.ascontiguousarray(depth, np.float64),
        np.ascontiguousarray(faces, np.int32),
        int(height),
        int(width),
        bool(cull_backfaces),
        triangle,
        bary,
        zbuf,
    )
    return Fragments(triangle=triangle, barycentric=bary, depth=zbuf)


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
