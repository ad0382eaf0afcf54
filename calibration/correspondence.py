"""The mediapipe -> ICT landmark correspondence: each of the 478 landmarks as a surface point.

A landmark ``l`` is the point ``Σ_k barycentric[l, k] · vertices[vertex_ids[l, k]]`` of the
ICT mesh, so any identity/expression basis can be sampled there (``basis_rows``). The table
is derived by :mod:`calibration.build_correspondence` (render the ICT mesh, run mediapipe on
the renders, average over identities and views) and shipped as ``data/mediapipe_ict.npz``:
vertex indices, barycentric weights and per-landmark fitting weights only, no geometry.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from calibration.exceptions import CalibrationError

__all__ = [
    "DEFAULT_TABLE",
    "IRIS_LANDMARKS",
    "LandmarkCorrespondence",
    "face_oval_landmarks",
    "load_correspondence",
    "save_correspondence",
]

DEFAULT_TABLE = Path(__file__).resolve().parent / "data" / "mediapipe_ict.npz"
IRIS_LANDMARKS: tuple[int, ...] = tuple(range(468, 478))


def face_oval_landmarks() -> tuple[int, ...]:
    """The mediapipe face-outline landmarks in contour order (they slide with the pose)."""
    import mediapipe as mp

    neighbours: dict[int, list[int]] = {}
    for a, b in mp.solutions.face_mesh.FACEMESH_FACE_OVAL:
        neighbours.setdefault(a, []).append(b)
        neighbours.setdefault(b, []).append(a)
    start = min(neighbours)
    order = [start]
    previous, current = -1, start
    while True:
        following = [n for n in neighbours[current] if n != previous]
        if not following or following[0] == start:
            break
        previous, current = current, following[0]
        order.append(current)
    return tuple(order)


@dataclass(frozen=True)
class LandmarkCorrespondence:
    """Where each mediapipe landmark sits on the ICT surface.

    Attributes:
        vertex_ids: (L, 3) int32 ICT vertices of the triangle holding each landmark.
        barycentric: (L, 3) float32 weights (rows sum to 1).
        weights: (L,) float32 fitting weight of each landmark (0 = ignore).
        spread_cm: (L,) float32 how much the landmark's surface point varied over the
            calibration renders (a confidence measure; centimetres).
        meta: how the table was built (views, identities, model commit, command).
    """

    vertex_ids: NDArray[np.int32]
    barycentric: NDArray[np.float32]
    weights: NDArray[np.float32]
    spread_cm: NDArray[np.float32]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def num_landmarks(self) -> int:
        return int(self.vertex_ids.shape[0])

    def points(self, vertices: NDArray[np.floating]) -> NDArray[np.float64]:
        """(L, 3) landmark positions on a mesh with vertices (V, 3)."""
        corners = np.asarray(vertices, np.float64)[self.vertex_ids]  # (L, 3, 3)
        return np.einsum("lk,lkc->lc", self.barycentric.astype(np.float64), corners)

    def basis_rows(self, basis: NDArray[np.floating]) -> NDArray[np.float64]:
        """(N, L, 3) a per-vertex basis (N, V, 3) sampled at the landmarks."""
        corners = np.asarray(basis[:, self.vertex_ids], np.float64)  # (N, L, 3, 3)
        return np.einsum("lk,nlkc->nlc", self.barycentric.astype(np.float64), corners)


def save_correspondence(table: LandmarkCorrespondence, path: str | os.PathLike[str]) -> Path:
    """Write the table as a small ``.npz`` (indices, weights and JSON metadata)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        target,
        vertex_ids=table.vertex_ids.astype(np.int32),
        barycentric=table.barycentric.astype(np.float32),
        weights=table.weights.astype(np.float32),
        spread_cm=table.spread_cm.astype(np.float32),
        meta=np.frombuffer(json.dumps(table.meta).encode(), np.uint8),
    )
    return target


def load_correspondence(path: str | os.PathLike[str] | None = None) -> LandmarkCorrespondence:
    """Load the shipped table (or one at ``path``).

    Raises:
        CalibrationError: the file is missing or malformed (rebuild it with
            ``python -m calibration.build_correspondence``).
    """
    source = Path(path) if path is not None else DEFAULT_TABLE
    try:
        with np.load(source, allow_pickle=False) as archive:
            table = LandmarkCorrespondence(
                vertex_ids=archive["vertex_ids"].astype(np.int32),
                barycentric=archive["barycentric"].astype(np.float32),
                weights=archive["weights"].astype(np.float32),
                spread_cm=archive["spread_cm"].astype(np.float32),
                meta=json.loads(bytes(archive["meta"]).decode()),
            )
    except (OSError, KeyError, ValueError) as error:
        raise CalibrationError(
            f"cannot read the landmark correspondence {source}: {error}; "
            "rebuild it with `python -m calibration.build_correspondence`"
        ) from error
    if table.vertex_ids.shape != table.barycentric.shape or table.vertex_ids.shape[1] != 3:
        raise CalibrationError(f"{source}: inconsistent correspondence arrays")
    return table
