"""Her eyebrows move as one piece when they rise.

ICT's brow raises (``browInnerUp``, ``browOuterUp``: AU1, AU2) lift the forehead and the brow
by 7-12 mm at weight 1 and take up the whole difference in a 3 mm strip of the upper lid's
crease, which unrolls. On the ICT template the brow sits above that strip. On a photo the
fit puts the mesh's crease wherever the landmarks allow, and on low or deep-set brows (most
men's) part of the photo's brow hair lies on it: raised, the brow is drawn one and a half to
two times its height, a heavy dark band over the eyes that reads as a scowl, not surprise.

Brow hair sits on the thick skin over the brow ridge, pulled by the frontalis from above; it
moves as a unit and does not stretch (the skin below it, the upper lid, does). So, once per
avatar, every skin vertex that the photo shows under her brow hair (the region between the
brow's upper and lower contours of the detected landmarks, grown by the blur of its edge)
takes, for the brow-raise shapes, the move of the brow's own most-moving skin in its column
(not the crease's): the brow keeps its shape and height. The stretch moves below it, onto
her lid: the skin the photo shows between the brow and the top of the lid's pretarsal skin
(the tarsal plate, lashes and liner, which do not stretch) takes the harmonic interpolation
(graph Laplacian over the skin) of the moves around it (the rigid brow above, the pretarsal
skin and the skin beside the eye as ICT moves them), so the lid stretches evenly instead of
unrolling wherever the mesh's crease landed on the photo.
Only the raises: a lowered brow (AU4) bunches and is drawn together, it does not stretch.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

from engines.render.laplacian import harmonic_fill

__all__ = [
    "BROW_CONTOURS",
    "BROW_RAISE_SHAPES",
    "LANDMARKS_NEEDED",
    "UPPER_LIDS",
    "brow_hair_mask",
    "rigid_brow_raises",
]

# mediapipe FaceMesh's brow contours (``FACEMESH_RIGHT_EYEBROW`` / ``FACEMESH_LEFT_EYEBROW``):
# per brow, two polylines from the nose outwards; which one is the upper is read from the
# points themselves.
BROW_CONTOURS: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...] = (
    ((55, 65, 52, 53, 46), (107, 66, 105, 63, 70)),
    ((285, 295, 282, 283, 276), (336, 296, 334, 293, 300)),
)
# mediapipe FaceMesh's upper-lid margins (``FACEMESH_RIGHT_EYE`` / ``FACEMESH_LEFT_EYE``), in
# the same order as the brows.
UPPER_LIDS: tuple[tuple[int, ...], ...] = (
    (133, 173, 157, 158, 159, 160, 161, 246, 33),
    (362, 398, 384, 385, 386, 387, 388, 466, 263),
)
# Landmarks a face needs for the brows (every index above, plus one).
LANDMARKS_NEEDED = 1 + max(
    max(max(max(c) for c in pair) for pair in BROW_CONTOURS), max(max(lid) for lid in UPPER_LIDS)
)
BROW_RAISE_SHAPES = ("browInnerUp_L", "browInnerUp_R", "browOuterUp_L", "browOuterUp_R")
_GROW_MM = 1.5  # the brow's hair region: the contours grown by this (they run inside the
# hair, whose edge the photo blurs)
_COLUMN_MM = 1.5  # a brow vertex's column: the brow's vertices this close to it in x ...
_LEADERS = 3  # ... of which the ones the raises move furthest lead it
# The open eye's pretarsal skin show: the lid skin on the tarsal plate, with the lashes and
# any liner, which the plate keeps from stretching (an open upper lid shows 2-5 mm of it;
# above it, up to the brow, is the skin that stretches as the brow rises).
_PRETARSAL_MM = 4.0


def _contours(
    landmarks: NDArray[np.float32],
) -> list[tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]]:
    """Per brow with finite landmarks: its (K, 2) upper and lower contours and its upper
    lid's (M, 2) margin, crop px."""
    found = []
    for (first, second), lid in zip(BROW_CONTOURS, UPPER_LIDS, strict=True):
        a = np.asarray(landmarks[list(first)], np.float64)
        b = np.asarray(landmarks[list(second)], np.float64)
        margin = np.asarray(landmarks[list(lid)], np.float64)
        if not (np.isfinite(a).all() and np.isfinite(b).all() and np.isfinite(margin).all()):
            continue
        lower, upper = (a, b) if a[:, 1].mean() > b[:, 1].mean() else (b, a)
        found.append((upper, lower, margin))
    return found


def brow_hair_mask(
    landmarks: NDArray[np.float32], size: int, px_per_mm: float
) -> NDArray[np.bool_]:
    """(S, S) bool: where the photo shows brow hair, in crop pixels (the region between
    each brow's contours, grown by ``_GROW_MM``).

    Args:
        landmarks: (478, 2) detected landmarks in crop index coordinates.
        size: side of the crop.
        px_per_mm: crop pixels per millimetre of the face.
    """
    mask = np.zeros((size, size), np.uint8)
    for upper, lower, _ in _contours(landmarks):
        polygon = np.concatenate([upper, lower[::-1]])
        cv2.fillPoly(mask, [np.rint(polygon).astype(np.int32)], 1)
    if not mask.any():
        return mask.astype(bool)
    outside = cv2.distanceTransform((1 - mask).astype(np.uint8), cv2.DIST_L2, 3)
    return np.asarray(outside <= _GROW_MM * px_per_mm)


def _column_top(line: NDArray[np.float64], x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Height (crop px) of the polyline ``line`` (K, 2) at columns ``x`` (held beyond its
    ends)."""
    order = np.argsort(line[:, 0])
    return np.interp(x, line[order, 0], line[order, 1])


def rigid_brow_raises(
    basis: NDArray[np.float32],
    shapes: Sequence[int],
    source_position: NDArray[np.float32],
    candidates: NDArray[np.int64],
    face: NDArray[np.int64],
    skin_faces: NDArray[np.int32],
    landmarks: NDArray[np.float32],
    size: int,
    px_per_mm: float,
) -> tuple[int, int]:
    """Move the photo's brow hair as one piece and let her lid take the stretch, in place.

    Args:
        basis: (E, V, 3) float32 expression basis of the rendered vertices (modified).
        shapes: expression indices of the brow raises.
        source_position: (V, 2) where each vertex is in the crop at the photo's own
            expression and pose.
        candidates: skin vertices the photo saw from the front (the brow's and the skin's
            above it: never the back of the head projected onto the same pixels).
        face: the face's skin vertices (seen or not: the lid's fold is hidden in the photo).
        skin_faces: (F, 3) skin triangles (their edges are the Laplacian's).
        landmarks: (478, 2) detected landmarks in crop index coordinates.
        size: side of the crop; px_per_mm: crop pixels per millimetre of the face.

    Returns:
        how many vertices took the brow's move, and how many lid vertices the interpolated
        stretch.
    """
    contours = _contours(landmarks)
    if not contours or len(candidates) == 0:
        return 0, 0
    mask = brow_hair_mask(landmarks, size, px_per_mm)
    points = source_position[candidates].astype(np.float64)
    cols = np.clip(np.rint(points[:, 0]).astype(np.int64), 0, size - 1)
    rows = np.clip(np.rint(points[:, 1]).astype(np.int64), 0, size - 1)
    on_brow = mask[rows, cols]
    if not on_brow.any():
        return 0, 0
    brow = candidates[on_brow]
    brow_points = points[on_brow]
    # Each brow vertex takes the move of the brow's own most-moving skin in its column (the
    # mean of the _LEADERS that the raises move furthest within _COLUMN_MM of it): the hair
    # moves as the brow does, not as the crease under it.
    total = np.zeros(len(brow), np.float64)
    for e in shapes:
        total += np.linalg.norm(basis[e, brow], axis=1)
    x = brow_points[:, 0]
    column = np.abs(x[:, None] - x[None, :]) <= _COLUMN_MM * px_per_mm  # (B, B)
    ranked = np.where(column, total[None, :], -np.inf)
    count = min(_LEADERS, len(brow))
    leaders = np.argpartition(-ranked, count - 1, axis=1)[:, :count]  # (B, count)
    valid = np.isfinite(np.take_along_axis(ranked, leaders, 1))
    share = valid / np.maximum(valid.sum(1, keepdims=True), 1)
    for e in shapes:
        basis[e, brow] = np.einsum("bk,bkc->bc", share, basis[e, brow][leaders])
    lid = _lid_skin(source_position, np.setdiff1d(face, brow), contours, px_per_mm)
    if len(lid):
        # All raises at once: (V, 3 x shapes), the lid's vertices interpolated.
        moves = np.concatenate([basis[e] for e in shapes], axis=1)
        unknown = np.zeros(len(moves), bool)
        unknown[lid] = True
        harmonic_fill(moves, unknown, skin_faces)
        for k, e in enumerate(shapes):
            basis[e] = moves[:, 3 * k : 3 * k + 3]
    return len(brow), len(lid)


def _lid_skin(
    source_position: NDArray[np.float32],
    free: NDArray[np.int64],
    contours: list[tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]],
    px_per_mm: float,
) -> NDArray[np.int64]:
    """Vertices of ``free`` the photo shows between a brow and the top of its upper lid's
    pretarsal skin: in the brow's columns, below its hair region and more than
    ``_PRETARSAL_MM`` above the lid's margin."""
    points = source_position[free].astype(np.float64)
    chosen = np.zeros(len(free), bool)
    for _, lower, margin in contours:
        inside = (points[:, 0] > lower[:, 0].min()) & (points[:, 0] < lower[:, 0].max())
        brow_y = _column_top(lower, points[:, 0]) + _GROW_MM * px_per_mm
        top_y = _column_top(margin, points[:, 0]) - _PRETARSAL_MM * px_per_mm
        chosen |= inside & (points[:, 1] > brow_y) & (points[:, 1] < top_y)
    return free[chosen]
