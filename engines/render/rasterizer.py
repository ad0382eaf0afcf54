"""Z-buffer triangle rasterizer (numba, one thread): per-pixel triangle id, barycentrics, depth.

Pixel ``(row, col)`` samples the continuous image point ``(col + 0.5, row + 0.5)``; image
rows grow downwards, depth grows towards the camera (larger wins).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from numpy.typing import NDArray

__all__ = ["Fragments", "RasterBuffers", "rasterize"]


@dataclass(frozen=True)
class Fragments:
    """What the rasterizer saw at each pixel (views into reused buffers: copy to keep).

    Attributes:
        triangle: (H, W) int32 index into the rasterized triangles, -1 where empty.
        barycentric: (H, W, 3) float32 weights of the triangle's three corners.
        depth: (H, W) float32 depth of the nearest surface (larger is closer), -inf where empty.
    """

    triangle: NDArray[np.int32]
    barycentric: NDArray[np.float32]
    depth: NDArray[np.float32]


class RasterBuffers:
    """Output buffers of one raster size, allocated once and reused every frame."""

    def __init__(self, height: int, width: int) -> None:
        self.height = int(height)
        self.width = int(width)
        self.triangle = np.full((height, width), -1, np.int32)
        self.barycentric = np.zeros((height, width, 3), np.float32)
        self.depth = np.full((height, width), -np.inf, np.float32)

    def fragments(self) -> Fragments:
        return Fragments(self.triangle, self.barycentric, self.depth)


@numba.njit(cache=True, nogil=True, fastmath=True)
def _raster_kernel(
    points: NDArray[np.float32],
    depth: NDArray[np.float32],
    faces: NDArray[np.int32],
    cull: NDArray[np.bool_],
    group: NDArray[np.int8],
    group_box: NDArray[np.float32],
    triangle_out: NDArray[np.int32],
    bary_out: NDArray[np.float32],
    depth_out: NDArray[np.float32],
) -> None:
    height, width = triangle_out.shape
    triangle_out[:] = -1
    depth_out[:] = -np.inf
    half = np.float32(0.5)
    eps = np.float32(-1e-4)  # closes hairline cracks between neighbouring triangles
    for f in range(faces.shape[0]):
        i0, i1, i2 = faces[f, 0], faces[f, 1], faces[f, 2]
        x0, y0 = points[i0, 0], points[i0, 1]
        x1, y1 = points[i1, 0], points[i1, 1]
        x2, y2 = points[i2, 0], points[i2, 1]
        lo_x = min(x0, min(x1, x2))
        hi_x = max(x0, max(x1, x2))
        lo_y = min(y0, min(y1, y2))
        hi_y = max(y0, max(y1, y2))
        # Pixel centres (c + 0.5) inside the bounding box; most triangles here are about a
        # pixel large and many contain no centre at all: leave before any other work.
        xmin = max(int(np.ceil(lo_x - half)), 0)
        xmax = min(int(np.floor(hi_x - half)), width - 1)
        ymin = max(int(np.ceil(lo_y - half)), 0)
        ymax = min(int(np.floor(hi_y - half)), height - 1)
        if xmin > xmax or ymin > ymax:
            continue
        g = group[f]
        # Only visible through an opening (mouth, eye): skip outside its box.
        if g > 0 and (
            hi_x < group_box[g, 0]
            or lo_x > group_box[g, 2]
            or hi_y < group_box[g, 1]
            or lo_y > group_box[g, 3]
        ):
            continue
        area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
        # Image rows grow downwards: a triangle counter-clockwise in model space (facing the
        # camera) has a negative signed area here.
        if cull[f] and area >= 0.0:
            continue
        if area == 0.0 or not np.isfinite(area):
            continue
        inv_area = np.float32(1.0) / area
        z0, z1, z2 = depth[i0], depth[i1], depth[i2]
        # Edge functions, linear in (px, py): b = a + bx * px + by * py.
        a0 = (x1 * y2 - x2 * y1) * inv_area
        bx0 = (y1 - y2) * inv_area
        by0 = (x2 - x1) * inv_area
        a1 = (x2 * y0 - x0 * y2) * inv_area
        bx1 = (y2 - y0) * inv_area
        by1 = (x0 - x2) * inv_area
        for row in range(ymin, ymax + 1):
            py = np.float32(row) + half
            px0 = np.float32(xmin) + half
            w0 = a0 + bx0 * px0 + by0 * py
            w1 = a1 + bx1 * px0 + by1 * py
            for col in range(xmin, xmax + 1):
                w2 = np.float32(1.0) - w0 - w1
                if w0 >= eps and w1 >= eps and w2 >= eps:
                    z = w0 * z0 + w1 * z1 + w2 * z2
                    if z > depth_out[row, col]:
                        depth_out[row, col] = z
                        triangle_out[row, col] = f
                        bary_out[row, col, 0] = w0
                        bary_out[row, col, 1] = w1
                        bary_out[row, col, 2] = w2
                w0 += bx0
                w1 += bx1


def rasterize(
    points: NDArray[np.float32],
    depth: NDArray[np.float32],
    faces: NDArray[np.int32],
    cull: NDArray[np.bool_],
    buffers: RasterBuffers,
    group: NDArray[np.int8] | None = None,
    group_box: NDArray[np.float32] | None = None,
) -> Fragments:
    """Rasterize triangles given in raster pixel coordinates into ``buffers``.

    Args:
        points: (V, 2) float32 ``(u, w)`` continuous pixel coordinates (column, row).
        depth: (V,) float32 depth per vertex, larger is closer.
        faces: (F, 3) int32 vertex indices.
        cull: (F,) bool, True = skip the triangle when it faces away from the camera.
        buffers: reused output buffers.
        group: (F,) int8, 0 = always drawn; g > 0 = drawn only where the triangle's bounding
            box meets ``group_box[g]`` (surfaces seen only through an opening of the mesh in
            front of them: the mouth interior through the lips, an eyeball through the lids).
        group_box: (G, 4) float32 ``(u_min, w_min, u_max, w_max)`` per group (row 0 unused).

    Returns:
        The :class:`Fragments` of the nearest surface at every pixel (views into ``buffers``).
    """
    if group is None or group_box is None:
        group = np.zeros(faces.shape[0], np.int8)
        group_box = np.zeros((1, 4), np.float32)
    _raster_kernel(
        points,
        depth,
        faces,
        cull,
        group,
        group_box,
        buffers.triangle,
        buffers.barycentric,
        buffers.depth,
    )
    return buffers.fragments()
