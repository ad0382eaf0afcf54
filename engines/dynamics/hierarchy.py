"""The spiral decoder's mesh hierarchy: levels, spirals and up-sampling, computed once.

Level 0 is the decoder region of the ICT mesh (``HierarchyConfig.region``, the skin of the
face); each further level is the previous one decimated by its factor with quadric edge
collapse (:mod:`engines.dynamics.decimate`). As in COMA / Neural3DMM:

- down-sampling level l-1 -> l keeps a subset of the vertices (a selection matrix);
- up-sampling level l -> l-1 places every fine vertex by the barycentric coordinates of its
  projection onto the closest triangle of the coarse mesh (a kept vertex copies itself);
- every level has its spirals (:mod:`engines.dynamics.spirals`).

The arrays are derived from the face model the user fetched, so they live in the project's
cache (``<cache>/dynamics/``), never in the repository. A checkpoint records the
:attr:`MeshHierarchy.fingerprint` (a SHA-256 of the topology and weights, which carries no
geometry) and refuses a hierarchy that differs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray

from engines.dynamics.config import HierarchyConfig
from engines.dynamics.decimate import decimate
from engines.dynamics.exceptions import HierarchyError
from engines.dynamics.spirals import spiral_indices
from engines.face_model.assets import cache_root
from engines.face_model.ict import FaceModelData

__all__ = [
    "HIERARCHY_VERSION",
    "MeshHierarchy",
    "build_hierarchy",
    "hierarchy_cache_file",
    "load_hierarchy",
]

logger = logging.getLogger(__name__)

HIERARCHY_VERSION = 1
_CANDIDATE_TRIANGLES = 16


@dataclass(frozen=True)
class MeshHierarchy:
    """Levels 0 (finest) .. L (coarsest) of the decoder mesh.

    Attributes:
        config: how it was built.
        region_vertices: (V_0,) int64 ICT vertex index of every level-0 vertex.
        level_vertices: per level, (V_l,) int64 indices into level 0 of its vertices.
        faces: per level, (F_l, 3) int64 triangles (indexing that level's vertices).
        spirals: per level, (V_l, S) int64 spiral sequences.
        up_rows, up_cols, up_values: per l = 1..L, the (V_{l-1}, V_l) up-sampling matrix in
            COO form (three entries per fine vertex).
        fingerprint: SHA-256 (hex) of everything above except positions (none are stored).
    """

    config: HierarchyConfig
    region_vertices: NDArray[np.int64]
    level_vertices: tuple[NDArray[np.int64], ...]
    faces: tuple[NDArray[np.int64], ...]
    spirals: tuple[NDArray[np.int64], ...]
    up_rows: tuple[NDArray[np.int64], ...]
    up_cols: tuple[NDArray[np.int64], ...]
    up_values: tuple[NDArray[np.float32], ...]
    fingerprint: str

    @property
    def num_levels(self) -> int:
        """Levels including level 0 (= number of down-samplings + 1)."""
        return len(self.level_vertices)

    def sizes(self) -> tuple[int, ...]:
        return tuple(int(v.shape[0]) for v in self.level_vertices)

    def up_matrix(self, level: int) -> torch.Tensor:
        """Sparse (V_{level-1}, V_level) float32 up-sampling matrix, ``level`` in 1..L."""
        if not 1 <= level < self.num_levels:
            raise ValueError(f"level must be in [1, {self.num_levels - 1}], got {level}")
        k = level - 1
        shape = (self.sizes()[level - 1], self.sizes()[level])
        indices = torch.from_numpy(np.stack([self.up_rows[k], self.up_cols[k]]))
        values = torch.from_numpy(self.up_values[k])
        return torch.sparse_coo_tensor(indices, values, shape, check_invariants=True).coalesce()


def _closest_on_triangles(
    points: NDArray[np.float64], a: NDArray[np.float64], b: NDArray[np.float64],
    c: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:  # fmt: skip
    """Squared distance (N,) and barycentric coordinates (N, 3) of the closest point of each
    triangle (a[i], b[i], c[i]) to points[i]: the projection if it falls inside, else the
    closest point of the three edges."""
    ab, ac = b - a, c - a
    ap = points - a
    d00 = np.einsum("ij,ij->i", ab, ab)
    d01 = np.einsum("ij,ij->i", ab, ac)
    d11 = np.einsum("ij,ij->i", ac, ac)
    d20 = np.einsum("ij,ij->i", ap, ab)
    d21 = np.einsum("ij,ij->i", ap, ac)
    denominator = np.maximum(d00 * d11 - d01 * d01, 1e-30)
    v = (d11 * d20 - d01 * d21) / denominator
    w = (d00 * d21 - d01 * d20) / denominator
    bary = np.stack([1.0 - v - w, v, w], axis=1)
    inside = (bary >= 0).all(axis=1)
    best_bary = bary.copy()
    projected = a + ab * v[:, None] + ac * w[:, None]
    best_dist = np.einsum("ij,ij->i", points - projected, points - projected)
    outside = ~inside
    if outside.any():
        best_dist[outside] = np.inf
        corners = (a, b, c)
        for i, j in ((0, 1), (1, 2), (2, 0)):
            start, end = corners[i], corners[j]
            edge = end - start
            t = np.einsum("ij,ij->i", points - start, edge) / np.maximum(
                np.einsum("ij,ij->i", edge, edge), 1e-30
            )
            t = np.clip(t, 0.0, 1.0)
            closest = start + edge * t[:, None]
            dist = np.einsum("ij,ij->i", points - closest, points - closest)
            better = outside & (dist < best_dist)
            edge_bary = np.zeros_like(bary)
            edge_bary[:, i] = 1.0 - t
            edge_bary[:, j] = t
            best_bary[better] = edge_bary[better]
            best_dist[better] = dist[better]
    return best_dist, best_bary


def _upsampling(
    fine: NDArray[np.float64], coarse: NDArray[np.float64], coarse_faces: NDArray[np.int64],
    kept: NDArray[np.int64],
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float32]]:  # fmt: skip
    """COO (rows, cols, values) of the (V_f, V_c) barycentric up-sampling matrix."""
    from scipy.spatial import cKDTree

    centroids = coarse[coarse_faces].mean(axis=1)
    k = min(_CANDIDATE_TRIANGLES, len(coarse_faces))
    _, candidates = cKDTree(centroids).query(fine, k=k)
    candidates = np.asarray(candidates).reshape(len(fine), k)
    best = np.full(len(fine), np.inf)
    best_face = np.zeros(len(fine), np.int64)
    best_bary = np.zeros((len(fine), 3))
    for column in range(k):
        tri = coarse_faces[candidates[:, column]]
        dist, bary = _closest_on_triangles(fine, coarse[tri[:, 0]], coarse[tri[:, 1]],
                                           coarse[tri[:, 2]])  # fmt: skip
        better = dist < best - 1e-15
        best[better] = dist[better]
        best_face[better] = candidates[better, column]
        best_bary[better] = bary[better]
    cols = coarse_faces[best_face]  # (V_f, 3)
    values = best_bary
    # a kept vertex copies itself exactly
    values[kept] = 0.0
    cols[kept] = np.arange(len(kept))[:, None]
    values[kept, 0] = 1.0
    rows = np.repeat(np.arange(len(fine)), 3)
    return rows.astype(np.int64), cols.reshape(-1).astype(np.int64), values.reshape(-1).astype(
        np.float32
    )


def _fingerprint(parts: list[NDArray[np.generic]]) -> str:
    digest = hashlib.sha256(f"hierarchy-v{HIERARCHY_VERSION}".encode())
    for part in parts:
        array = np.ascontiguousarray(part)
        if array.dtype.kind == "f":
            array = np.round(array.astype(np.float64), 4)
        digest.update(str(array.shape).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def build_hierarchy(model: FaceModelData, config: HierarchyConfig | None = None) -> MeshHierarchy:
    """Decimate the decoder region of ``model``'s generic neutral mesh level by level.

    Raises:
        HierarchyError: unknown region, or a level cannot be reached.
    """
    config = config or HierarchyConfig()
    if config.region not in model.vertex_ranges or config.region not in model.face_ranges:
        raise HierarchyError(
            f"unknown region {config.region!r}; valid: {', '.join(sorted(model.face_ranges))}"
        )
    started = time.perf_counter()
    first, stop = model.vertex_ranges[config.region]
    region = np.arange(first, stop, dtype=np.int64)
    faces = model.faces_of(config.region).astype(np.int64) - first
    if faces.min() < 0 or faces.max() >= len(region):
        raise HierarchyError(f"region {config.region!r} has triangles outside its vertices")
    positions = model.neutral[region].astype(np.float64)
    level_vertices = [np.arange(len(region), dtype=np.int64)]
    level_faces = [faces]
    up_rows, up_cols, up_values = [], [], []
    current_positions = positions
    for factor in config.factors:
        target = max(4, int(np.ceil(len(current_positions) / factor)))
        result = decimate(current_positions, level_faces[-1], target,
                          boundary_weight=config.boundary_weight)  # fmt: skip
        coarse_positions = current_positions[result.kept]
        rows, cols, values = _upsampling(current_positions, coarse_positions, result.faces,
                                         result.kept)  # fmt: skip
        up_rows.append(rows)
        up_cols.append(cols)
        up_values.append(values)
        level_vertices.append(level_vertices[-1][result.kept])
        level_faces.append(result.faces)
        current_positions = coarse_positions
    spirals = [
        spiral_indices(positions[vertices], level_faces[k], config.spiral_length)
        for k, vertices in enumerate(level_vertices)
    ]
    fingerprint = _fingerprint(
        [region, *level_vertices, *level_faces, *spirals, *up_rows, *up_cols, *up_values]
    )
    logger.info(
        "mesh hierarchy %s built in %.1f s", [len(v) for v in level_vertices],
        time.perf_counter() - started,
    )  # fmt: skip
    return MeshHierarchy(
        config, region, tuple(level_vertices), tuple(level_faces), tuple(spirals),
        tuple(up_rows), tuple(up_cols), tuple(up_values), fingerprint,
    )  # fmt: skip


def hierarchy_cache_file(model: FaceModelData, config: HierarchyConfig) -> Path:
    """``<cache>/dynamics/hierarchy_<commit10>_<config hash>_v<version>.npz``."""
    key = hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True).encode()).hexdigest()[:10]
    commit = (model.commit or "unknown")[:10]
    return cache_root() / "dynamics" / f"hierarchy_{commit}_{key}_v{HIERARCHY_VERSION}.npz"


def _save(hierarchy: MeshHierarchy, path: Path) -> None:
    arrays: dict[str, NDArray[np.generic]] = {"region_vertices": hierarchy.region_vertices}
    for k in range(hierarchy.num_levels):
        arrays[f"level{k}_vertices"] = hierarchy.level_vertices[k]
        arrays[f"level{k}_faces"] = hierarchy.faces[k]
        arrays[f"level{k}_spirals"] = hierarchy.spirals[k]
    for k in range(hierarchy.num_levels - 1):
        arrays[f"up{k + 1}_rows"] = hierarchy.up_rows[k]
        arrays[f"up{k + 1}_cols"] = hierarchy.up_cols[k]
        arrays[f"up{k + 1}_values"] = hierarchy.up_values[k]
    meta = {"config": hierarchy.config.to_dict(), "fingerprint": hierarchy.fingerprint,
            "levels": hierarchy.num_levels}  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part.npz")
    np.savez(partial, meta=np.array(json.dumps(meta)), **arrays)  # type: ignore[arg-type]
    partial.replace(path)


def _read(path: Path) -> MeshHierarchy:
    with np.load(path, allow_pickle=False) as archive:
        meta = json.loads(str(archive["meta"]))
        levels = int(meta["levels"])
        hierarchy = MeshHierarchy(
            HierarchyConfig.from_dict(meta["config"]),
            archive["region_vertices"],
            tuple(archive[f"level{k}_vertices"] for k in range(levels)),
            tuple(archive[f"level{k}_faces"] for k in range(levels)),
            tuple(archive[f"level{k}_spirals"] for k in range(levels)),
            tuple(archive[f"up{k}_rows"] for k in range(1, levels)),
            tuple(archive[f"up{k}_cols"] for k in range(1, levels)),
            tuple(archive[f"up{k}_values"] for k in range(1, levels)),
            str(meta["fingerprint"]),
        )
    return hierarchy


def load_hierarchy(
    model: FaceModelData, config: HierarchyConfig | None = None, *, cache: bool = True
) -> MeshHierarchy:
    """The hierarchy of ``model`` from the cache, building (and caching) it the first time
    (about 5 s)."""
    config = config or HierarchyConfig()
    path = hierarchy_cache_file(model, config)
    if cache and path.is_file():
        try:
            hierarchy = _read(path)
        except (OSError, KeyError, ValueError) as error:
            logger.warning("rebuilding the mesh hierarchy: cannot read %s (%s)", path, error)
        else:
            if hierarchy.config == config:
                return hierarchy
    hierarchy = build_hierarchy(model, config)
    if cache:
        try:
            _save(hierarchy, path)
        except OSError as error:
            logger.warning("cannot cache the mesh hierarchy in %s: %s", path, error)
    return hierarchy
