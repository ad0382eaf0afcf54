"""Spiral sequences of a triangle mesh (Bouritsas et al. 2019, "Neural 3D Morphable Models").

A spiral starts at a vertex and winds outwards through its rings: the vertex, its 1-ring, its
2-ring, ... cut to a fixed length. Neural3DMM walks each ring along the mesh's edges starting
from a reference neighbour; here each ring is ordered by angle around the vertex normal,
counter-clockwise, starting from the direction of the model's +y axis (up) projected onto the
tangent plane. On a manifold patch both give the same cyclic order of a ring; the angular one
needs no special case at borders (the eyes, the mouth, the outline), and the fixed reference
direction makes every spiral start "above" its vertex, the consistent orientation the spiral
operator relies on. Spirals shorter than the length (tiny coarse meshes near a border) are
padded with the centre vertex.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from engines.dynamics.exceptions import HierarchyError

__all__ = ["adjacency", "spiral_indices", "vertex_normals"]

_MAX_RINGS = 6


def adjacency(num_vertices: int, faces: NDArray[np.integer]) -> list[list[int]]:
    """Sorted neighbour lists of every vertex."""
    neighbours: list[set[int]] = [set() for _ in range(num_vertices)]
    for a, b, c in np.asarray(faces, np.int64).tolist():
        neighbours[a].update((b, c))
        neighbours[b].update((a, c))
        neighbours[c].update((a, b))
    return [sorted(n) for n in neighbours]


def vertex_normals(
    vertices: NDArray[np.floating], faces: NDArray[np.integer]
) -> NDArray[np.float64]:
    """(V, 3) area-weighted unit vertex normals."""
    positions = np.asarray(vertices, np.float64)
    triangles = np.asarray(faces, np.int64)
    corners = positions[triangles]
    face_normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    normals = np.zeros_like(positions)
    for corner in range(3):
        np.add.at(normals, triangles[:, corner], face_normals)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return normals / np.maximum(length, 1e-20)


def _ring_order(
    centre: NDArray[np.float64],
    normal: NDArray[np.float64],
    ring: list[int],
    positions: NDArray[np.float64],
) -> list[int]:
    """``ring`` sorted counter-clockwise around ``normal`` from the projected +y axis."""
    reference = np.array([0.0, 1.0, 0.0])
    if abs(float(reference @ normal)) > 0.95:
        reference = np.array([1.0, 0.0, 0.0])
    up = reference - (reference @ normal) * normal
    up /= np.linalg.norm(up)
    side = np.cross(normal, up)
    offsets = positions[ring] - centre
    angle = np.arctan2(offsets @ side, offsets @ up)
    angle = np.where(angle < -1e-9, angle + 2 * np.pi, angle)
    order = np.lexsort((np.asarray(ring), angle))
    return [ring[i] for i in order]


def spiral_indices(
    vertices: NDArray[np.floating], faces: NDArray[np.integer], length: int
) -> NDArray[np.int64]:
    """(V, length) spiral of every vertex: itself, then its rings in angular order.

    Raises:
        HierarchyError: a vertex belongs to no triangle.
    """
    positions = np.asarray(vertices, np.float64)
    neighbours = adjacency(len(positions), faces)
    normals = vertex_normals(positions, faces)
    out = np.empty((len(positions), length), np.int64)
    for vertex in range(len(positions)):
        if not neighbours[vertex]:
            raise HierarchyError(f"vertex {vertex} belongs to no triangle")
        spiral = [vertex]
        seen = {vertex}
        frontier = [vertex]
        for _ in range(_MAX_RINGS):
            if len(spiral) >= length:
                break
            ring = sorted({n for f in frontier for n in neighbours[f]} - seen)
            if not ring:
                break
            ordered = _ring_order(positions[vertex], normals[vertex], ring, positions)
            spiral.extend(ordered)
            seen.update(ring)
            frontier = ring
        spiral = spiral[:length] + [vertex] * max(0, length - len(spiral))
        out[vertex] = spiral
    return out
