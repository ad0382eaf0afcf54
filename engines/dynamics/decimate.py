"""Quadric edge collapse with subset placement (Garland & Heckbert 1997), as COMA and
Neural3DMM down-sample their meshes.

Every vertex carries the quadric of the planes of its triangles (area-weighted) plus, on the
mesh border, planes perpendicular to the border (``boundary_weight``) so that eye, mouth and
outer outlines keep their shape. An edge (u, v) collapses u *into* v: v stays where it is (the
kept vertices are a subset of the input, so down-sampling is a selection and the coarse mesh
lives on the fine one), at the cost ``[v, 1]ᵀ (Q_u + Q_v) [v, 1]``; the cheaper direction wins.
A collapse is refused when it would break the surface: the link condition (the two vertices
share exactly the one or two vertices opposite the edge), a border vertex moved off the border
or two borders pinched together, or a triangle flipped (its normal turned by more than 90°).
Refused edges are looked at again whenever their neighbourhood changes.

Pure numpy + heapq; deterministic (ties are broken by vertex indices).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from engines.dynamics.exceptions import HierarchyError

__all__ = ["Decimation", "decimate"]


@dataclass(frozen=True)
class Decimation:
    """The result of decimating a triangle mesh.

    Attributes:
        kept: (V_c,) int64 indices into the input vertices, ascending.
        faces: (F_c, 3) int64 triangles of the coarse mesh, indexing ``kept`` (0..V_c-1).
    """

    kept: NDArray[np.int64]
    faces: NDArray[np.int64]


def _face_planes(vertices: NDArray[np.float64], faces: NDArray[np.int64]) -> NDArray[np.float64]:
    """(F, 4) unit plane ``(n, d)`` of every triangle, scaled by sqrt(area)."""
    a, b, c = vertices[faces[:, 0]], vertices[faces[:, 1]], vertices[faces[:, 2]]
    cross = np.cross(b - a, c - a)
    double_area = np.linalg.norm(cross, axis=1)
    normal = cross / np.maximum(double_area, 1e-20)[:, None]
    d = -np.einsum("ij,ij->i", normal, a)
    planes = np.concatenate([normal, d[:, None]], axis=1)
    return planes * np.sqrt(0.5 * double_area)[:, None]


def _quadrics(
    vertices: NDArray[np.float64], faces: NDArray[np.int64], boundary_weight: float
) -> NDArray[np.float64]:
    """(V, 4, 4) vertex quadrics: face planes plus border-constraint planes."""
    planes = _face_planes(vertices, faces)
    face_q = np.einsum("fi,fj->fij", planes, planes)
    quadrics = np.zeros((len(vertices), 4, 4))
    for corner in range(3):
        np.add.at(quadrics, faces[:, corner], face_q)
    if boundary_weight > 0:
        for (u, v), face in _boundary_edges(faces).items():
            a, b = vertices[u], vertices[v]
            tri = vertices[faces[face]]
            face_normal = np.cross(tri[1] - tri[0], tri[2] - tri[0])
            edge = b - a
            normal = np.cross(edge, face_normal)
            length = np.linalg.norm(normal)
            if length < 1e-20:
                continue
            normal /= length
            plane = np.append(normal, -normal @ a) * np.sqrt(boundary_weight) * np.linalg.norm(edge)
            q = np.outer(plane, plane)
            quadrics[u] += q
            quadrics[v] += q
    return quadrics


def _boundary_edges(faces: NDArray[np.int64]) -> dict[tuple[int, int], int]:
    """Edges used by exactly one triangle -> that triangle (in first-seen order)."""
    count: dict[tuple[int, int], int] = {}
    owner: dict[tuple[int, int], int] = {}
    for index, (a, b, c) in enumerate(faces.tolist()):
        for u, v in ((a, b), (b, c), (c, a)):
            key = (u, v) if u < v else (v, u)
            count[key] = count.get(key, 0) + 1
            owner.setdefault(key, index)
    return {edge: owner[edge] for edge, n in count.items() if n == 1}


class _Mesh:
    """Mutable triangle soup with vertex -> triangle incidence, for collapsing edges."""

    def __init__(self, vertices: NDArray[np.float64], faces: NDArray[np.int64]) -> None:
        self.vertices = vertices
        self.faces: list[list[int] | None] = [list(f) for f in faces.tolist()]
        self.incident: list[set[int]] = [set() for _ in range(len(vertices))]
        for index, face in enumerate(self.faces):
            assert face is not None
            for corner in face:
                self.incident[corner].add(index)
        self.alive = np.ones(len(vertices), bool)
        self.alive[[i for i, faces_of in enumerate(self.incident) if not faces_of]] = False
        self.border = np.zeros(len(vertices), bool)
        for u, v in _boundary_edges(faces):
            self.border[u] = self.border[v] = True

    def neighbours(self, vertex: int) -> set[int]:
        out: set[int] = set()
        for face_index in self.incident[vertex]:
            face = self.faces[face_index]
            assert face is not None
            out.update(face)
        out.discard(vertex)
        return out

    def edge_faces(self, u: int, v: int) -> list[int]:
        return sorted(self.incident[u] & self.incident[v])

    def is_border_edge(self, u: int, v: int) -> bool:
        return len(self.edge_faces(u, v)) == 1

    def can_collapse(self, u: int, v: int) -> bool:
        """Whether u may be merged into v without breaking the surface."""
        shared = self.edge_faces(u, v)
        if not shared:
            return False
        opposite: set[int] = set()
        for face_index in shared:
            face = self.faces[face_index]
            assert face is not None
            opposite.update(x for x in face if x not in (u, v))
        if self.neighbours(u) & self.neighbours(v) != opposite:
            return False  # link condition
        if self.border[u] and not (self.border[v] and len(shared) == 1):
            return False  # a border vertex moves only along its border edge
        if len(self.incident[u]) + len(self.incident[v]) - len(shared) < 3:
            return False  # would leave a degenerate fan
        position = self.vertices[v]
        for face_index in self.incident[u] - set(shared):
            face = self.faces[face_index]
            assert face is not None
            corners = self.vertices[face]
            before = np.cross(corners[1] - corners[0], corners[2] - corners[0])
            moved = corners.copy()
            moved[face.index(u)] = position
            after = np.cross(moved[1] - moved[0], moved[2] - moved[0])
            if float(before @ after) <= 0.0:
                return False  # flipped or degenerate triangle
        return True

    def collapse(self, u: int, v: int) -> None:
        """Merge u into v (triangles on the edge disappear)."""
        for face_index in sorted(self.incident[u]):
            face = self.faces[face_index]
            assert face is not None
            if v in face:
                for corner in face:
                    self.incident[corner].discard(face_index)
                self.faces[face_index] = None
            else:
                face[face.index(u)] = v
                self.incident[v].add(face_index)
        self.incident[u] = set()
        self.alive[u] = False
        if self.border[u]:
            self.border[v] = True


def decimate(
    vertices: NDArray[np.floating],
    faces: NDArray[np.integer],
    target_vertices: int,
    *,
    boundary_weight: float = 100.0,
) -> Decimation:
    """Collapse edges of a triangle mesh until ``target_vertices`` vertices remain.

    Args:
        vertices: (V, 3) positions.
        faces: (F, 3) triangles (consistently oriented).
        target_vertices: vertices to keep (>= 4, < V).
        boundary_weight: weight of the border-preserving planes.

    Returns:
        the kept vertex indices and the coarse triangles (see :class:`Decimation`).

    Raises:
        HierarchyError: bad input, or the mesh cannot be reduced that far without breaking.
    """
    positions = np.asarray(vertices, np.float64)
    triangles = np.asarray(faces, np.int64)
    if positions.ndim != 2 or positions.shape[1] != 3:
        raise HierarchyError(f"vertices must be (V, 3), got {positions.shape}")
    if triangles.ndim != 2 or triangles.shape[1] != 3 or len(triangles) == 0:
        raise HierarchyError(f"faces must be (F, 3) and non-empty, got {triangles.shape}")
    if triangles.min() < 0 or triangles.max() >= len(positions):
        raise HierarchyError("faces index vertices that do not exist")
    mesh = _Mesh(positions, triangles)
    alive_count = int(mesh.alive.sum())
    if not 4 <= target_vertices < alive_count:
        raise HierarchyError(
            f"target_vertices must be in [4, {alive_count}), got {target_vertices}"
        )
    quadrics = _quadrics(positions, triangles, boundary_weight)
    homogeneous = np.concatenate([positions, np.ones((len(positions), 1))], axis=1)
    stamp = np.zeros(len(positions), np.int64)
    heap: list[tuple[float, int, int, int, int]] = []

    def push_edges(vertex: int) -> None:
        for other in sorted(mesh.neighbours(vertex)):
            merged = quadrics[vertex] + quadrics[other]
            a, b = (vertex, other) if vertex < other else (other, vertex)
            cost_ab = float(homogeneous[b] @ merged @ homogeneous[b])  # a into b
            cost_ba = float(homogeneous[a] @ merged @ homogeneous[a])  # b into a
            u, v, cost = (a, b, cost_ab) if cost_ab <= cost_ba else (b, a, cost_ba)
            heapq.heappush(heap, (cost, u, v, int(stamp[u]), int(stamp[v])))

    for vertex in np.flatnonzero(mesh.alive).tolist():
        for other in sorted(mesh.neighbours(vertex)):
            if other > vertex:
                merged = quadrics[vertex] + quadrics[other]
                cost_into_other = float(homogeneous[other] @ merged @ homogeneous[other])
                cost_into_vertex = float(homogeneous[vertex] @ merged @ homogeneous[vertex])
                if cost_into_other <= cost_into_vertex:
                    heapq.heappush(heap, (cost_into_other, vertex, other, 0, 0))
                else:
                    heapq.heappush(heap, (cost_into_vertex, other, vertex, 0, 0))
    while alive_count > target_vertices and heap:
        _, u, v, stamp_u, stamp_v = heapq.heappop(heap)
        if not (mesh.alive[u] and mesh.alive[v]):
            continue
        if stamp[u] != stamp_u or stamp[v] != stamp_v:
            continue  # the neighbourhood changed since this entry was pushed
        if not mesh.can_collapse(u, v):
            continue
        touched = mesh.neighbours(u) | mesh.neighbours(v)
        mesh.collapse(u, v)
        quadrics[v] += quadrics[u]
        alive_count -= 1
        stamp[v] += 1
        for vertex in sorted(touched - {u}):
            stamp[vertex] += 1
        for vertex in sorted(touched - {u}):
            push_edges(vertex)
    if alive_count > target_vertices:
        raise HierarchyError(
            f"decimation stopped at {alive_count} vertices (target {target_vertices}): no edge "
            "can collapse without breaking the surface"
        )
    kept = np.flatnonzero(mesh.alive).astype(np.int64)
    remap = np.full(len(positions), -1, np.int64)
    remap[kept] = np.arange(len(kept))
    coarse = np.array([f for f in mesh.faces if f is not None], np.int64).reshape(-1, 3)
    return Decimation(kept, remap[coarse])
