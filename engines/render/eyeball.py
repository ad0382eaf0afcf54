"""Eyeball the photo never saw: what a lid opened wider than in the photo uncovers.

In the photo the upper lid hides the top of the eyeball; every eyeball vertex still projects
somewhere into the photo (onto the lid and its lashes above the opening), so warping the
photo alone shows the stretched lid where a raised lid (eyeWide, surprise, fear) uncovers
the eyeball. Here, once per avatar, each eyeball vertex is placed against the photo's own eye
opening (the fitted lid margins at the photo's expression and pose): vertices inside the
opening keep the photo, those under a lid get a colour that continues her eye: the sclera tone
and iris colour sampled from the visible eye, the iris a disc at the photo's iris circle (fitted
to the visible iris's edge against the sclera), so its hidden cap completes a round iris.

Per frame (``apply_eye_fill``, ~3k eyeball vertices): where a lid has moved away from a
vertex compared with the photo, the photo's band next to its old margin (lash shadow) gives way
to that colour too, and the colour darkens under the *current* upper margin (the lid's soft
shadow). Lids that close or squint leave the eye as it was (the photo, covered by the lid).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numba
import numpy as np
from numpy.typing import NDArray

from engines.face_model.ict import FaceModelData

__all__ = ["EyeFill", "apply_eye_fill", "build_eye_fill"]

_BAND_PX = 2.5  # output px: photo within this of the upper margin is lash shadow, not eyeball
_LOWER_BAND_PX = 1.0  # ... and within this of the lower margin
_SHADOW = (0.3, 0.2)  # lid shadow on the uncovered eyeball: darkening, width (share of the
# photo's eye opening height)
_SCLERA_LIT = 75  # percentile of brightness above which the visible sclera gives its tone
_SCLERA_FALLOFF = 0.35  # the sclera's darkening from the iris to the ball's outline
_IRIS_EDGE_PX = 0.8  # half-width of the soft iris / sclera edge
_LIMBUS = (0.8, 0.8)  # the iris darkens towards its rim from this share of its radius, to this
_PUPIL_SHARE = 0.38  # pupil radius over iris radius (only shown if the photo's lid hid it)
_IRIS_RADIUS_RANGE = (0.6, 1.5)  # a fitted iris radius outside this share of ICT's is refused
_IRIS_CAP_CM = 0.3  # ICT's iris: the front cap of its iris shell, this deep from its apex
_IRIS_PRIOR_SHARE = 0.8  # the iris's radius over that cap's when the photo's edge is not found


@dataclass(frozen=True)
class EyeFill:
    """Eyeball vertices placed against the photo's eye opening.

    Attributes:
        index: (M,) int32 eyeball vertices.
        seen: (M,) float32 in [0, 1]: how far inside the photo's eye opening (1: the photo shows
            it, clear of the lid margin's shadow; 0: under a lid in the photo).
        upper: (M, 2) int32 and upper_t (M,) float32: the two upper-margin vertices whose
            interpolation is the margin above each eyeball vertex (by the photo's x).
        lower: (M, 2) int32 and lower_t (M,) float32: the same for the lower margin.
        below_upper: (M,) float32 output px the vertex lies below the photo's visible upper
            lid edge (negative: above it, hidden); above_lower (M,) above its lower lid edge.
        rim_upper: (M,) float32 px between the opening's upper rim (the lid's inner edge, which
            the per-frame pass follows) and that visible edge; rim_lower (M,) the same below.
        shadow_width: (M,) float32 output px, width of the lid's shadow for each vertex's eye.
        colour: (M, 3) float32 the colour of the eyeball where the photo did not see it
            (sRGB 0-255).
        iris: (2, 3) float32 per eye (left, right): iris circle centre x, y and radius in the
            crop's output pixels (for tests and pictures).
    """

    index: NDArray[np.int32]
    seen: NDArray[np.float32]
    upper: NDArray[np.int32]
    upper_t: NDArray[np.float32]
    lower: NDArray[np.int32]
    lower_t: NDArray[np.float32]
    below_upper: NDArray[np.float32]
    above_lower: NDArray[np.float32]
    rim_upper: NDArray[np.float32]
    rim_lower: NDArray[np.float32]
    shadow_width: NDArray[np.float32]
    colour: NDArray[np.float32]
    iris: NDArray[np.float32]

    @staticmethod
    def empty() -> EyeFill:
        """No eyeball vertices: ``apply_eye_fill`` then changes nothing (the switch is off)."""
        zi = np.zeros(0, np.int32)
        zf = np.zeros(0, np.float32)
        return EyeFill(
            zi, zf, np.zeros((0, 2), np.int32), zf, np.zeros((0, 2), np.int32), zf, zf, zf, zf,
            zf, zf, np.zeros((0, 3), np.float32), np.zeros((2, 3), np.float32),
        )  # fmt: skip


def _smoothstep(x: NDArray[np.float32], low: float, high: float) -> NDArray[np.float32]:
    t = np.clip((x - low) / max(high - low, 1e-6), 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32)


def _split_margin(
    loop: NDArray[np.int32], position: NDArray[np.float32]
) -> tuple[NDArray[np.int32], NDArray[np.int32]]:
    """Upper and lower margin vertices of an eye opening ``loop``, each sorted by photo x
    (both include the two corners)."""
    points = position[loop]
    left, right = int(np.argmin(points[:, 0])), int(np.argmax(points[:, 0]))
    a, b = points[left], points[right]
    span = max(float(b[0] - a[0]), 1e-6)
    line_y = a[1] + (points[:, 0] - a[0]) / span * (b[1] - a[1])
    is_upper = points[:, 1] <= line_y
    is_upper[[left, right]] = True
    is_lower = ~is_upper
    is_lower[[left, right]] = True
    upper = loop[is_upper][np.argsort(points[is_upper, 0], kind="stable")]
    lower = loop[is_lower][np.argsort(points[is_lower, 0], kind="stable")]
    return upper.astype(np.int32), lower.astype(np.int32)


def _bracket(
    x: NDArray[np.float32], margin: NDArray[np.int32], position: NDArray[np.float32]
) -> tuple[NDArray[np.int32], NDArray[np.float32], NDArray[np.float32]]:
    """For points at photo x (M,): the margin vertex pair (M, 2) around each x, the
    interpolation weight (M,) of the second, and the margin's y there (M,) (clamped at the
    corners)."""
    mx = position[margin, 0].astype(np.float64)
    my = position[margin, 1].astype(np.float64)
    xc = np.clip(x.astype(np.float64), mx[0], mx[-1])
    hi = np.clip(np.searchsorted(mx, xc, side="right"), 1, len(mx) - 1)
    lo = hi - 1
    t = np.clip((xc - mx[lo]) / np.maximum(mx[hi] - mx[lo], 1e-9), 0.0, 1.0)
    y = my[lo] * (1.0 - t) + my[hi] * t
    pair = np.stack([margin[lo], margin[hi]], 1).astype(np.int32)
    return pair, t.astype(np.float32), y.astype(np.float32)


def _fit_circle(points: NDArray[np.float64]) -> tuple[float, float, float] | None:
    """Least-squares circle (cx, cy, r) through (K, 2) points (Kasa), None if degenerate."""
    if len(points) < 8:
        return None
    x, y = points[:, 0], points[:, 1]
    design = np.stack([x, y, np.ones_like(x)], 1)
    rhs = -(x * x + y * y)
    solution, *_ = np.linalg.lstsq(design, rhs, rcond=None)
    cx, cy = -0.5 * solution[0], -0.5 * solution[1]
    r2 = cx * cx + cy * cy - solution[2]
    if not np.isfinite(r2) or r2 <= 0.0:
        return None
    return float(cx), float(cy), float(np.sqrt(r2))


def _iris_circle(
    lum: NDArray[np.float32],
    opening: NDArray[np.bool_],
    prior: tuple[float, float, float],
) -> tuple[float, float, float]:
    """The photo's iris circle (cx, cy, r) in crop pixels: a circle fitted to the edge between
    the dark (iris) and bright (sclera) pixels inside the visible ``opening`` (H, W), away
    from the lids; ``prior`` (the fitted model's iris) where that fails or is implausible."""
    cx0, cy0, r0 = prior
    values = lum[opening]
    if values.size < 20:
        return prior
    threshold, _ = cv2.threshold(
        np.clip(values, 0, 255).astype(np.uint8).reshape(-1, 1), 0, 255,
        cv2.THRESH_BINARY + cv2.THRESH_OTSU,
    )  # fmt: skip
    dark = opening & (lum < threshold)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        dark.astype(np.uint8), connectivity=8
    )
    if count < 2:
        return prior
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    dark = labels == biggest
    # The limbus: per row, the dark run's left and right ends where the sclera is seen on
    # both sides (rows cut by a lid are left out); a circle through those ends.
    bright = opening & ~dark
    points = []
    for row in np.flatnonzero(dark.any(1)):
        cols = np.flatnonzero(dark[row])
        left, right = int(cols[0]), int(cols[-1])
        if left < 1 or right + 1 >= dark.shape[1]:
            continue
        if bright[row, left - 1] and bright[row, right + 1]:
            points.append((left - 0.5, row))
            points.append((right + 0.5, row))
    rows_seen = len(points) // 2
    circle = _fit_circle(np.array(points, np.float64)) if rows_seen >= 4 else None
    if circle is None and rows_seen >= 1:  # the widest such row is (close to) a diameter
        ends = np.array(points, np.float64).reshape(-1, 2, 2)
        widest = int(np.argmax(ends[:, 1, 0] - ends[:, 0, 0]))
        (x0, y0), (x1, _) = ends[widest]
        circle = (0.5 * (x0 + x1), cy0 if abs(y0 - cy0) < r0 else float(y0), 0.5 * (x1 - x0))
    if circle is None:
        return prior
    cx, cy, r = circle
    low, high = _IRIS_RADIUS_RANGE
    if not (low * r0 <= r <= high * r0) or np.hypot(cx - cx0, cy - cy0) > r0:
        return prior
    return cx, cy, r


@dataclass(frozen=True)
class _Eye:
    """One eyeball placed against the photo's eye opening (output pixels)."""

    index: NDArray[np.int32]  # (M,) eyeball vertices
    position: NDArray[np.float32]  # (M, 2) where they are in the photo
    upper: NDArray[np.int32]  # (M, 2) the upper rim's vertex pair above each, and its weight
    upper_t: NDArray[np.float32]
    lower: NDArray[np.int32]
    lower_t: NDArray[np.float32]
    below_upper: NDArray[np.float32]  # (M,) px below the photo's visible upper lid edge
    above_lower: NDArray[np.float32]  # (M,) px above its lower lid edge
    rim_upper: NDArray[np.float32]  # (M,) the upper rim's offset: rim distance - edge distance
    rim_lower: NDArray[np.float32]
    opening: NDArray[np.bool_]  # (S, S) the photo's visible eye, less a pixel of lashes
    height: float  # px, the opening's median height


def _place_eye(
    index: NDArray[np.int32],
    loop: NDArray[np.int32],
    projected: NDArray[np.float32],
    visible: NDArray[np.bool_],
) -> _Eye:
    """Place one eyeball's vertices against the eye as the renderer shows it at the photo's
    own expression: ``visible`` (S, S) its eyeball pixels, ``projected`` (Vr, 2) the vertices
    there (output px), ``loop`` the opening's rim. The distances to the visible lid edges are
    per column of ``visible``; the rim (the lids' inner edge, tucked behind their front)
    follows the lids per frame, so its offset from the visible edge is kept."""
    size = visible.shape[1]
    upper, lower = _split_margin(loop, projected)
    position = projected[index]
    up_pair, up_t, up_y = _bracket(position[:, 0], upper, projected)
    lo_pair, lo_t, lo_y = _bracket(position[:, 0], lower, projected)
    any_row = np.asarray(visible.any(axis=0), bool)
    top = np.where(any_row, np.argmax(visible, 0), size).astype(np.float32) - 0.5
    bottom = np.where(any_row, size - 1 - np.argmax(visible[::-1], 0), -1).astype(np.float32) + 0.5
    col = np.clip(np.rint(position[:, 0]).astype(np.int64), 0, size - 1)
    seen_col = any_row[col]
    far = np.float32(1e3)
    below_upper = np.where(seen_col, position[:, 1] - top[col], -far).astype(np.float32)
    above_lower = np.where(seen_col, bottom[col] - position[:, 1], -far).astype(np.float32)
    # A column the photo's eye does not reach: hidden under the upper lid above the rim's
    # middle, under the lower lid below it.
    under_lower = position[:, 1] > 0.5 * (up_y + lo_y)
    below_upper[~seen_col & under_lower] = far
    above_lower[~seen_col & ~under_lower] = far
    rim_upper = np.where(seen_col, (position[:, 1] - up_y) - below_upper, 0.0).astype(np.float32)
    rim_lower = np.where(seen_col, (lo_y - position[:, 1]) - above_lower, 0.0).astype(np.float32)
    opening = cv2.erode(visible.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    heights = (bottom - top)[any_row]
    height = float(np.median(heights)) if heights.size else 0.0
    return _Eye(
        index, position, up_pair, up_t, lo_pair, lo_t, below_upper, above_lower, rim_upper,
        rim_lower, opening, height,
    )  # fmt: skip


def _eye_colours(
    eye: _Eye, photo: NDArray[np.float32], lum: NDArray[np.float32], circle: NDArray[np.float32]
) -> NDArray[np.float32]:
    """(M, 3) colour of each eyeball vertex where the photo did not see it: her sclera tone,
    the iris disc at ``circle`` (cx, cy, r) in her iris colour with a darker rim, the pupil."""
    cx, cy, radius = (float(v) for v in circle)
    rows, cols = np.nonzero(eye.opening)
    samples = photo[rows, cols]  # (P, 3)
    distance = np.hypot(cols - cx, rows - cy) / max(radius, 1e-3)
    sclera_px = samples[distance > 1.0 + 1.5 / max(radius, 1.0)]
    if len(sclera_px) >= 4:  # the lit part of the sclera (its corners are in shadow)
        bright = sclera_px.sum(1)
        sclera = np.median(sclera_px[bright >= np.percentile(bright, _SCLERA_LIT)], 0)
    else:  # no sclera seen: a light tone with her eye's own tint
        sclera = np.full(3, max(0.8 * float(lum[eye.opening].max(initial=200.0)), 150.0))
        if len(samples):
            tint = np.median(samples - samples.mean(1, keepdims=True), 0) * 0.3
            sclera = np.clip(sclera + tint, 0, 255)
    iris_px = samples[(distance > _PUPIL_SHARE) & (distance < 0.9)]
    if len(iris_px) >= 4:  # without the catch-light
        bright = iris_px.sum(1)
        iris = np.median(iris_px[bright <= np.percentile(bright, 80)], 0)
    else:
        iris = 0.35 * np.asarray(sclera, np.float64)
    pupil = 0.45 * np.asarray(iris, np.float64)
    r = np.hypot(eye.position[:, 0] - cx, eye.position[:, 1] - cy)
    edge = _IRIS_EDGE_PX
    in_iris = 1.0 - _smoothstep(r, radius - edge, radius + edge)
    pupil_r = _PUPIL_SHARE * radius
    in_pupil = 1.0 - _smoothstep(r, pupil_r - edge, pupil_r + edge)
    rim = _smoothstep(r / max(radius, 1e-3), _LIMBUS[0], 1.0)
    iris_colour = iris[None, :] * (1.0 - (1.0 - _LIMBUS[1]) * rim[:, None])
    iris_colour = iris_colour * (1.0 - in_pupil[:, None]) + pupil[None, :] * in_pupil[:, None]
    # The ball turns away from the light towards the corners: the sclera darkens there.
    ball = max(0.5 * float(np.ptp(eye.position[:, 0])), 1.0)
    turn = np.clip(np.hypot(eye.position[:, 0] - cx, eye.position[:, 1] - cy) / ball, 0.0, 1.0)
    sclera_colour = sclera[None, :] * (1.0 - _SCLERA_FALLOFF * turn[:, None] ** 2)
    colour = sclera_colour * (1.0 - in_iris[:, None]) + iris_colour * in_iris[:, None]
    return np.clip(colour, 0, 255).astype(np.float32)


def build_eye_fill(
    model: FaceModelData,
    opening_index: NDArray[np.int32],
    opening_indptr: NDArray[np.int64],
    faces: NDArray[np.int32],
    group: NDArray[np.int8],
    projected: NDArray[np.float32],
    triangle: NDArray[np.int32],
    image: NDArray[np.uint8],
) -> EyeFill:
    """Place the eyeball vertices against the photo's eye openings and colour the unseen ones.

    Args:
        model: the ICT model (eyeball and iris vertex ranges).
        opening_index: (N,) int32 vertices of the skin's openings, grouped by
            ``opening_indptr`` (G,) (``RenderMesh``); faces (F, 3) and group (F,) int8 tell
            which opening each eyeball is seen through.
        projected: (Vr, 2) the vertices at the photo's own expression and pose, in the
            crop's output pixels (index coordinates).
        triangle: (R, R) int32 the raster's triangle ids at that expression (-1 empty): the
            eyeball pixels it shows are the photo's visible eye.
        image: (S, S, 3) uint8 the source crop.
    """
    size = image.shape[0]
    photo = np.asarray(image, np.float32)
    lum = photo.mean(2)
    irises = np.zeros((2, 3), np.float32)
    found = np.zeros(2, bool)
    eyes: dict[int, _Eye] = {}
    for side, name in enumerate(("left", "right")):
        start, stop = model.vertex_ranges[f"eyeball_{name}"]
        on_eye = (faces[:, 0] >= start) & (faces[:, 0] < stop)
        groups = group[on_eye]
        if groups.size == 0 or groups[0] <= 0:
            continue
        g = int(groups[0])
        loop = opening_index[opening_indptr[g - 1] : opening_indptr[g]]
        if len(loop) < 6:
            continue
        shown = on_eye[np.maximum(triangle, 0)] & (triangle >= 0)
        visible = cv2.resize(
            shown.astype(np.uint8), (size, size), interpolation=cv2.INTER_NEAREST
        ).astype(bool)
        eye = _place_eye(np.arange(start, stop, dtype=np.int32), loop, projected, visible)
        eyes[side] = eye
        i0, i1 = model.vertex_ranges[f"iris_{name}"]
        shell = model.neutral[i0:i1, 2]
        cap = projected[i0:i1][shell >= shell.max() - _IRIS_CAP_CM]
        prior = (
            float(cap[:, 0].mean()),
            float(cap[:, 1].mean()),
            0.5 * _IRIS_PRIOR_SHARE * float(np.ptp(cap[:, 0])),
        )
        circle = _iris_circle(lum, eye.opening, prior)
        found[side] = circle is not prior
        irises[side] = circle
    if not eyes:
        return EyeFill.empty()
    if found.any():  # one person's two irises are the same size
        irises[:, 2] = irises[found, 2].mean()
    parts = []
    for side, eye in eyes.items():
        seen = _smoothstep(eye.below_upper, 0.0, _BAND_PX) * _smoothstep(
            eye.above_lower, 0.0, _LOWER_BAND_PX
        )
        shadow = np.full(len(eye.index), _SHADOW[1] * max(eye.height, 4.0), np.float32)
        colour = _eye_colours(eye, photo, lum, irises[side])
        parts.append((eye, seen, shadow, colour))

    def joined(name: str) -> NDArray[Any]:
        return np.ascontiguousarray(np.concatenate([getattr(p[0], name) for p in parts]))

    return EyeFill(
        index=joined("index"),
        seen=np.concatenate([p[1] for p in parts]),
        upper=joined("upper"),
        upper_t=joined("upper_t"),
        lower=joined("lower"),
        lower_t=joined("lower_t"),
        below_upper=joined("below_upper"),
        above_lower=joined("above_lower"),
        rim_upper=joined("rim_upper"),
        rim_lower=joined("rim_lower"),
        shadow_width=np.concatenate([p[2] for p in parts]),
        colour=np.ascontiguousarray(np.concatenate([p[3] for p in parts])),
        iris=irises,
    )


@numba.njit(cache=True, nogil=True, fastmath=True)
def apply_eye_fill(
    index: NDArray[np.int32],
    seen: NDArray[np.float32],
    upper: NDArray[np.int32],
    upper_t: NDArray[np.float32],
    lower: NDArray[np.int32],
    lower_t: NDArray[np.float32],
    below_upper: NDArray[np.float32],
    above_lower: NDArray[np.float32],
    rim_upper: NDArray[np.float32],
    rim_lower: NDArray[np.float32],
    shadow_width: NDArray[np.float32],
    fill_colour: NDArray[np.float32],
    points: NDArray[np.float32],
    pixels_per_point: float,
    out_weight: NDArray[np.float32],
    out_colour: NDArray[np.float32],
) -> None:
    """Per frame, after ``apply_shut_eyes``: the photo weight of every eyeball vertex is scaled
    by ``1 - (1 - seen) · k`` (k = 1 under the photo's upper lid, else a ramp of how far a lid
    has moved away from the vertex: the lower lid's rim keeps the photo while it stays), and
    its colour becomes the fill colour darkened by the current upper lid's shadow, mixed with
    whatever ``apply_shut_eyes`` left (the lash colour of a nearly shut eye) in proportion to
    the weight the photo gave up.

    Args:
        points: (Vr, 2) this frame's projected vertices (raster px); pixels_per_point: output
            px per raster px.
        out_weight: (Vr,) and out_colour (Vr, 3): the per-frame photo weight and colour.
    """
    one = np.float32(1.0)
    zero = np.float32(0.0)
    band = np.float32(_BAND_PX)
    darkening = np.float32(_SHADOW[0])
    scale = np.float32(pixels_per_point)
    for j in range(index.shape[0]):
        v = index[j]
        a, b = upper[j, 0], upper[j, 1]
        t = upper_t[j]
        margin_y = points[a, 1] * (one - t) + points[b, 1] * t
        below_now = (points[v, 1] - margin_y) * scale - rim_upper[j]
        a, b = lower[j, 0], lower[j, 1]
        t = lower_t[j]
        lower_y = points[a, 1] * (one - t) + points[b, 1] * t
        above_now = (lower_y - points[v, 1]) * scale - rim_lower[j]
        if below_upper[j] <= zero:  # under the upper lid in the photo: never the photo
            k = one
        else:  # near a margin or under the lower lid: the photo until that lid moves away
            moved = max(below_now - below_upper[j], above_now - above_lower[j])
            x = min(max(moved / band, zero), one)
            k = x * x * (np.float32(3.0) - np.float32(2.0) * x)
        keep = one - (one - seen[j]) * k
        shadow = one - darkening * np.exp(-max(below_now, zero) / shadow_width[j])
        # A nearly shut eye: apply_shut_eyes has lowered the weight towards the lash colour;
        # the fill takes the share the photo gave up here, not the lash's.
        w0 = out_weight[v]
        out_weight[v] = w0 * keep
        share = w0 * (one - keep)
        for c in range(3):
            out_colour[v, c] = out_colour[v, c] + share * (
                fill_colour[j, c] * shadow - out_colour[v, c]
            ) / max(one - out_weight[v], np.float32(1e-3))
