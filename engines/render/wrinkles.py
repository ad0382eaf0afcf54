"""Animated wrinkle maps: skin folds driven by the expression, as a gain in the face's UV space.

Warping the photo can only move what the photo shows; a frown, a grin or raised brows add no
fold of skin. As game engines do with animated wrinkle maps, the renderer multiplies the skin
by ``1 + W(uv)``, where ``W`` is a weighted sum of per-avatar maps (one per fold and side):

    W = strength · Σ_j a_j · M_j,    a_j = min(1, Σ_k D[j, k] · ramp(max(0, e_k − e_src_k)))

``e`` is the frame's expression, ``e_src`` the photo's own fitted one (a fold the photo already
shows is in its pixels; only what the new expression adds is drawn) and ``ramp`` a smoothstep
on [0, 1] (zero slope at 0, so folds fade in smoothly from the photo's own expression).

Why procedural in UV space, not the mesh's own deformation: ICT's edges are 3-5 mm and its
shapes sculpt broad bulges, not 1-2 mm folds (the surface compression of browInnerUp or
browDown is a smooth field over the whole forehead that peaks on the lids, not at fold lines),
so per-vertex quantities cannot carry a forehead line. Each map is therefore a small height
field drawn from anatomy (spacing, width, orientation of the folds in millimetres) anchored on
this identity's own ICT landmarks (brows, eye corners, nose wings, mouth corners, chin), so it
follows the person's face shape, and it moves with the skin because it lives in UV space.

The height field becomes a gain once per avatar, under the photo's own fitted SH light (the
fold's walls are shaded as the light falls on that face: a fold lit from the left has a lit
left wall) plus a cavity term (a valley gets less light), scaled by how much fine detail the
photo's skin has (smooth young skin or a soft photo gets shallower folds, textured skin
deeper ones). The gain is grey (one value for the three channels), so a grey photo stays grey
and each person's folds take their own skin colour: a dark face gets dark-face folds.

Per frame (one numba call): the driver weights (J, E) times the ramped expression difference,
a sum of the active maps' boxes into one (T, T, 3) map and a flag per triangle meeting an active
map; the shader samples the map bilinearly on those triangles' skin pixels only and multiplies
their gain (``shader._shade_kernel``): a frame with no fold costs ~nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numba
import numpy as np
from numpy.typing import NDArray

from engines.face_model.camera import euler_to_matrix
from engines.face_model.ict import FaceModelData
from engines.render.mesh import vertex_normals
from engines.render.rasterizer import RasterBuffers, rasterize
from engines.render.unfold import (
    FLATTEN_REGION_MM,
    LIP_DRIVERS,
    flatten_gain,
    fold_skin,
    lip_cleanup_gain,
    pixels_per_mm,
)

__all__ = [
    "GAIN_RANGE",
    "WRINKLE_MAP_SIZE",
    "WrinkleField",
    "WrinkleSpec",
    "build_wrinkles",
    "fold_anchors",
    "wrinkle_specs",
]

logger = logging.getLogger(__name__)

WRINKLE_MAP_SIZE = 384  # texels per side of the UV maps (ICT: 1 UV unit ~ 24 cm: ~0.6 mm/texel)
_UV_MM = 240.0  # mm per UV unit on the face (approximate, for blur widths in texels)

# Height of a fold of unit depth (mm): a deep expression line of an adult.
_DEPTH_MM = 0.9
# Cavity darkening per mm of depth (a valley sees less of the light).
_CAVITY_PER_MM = 0.18
# Limits of the summed gain offset (deepest valley / brightest bulge), applied by the shader.
GAIN_RANGE = (-0.8, 0.6)
# Texels whose gain offset is below this are left out of a map (half a level at 255).
_NEGLIGIBLE_GAIN = 0.002
# Fine skin detail (median |L - blur(L)| / blur(L) on the visible skin, photo at 512 px) that
# gets folds of unit depth; the photo's own detail scales them by sqrt(detail / this), kept in
# _DETAIL_LIMITS. The astronaut (a scanned print, smooth young skin) measures 0.012 (x0.91);
# the value is a round figure for a sharp 512 px portrait of adult skin, not fitted to anyone.
_DETAIL_REFERENCE = 0.015
_DETAIL_LIMITS = (0.75, 1.3)


Anchors = dict[str, NDArray[np.float64]]
HeightFunction = Callable[[NDArray[np.float64], NDArray[np.float64], Anchors, int], NDArray]


@dataclass(frozen=True)
class WrinkleSpec:
    """One fold map.

    Attributes:
        name: e.g. ``"forehead_inner_L"``.
        side: +1 the subject's left (model +x), -1 the right, 0 both (a midline fold).
        drivers: expression shape name -> weight of its ramped increase in the activation.
        height: ``height(x_mm, y_mm, anchors, side) -> (N,)`` fold height in units of
            ``_DEPTH_MM`` (negative = valley), ``x`` lateral (model +x) and ``y`` up, mm.
        region: where the photo's *own* fold may lie, for its removal map (same signature,
            > 0 inside); None: the support of ``height``.
    """

    name: str
    side: int
    drivers: dict[str, float]
    height: HeightFunction
    region: HeightFunction | None = None


def fold_anchors(base: NDArray[np.float32], model: FaceModelData) -> Anchors:
    """The folds' anchors of the identity's ``base`` (Vr, 3) cm: ``"lm"`` (68, 2) the
    Multi-PIE landmarks' (x, y) and ``"midline"`` (2,) the nose bridge's mean, in mm."""
    landmarks = base[model.landmarks_68].astype(np.float64)[:, :2] * 10.0
    return {"lm": landmarks, "midline": landmarks[27:31].mean(0)}


def _gauss(d: NDArray, sigma: float) -> NDArray:
    return np.exp(-0.5 * (d / sigma) ** 2)


def _step(x: NDArray, low: float, high: float) -> NDArray:
    t = np.clip((x - low) / (high - low), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _lateral(x: NDArray, anchors: Anchors, side: int) -> NDArray:
    """Distance from the midline towards ``side`` (mm; negative across the midline)."""
    return side * (x - anchors["midline"][0]) if side else x - anchors["midline"][0]


def _landmark(anchors: Anchors, right: int, left: int, side: int) -> NDArray[np.float64]:
    """(2,) the Multi-PIE landmark of ``side`` (``right`` index for -1, ``left`` for +1)."""
    return anchors["lm"][left if side > 0 else right]


def _side_blend(xs: NDArray) -> NDArray:
    """Share of a side's map across the midline (the two sides sum to 1 there)."""
    return _step(xs, -5.0, 5.0)


def _forehead(inner: int) -> HeightFunction:
    """Horizontal frontalis lines: four, ~8.5 mm apart from 10 mm above the brow, arched
    half as much as the brow, their depth and height varying along them (no ruled lines)."""

    def height(x: NDArray, y: NDArray, anchors: Anchors, side: int) -> NDArray:
        xs = _lateral(x, anchors, side)
        brow = anchors["lm"][list(range(22, 27)) if side > 0 else list(range(21, 16, -1))]
        brow_xs = side * (brow[:, 0] - anchors["midline"][0])
        order = np.argsort(brow_xs)
        brow_y = np.interp(np.abs(xs), brow_xs[order], brow[order, 1])
        arch = 0.5 * brow_y + 0.5 * float(brow[:, 1].mean())
        above = y - arch
        h = np.zeros_like(x)
        for k, (weight, phase) in enumerate(((1.0, 0.3), (0.9, 1.9), (0.7, 3.4), (0.45, 5.0))):
            centre = 10.0 + 8.5 * k + 1.2 * np.sin(xs / 13.0 + phase)
            depth = weight * (0.7 + 0.3 * np.sin(xs / 8.5 + 2.1 * phase))
            h -= depth * _gauss(above - centre, 1.3)
            h += 0.3 * weight * _gauss(above - centre - 4.25, 2.4)  # skin bunched between
        window = _step(above, 4.0, 8.0) * (1.0 - _step(above, 38.0, 50.0))
        if inner:
            window *= _side_blend(xs) * (1.0 - _step(xs, 18.0, 32.0))
        else:
            window *= _step(xs, 18.0, 32.0) * (1.0 - _step(xs, 50.0, 64.0))
        return h * window

    return height


def _glabella(x: NDArray, y: NDArray, anchors: Anchors, side: int) -> NDArray:
    """browDown (corrugator, procerus): a vertical furrow (and a shorter one beside it)
    between the brows leaning outwards as it rises, the corrugator's bulge above the inner
    brow, a smaller bulge on the midline and a horizontal procerus line at the nose root."""
    xs = _lateral(x, anchors, side)
    inner = _landmark(anchors, 21, 22, side)
    inner_xs = abs(inner[0] - anchors["midline"][0])
    rise = y - inner[1]
    furrow = 0.45 * inner_xs + 0.1 * rise + 0.4 * np.sin(rise / 4.0)
    length = _step(rise, -11.0, -5.0) * (1.0 - _step(rise, 5.0, 13.0))
    h = -1.0 * _gauss(xs - furrow, 1.4) * length
    h -= 0.4 * _gauss(xs - furrow - 3.8, 1.2) * _step(rise, -8.0, -3.0) * (1.0 - _step(rise, 2, 8))
    h += 0.9 * _gauss(xs - furrow - 6.5, 4.0) * _gauss(rise - 2.0, 4.0)
    h += 0.5 * _gauss(xs, 2.6) * _gauss(rise - 1.0, 5.0)
    h -= 0.35 * _gauss(rise + 8.0, 1.3) * (1.0 - _step(xs, 4.0, 9.0))
    return h * _side_blend(xs)


def _curve_distance(
    xs: NDArray, y: NDArray, start: NDArray, control: NDArray, end: NDArray
) -> tuple[NDArray, NDArray]:
    """(signed lateral offset from a quadratic Bezier running downwards (mm, + = lateral),
    position along it 0..1) for points (xs, y) in side-lateral coordinates."""
    t = np.linspace(0.0, 1.0, 48)[:, None]
    curve = (1 - t) ** 2 * start + 2 * (1 - t) * t * control + t**2 * end  # (48, 2)
    order = np.argsort(curve[:, 1])
    offset = xs - np.interp(y, curve[order, 1], curve[order, 0])
    along = np.interp(y, curve[order, 1], t[order, 0])
    return offset, along


def _nasolabial_curve(
    anchors: Anchors, side: int
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """(start, control, end) of the nasolabial fold's Bezier in side-lateral mm: from above
    the nose wing to beside and below the mouth corner, bowed outwards."""
    mid = anchors["midline"][0]
    wing = _landmark(anchors, 31, 35, side)
    corner = _landmark(anchors, 48, 54, side)
    start = np.array([abs(wing[0] - mid) + 6.0, wing[1] + 2.0])
    end = np.array([abs(corner[0] - mid) + 8.0, corner[1] - 11.0])
    return start, 0.5 * (start + end) + np.array([4.0, 0.0]), end


def _nasolabial_span(y: NDArray, start: NDArray, end: NDArray) -> NDArray:
    return _step(y, end[1] - 3.0, end[1] + 4.0) * (1.0 - _step(y, start[1] - 2.0, start[1] + 3.0))


def _nasolabial(x: NDArray, y: NDArray, anchors: Anchors, side: int) -> NDArray:
    """mouthSmile: the nasolabial fold from above the nose wing to beside the mouth corner,
    bowed outwards, with the cheek bulging over it on the lateral side."""
    xs = _lateral(x, anchors, side)
    start, control, end = _nasolabial_curve(anchors, side)
    offset, along = _curve_distance(xs, y, start, control, end)
    span = _nasolabial_span(y, start, end)
    depth = 0.75 + 0.25 * np.sin(np.pi * along)
    h = -0.8 * depth * _gauss(offset, 2.0) + 0.75 * _gauss(offset - 7.0, 4.5) * _step(offset, 0, 3)
    return h * span * (xs > 0)


def _nasolabial_region(x: NDArray, y: NDArray, anchors: Anchors, side: int) -> NDArray:
    """Where a photo's own nasolabial fold may lie: the band from 1 mm outside the line nose
    wing -> mouth corner out to the drawn fold's lateral edge, over the fold's height. The
    drawn fold is where a smile *adds* one; a photo's own fold lies nearer the lips (on the
    astronaut the removal over the drawn fold's support left her fold, just medial to it, as
    an orange line beside the mouth)."""
    xs = _lateral(x, anchors, side)
    mid = anchors["midline"][0]
    wing = _landmark(anchors, 31, 35, side)
    corner = _landmark(anchors, 48, 54, side)
    start, control, end = _nasolabial_curve(anchors, side)
    offset, _ = _curve_distance(xs, y, start, control, end)
    inner_top = abs(wing[0] - mid) + 1.0
    inner_bottom = abs(corner[0] - mid) + 1.0
    t = np.clip((y - start[1]) / (end[1] - start[1]), 0.0, 1.0)
    inner = inner_top + t * (inner_bottom - inner_top)
    band = _step(xs - inner, 0.0, 1.5) * (1.0 - _step(offset, 4.0, 6.0))
    return band * _nasolabial_span(y, start, end) * (xs > 0)


def _cheek(x: NDArray, y: NDArray, anchors: Anchors, side: int) -> NDArray:
    """cheekSquint: the cheek raised into a bulge under the eye, a soft crease below the
    lower lid."""
    xs = _lateral(x, anchors, side)
    mid = anchors["midline"][0]
    outer = _landmark(anchors, 36, 45, side)
    inner = _landmark(anchors, 39, 42, side)
    eye_xs = 0.5 * (abs(outer[0] - mid) + abs(inner[0] - mid))
    eye_y = 0.5 * (outer[1] + inner[1])
    h = 1.0 * _gauss(xs - eye_xs - 2.0, 9.0) * _gauss(y - eye_y + 20.0, 7.0)
    crease_y = eye_y - 9.0 - 0.012 * (xs - eye_xs) ** 2
    h -= 0.5 * _gauss(y - crease_y, 1.2) * _gauss(xs - eye_xs, 9.0)
    return h * (xs > 0)


def _crows_feet(x: NDArray, y: NDArray, anchors: Anchors, side: int) -> NDArray:
    """cheekSquint / eyeSquint: orbicularis lines fanning out from the outer eye corner."""
    xs = _lateral(x, anchors, side)
    mid = anchors["midline"][0]
    corner = _landmark(anchors, 36, 45, side)
    dx = xs - (abs(corner[0] - mid) + 2.5)
    dy = y - corner[1]
    r = np.hypot(dx, dy)
    theta = np.arctan2(dy, dx)
    h = np.zeros_like(x)
    for angle, depth, reach in ((-40.0, 0.5, 15.0), (-18.0, 0.65, 19.0), (4.0, 0.6, 18.0),
                                (26.0, 0.4, 14.0)):  # fmt: skip
        across = r * np.sin(theta - np.radians(angle))
        aligned = np.cos(theta - np.radians(angle)) > 0.5
        # Each line fades in from the corner and out towards its end (no drawn strokes).
        fade = _step(r, 4.0, 8.0) * (1.0 - _step(r, reach - 7.0, reach))
        h -= depth * _gauss(across, 0.95) * aligned * fade
    return h


def _nose(x: NDArray, y: NDArray, anchors: Anchors, side: int) -> NDArray:
    """noseSneer: bunny lines running down and out over the side of the nasal bridge and
    horizontal lines at the nose root."""
    xs = _lateral(x, anchors, side)
    root = anchors["lm"][27]
    top = root[1] - 5.0
    angle = np.radians(35.0)
    across = xs * np.sin(angle) + (y - top) * np.cos(angle)
    h = np.zeros_like(x)
    for k, depth in enumerate((0.65, 0.55, 0.4)):
        h -= depth * _gauss(across + 3.4 * k, 1.0)
    h *= _step(xs, 3.5, 6.0) * (1.0 - _step(xs, 11.0, 15.0))  # the side walls, not the ridge
    h *= _step(y, top - 12.0, top - 7.0) * (1.0 - _step(y, top + 2.0, top + 5.0))
    for k, depth in enumerate((0.6, 0.4)):
        h -= depth * _gauss(y - root[1] + 1.0 - 3.0 * k, 1.0) * (1.0 - _step(xs, 5.0, 9.0))
    return h * _side_blend(xs)


def _chin(x: NDArray, y: NDArray, anchors: Anchors, side: int) -> NDArray:
    """mouthShrugLower (mentalis): dimpled chin skin (peau d'orange: small pits on a jittered
    4.2 mm grid, fixed pattern), the chin bunched up and the labiomental crease deepened."""
    xc = x - anchors["midline"][0]
    lip = anchors["lm"][57]
    chin = anchors["lm"][8]
    centre_y = 0.5 * (lip[1] + chin[1]) - 2.0
    rng = np.random.default_rng(20240)  # a fixed pattern, the same for everyone
    h = np.zeros_like(x)
    spacing = 4.2
    for gy in np.arange(-12.6, 12.7, spacing):
        for gx in np.arange(-16.8, 16.9, spacing):
            jx, jy = rng.uniform(-1.4, 1.4, 2)
            depth = rng.uniform(0.25, 0.65)
            h -= depth * _gauss(np.hypot(xc - gx - jx, y - centre_y - gy - jy), 1.5)
    ellipse = (xc / 15.0) ** 2 + ((y - centre_y) / 9.0) ** 2
    h *= 1.0 - _step(ellipse, 0.5, 1.0)
    h += 0.6 * _gauss(xc, 9.0) * _gauss(y - centre_y, 6.0)
    crease_y = lip[1] - 6.0 + 0.02 * xc**2
    h -= 0.9 * _gauss(y - crease_y, 1.6) * (1.0 - _step(np.abs(xc), 10.0, 16.0))
    return h


def _lip_corner(x: NDArray, y: NDArray, anchors: Anchors, side: int) -> NDArray:
    """mouthFrown (depressor anguli oris): a pit at the mouth corner and the marionette fold
    running down and out from it, with the skin bulging beside it."""
    xs = _lateral(x, anchors, side)
    mid = anchors["midline"][0]
    corner = _landmark(anchors, 48, 54, side)
    cx = abs(corner[0] - mid)
    start = np.array([cx + 1.5, corner[1] - 2.0])
    end = np.array([cx + 3.0, corner[1] - 17.0])
    control = 0.5 * (start + end) + np.array([2.5, 0.0])  # bowed out around the chin
    offset, along = _curve_distance(xs, y, start, control, end)
    span = _step(y, end[1] - 2.0, end[1] + 4.0) * (1.0 - _step(y, start[1] - 1.0, start[1] + 2.0))
    h = -0.7 * (1.0 - 0.5 * along) * _gauss(offset, 2.2) * span
    h += 0.8 * _gauss(offset - 6.0, 4.0) * _step(offset, 0.0, 3.0) * span
    h -= 0.5 * _gauss(np.hypot(xs - cx - 2.0, y - corner[1] + 1.0), 2.2)
    return h * (xs > 0)


def wrinkle_specs() -> tuple[WrinkleSpec, ...]:
    """The fold maps and their driving shapes (both sides where the shapes have sides)."""
    specs: list[WrinkleSpec] = []
    for side, tag in ((1, "L"), (-1, "R")):
        specs += [
            WrinkleSpec(f"forehead_inner_{tag}", side, {f"browInnerUp_{tag}": 1.0}, _forehead(1)),
            WrinkleSpec(f"forehead_outer_{tag}", side, {f"browOuterUp_{tag}": 1.0}, _forehead(0)),
            WrinkleSpec(f"glabella_{tag}", side, {f"browDown_{tag}": 1.0}, _glabella),
            WrinkleSpec(
                f"nasolabial_{tag}", side,
                {f"mouthSmile_{tag}": 1.0, f"cheekSquint_{tag}": 0.4, f"noseSneer_{tag}": 0.4},
                _nasolabial, _nasolabial_region,
            ),
            WrinkleSpec(
                f"cheek_{tag}", side, {f"cheekSquint_{tag}": 1.0, f"mouthSmile_{tag}": 0.5}, _cheek
            ),
            WrinkleSpec(
                f"crows_feet_{tag}", side,
                {f"cheekSquint_{tag}": 0.8, f"eyeSquint_{tag}": 0.6, f"mouthSmile_{tag}": 0.3},
                _crows_feet,
            ),
            WrinkleSpec(f"nose_{tag}", side, {f"noseSneer_{tag}": 1.0}, _nose),
            WrinkleSpec(f"lip_corner_{tag}", side, {f"mouthFrown_{tag}": 1.0}, _lip_corner),
        ]  # fmt: skip
    specs.append(WrinkleSpec("chin", 0, {"mouthShrugLower": 1.0}, _chin))
    return tuple(specs)


@numba.njit(cache=True, nogil=True, fastmath=True)
def _update_kernel(
    expression: NDArray[np.float32],
    source: NDArray[np.float32],
    drivers: NDArray[np.float32],
    strength: float,
    values: NDArray[np.float32],
    offsets: NDArray[np.int64],
    boxes: NDArray[np.int32],
    triangle_indptr: NDArray[np.int64],
    triangle_index: NDArray[np.int32],
    activation: NDArray[np.float32],
    last_activation: NDArray[np.float32],
    out: NDArray[np.float32],
    folded: NDArray[np.bool_],
) -> None:
    """One frame: activations (J,) from the expression's increase over the source's, then
    ``out`` (T, T, 3) = Σ_j activation[j] · map_j over the active maps' boxes (the previous
    frame's active boxes, ``last_activation`` > 0, cleared first; the shader clips the sum to
    :data:`GAIN_RANGE`) and ``folded`` (F,) = the triangles meeting an active map."""
    for j in range(drivers.shape[0]):
        total = np.float32(0.0)
        for k in range(drivers.shape[1]):
            weight = drivers[j, k]
            if weight != 0.0:
                # weight > 0: a fold the expression adds (its rise over the photo's);
                # weight < 0: a fold of the photo's that it removes (its fall below it)
                rise = expression[k] - source[k] if weight > 0.0 else source[k] - expression[k]
                d = min(max(rise, np.float32(0.0)), np.float32(1.0))
                total += abs(weight) * d * d * (np.float32(3.0) - np.float32(2.0) * d)
        activation[j] = min(total, np.float32(1.0)) * np.float32(strength)
    for j in range(boxes.shape[0]):  # clear what the previous frame's active maps wrote
        if last_activation[j] > 0.0:
            row0, col0, rows, cols = boxes[j, 0], boxes[j, 1], boxes[j, 2], boxes[j, 3]
            for r in range(row0, row0 + rows):
                for c in range(col0, col0 + cols):
                    for ch in range(3):
                        out[r, c, ch] = 0.0
    folded[:] = False
    for j in range(boxes.shape[0]):
        a = activation[j]
        last_activation[j] = a
        if a <= 0.0:
            continue
        row0, col0, rows, cols = boxes[j, 0], boxes[j, 1], boxes[j, 2], boxes[j, 3]
        base = offsets[j]
        for r in range(rows):
            for c in range(cols):
                for ch in range(3):
                    out[row0 + r, col0 + c, ch] += a * values[base + (r * cols + c) * 3 + ch]
        for t in range(triangle_indptr[j], triangle_indptr[j + 1]):
            folded[triangle_index[t]] = True


class WrinkleField:
    """Per-avatar fold maps and the per-frame combined map (see module doc).

    Attributes:
        names: (J,) map names.
        drivers: (J, E) float32 weight of each shape's ramped increase in each map.
        values, offsets, boxes: the maps' texels (flat float32), their starts (J + 1,) int64
            and boxes (J, 4) int32 (row0, col0, rows, cols) in the (T, T, 3) map.
        triangle_indptr, triangle_index: (J + 1,) int64 / (n,) int32 CSR of the rendered
            triangles whose UV box meets each map's box.
        detail_scale: the photo's skin-detail factor the maps were scaled by.
        combined: (T, T, 3) float32 gain offset of the last frame per RGB channel (0 where
            no fold; an added fold is grey, a removed one takes the photo's own colour).
        folded: (F,) bool, the triangles meeting one of the last frame's active maps.
    """

    def __init__(
        self,
        names: tuple[str, ...],
        drivers: NDArray[np.float32],
        maps: list[tuple[int, int, NDArray[np.float32]]],
        size: int,
        detail_scale: float,
        triangle_uv: NDArray[np.float32],
        skin_triangles: NDArray[np.bool_],
    ) -> None:
        self.names = names
        self.drivers = np.ascontiguousarray(drivers, np.float32)
        self.boxes = np.array(
            [(r, c, m.shape[0], m.shape[1]) for r, c, m in maps], np.int32
        ).reshape(-1, 4)
        sizes = [m.size for _, _, m in maps]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.values = (
            np.concatenate([m.reshape(-1) for _, _, m in maps]).astype(np.float32)
            if maps
            else np.zeros(0, np.float32)
        )
        # Triangles (texel boxes, one texel of margin for the bilinear sample) per map.
        cols = triangle_uv[..., 0] * size - 0.5
        rows = (1.0 - triangle_uv[..., 1]) * size - 0.5
        t_r0, t_r1 = rows.min(1) - 1.0, rows.max(1) + 1.0
        t_c0, t_c1 = cols.min(1) - 1.0, cols.max(1) + 1.0
        lists = []
        for r, c, m in maps:
            meets = (
                skin_triangles
                & (t_r1 >= r) & (t_r0 <= r + m.shape[0]) & (t_c1 >= c) & (t_c0 <= c + m.shape[1])
            )  # fmt: skip
            lists.append(np.nonzero(meets)[0].astype(np.int32))
        self.triangle_indptr = np.concatenate([[0], np.cumsum([len(x) for x in lists])]).astype(
            np.int64
        )
        self.triangle_index = (
            np.concatenate(lists).astype(np.int32) if lists else np.zeros(0, np.int32)
        )
        self.detail_scale = float(detail_scale)
        self.combined = np.zeros((size, size, 3), np.float32)
        self.folded = np.zeros(len(skin_triangles), np.bool_)
        self.activation = np.zeros(len(names), np.float32)
        self._last_activation = np.zeros(len(names), np.float32)

    def update(
        self, expression: NDArray[np.float32], source: NDArray[np.float32], strength: float
    ) -> NDArray[np.float32]:
        """Fill :attr:`combined`, :attr:`folded` and :attr:`activation` (J,) for this frame's
        expression (E,) given the photo's own (E,); returns :attr:`combined`."""
        _update_kernel(
            np.ascontiguousarray(expression, np.float32), source, self.drivers,
            float(strength), self.values, self.offsets, self.boxes, self.triangle_indptr,
            self.triangle_index, self.activation, self._last_activation, self.combined,
            self.folded,
        )  # fmt: skip
        return self.combined


def _sample(image: NDArray[np.float32], points: NDArray[np.floating]) -> NDArray[np.float32]:
    """(N,) or (N, C) nearest samples of ``image`` at crop pixel coordinates (N, 2)."""
    size = image.shape[0]
    cols = np.clip(np.round(points[:, 0]).astype(int), 0, size - 1)
    rows = np.clip(np.round(points[:, 1]).astype(int), 0, size - 1)
    return image[rows, cols]


def _skin_likelihood(
    crop_image: NDArray[np.uint8], skin_points: NDArray[np.floating]
) -> NDArray[np.float32]:
    """(S, S) float32 in [0, 1]: how much each crop pixel looks like this face's skin (its
    Lab colour near the median of ``skin_points`` (N, 2)); hair, brows, shadowed hairline and
    background fall to 0, so no fold is drawn over a fringe of hair."""
    smooth = cv2.GaussianBlur(crop_image, (0, 0), 1.0 * crop_image.shape[0] / 512.0 + 0.5)
    lab = cv2.cvtColor(smooth, cv2.COLOR_RGB2LAB).astype(np.float32)
    reference = np.median(_sample(lab, skin_points), axis=0)
    diff = lab - reference
    # Lightness varies with the shading across a face; hue and chroma much less.
    distance = np.sqrt(diff[..., 1] ** 2 + diff[..., 2] ** 2 + (0.12 * diff[..., 0]) ** 2)
    likelihood = 1.0 - _step(distance, 6.0, 14.0)
    return np.asarray(cv2.GaussianBlur(likelihood.astype(np.float32), (0, 0), 1.5), np.float32)


def _skin_detail(
    crop_image: NDArray[np.uint8],
    skin_points: NDArray[np.floating],
    skin: NDArray[np.float32],
) -> float:
    """Median relative fine detail |L − blur(L)| / blur(L) of the photo at the visible skin
    points (N, 2) (crop pixel coordinates) that look like skin (``skin`` (S, S) > 0.8), the
    crop taken to 512 px so the measure does not depend on the render size."""
    size = crop_image.shape[0]
    factor = 512.0 / size
    grey: NDArray[np.float32] = cv2.cvtColor(crop_image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    if size != 512:
        grey = np.asarray(cv2.resize(grey, (512, 512), interpolation=cv2.INTER_LINEAR), np.float32)
    blur = cv2.GaussianBlur(grey, (0, 0), 1.5)
    detail = np.abs(grey - blur) / np.maximum(blur, 8.0)
    detail = cv2.GaussianBlur(detail, (0, 0), 2.0)  # a local mean, not one pixel's noise
    keep = _sample(skin, skin_points) > 0.8
    if keep.sum() < 20:
        return _DETAIL_REFERENCE
    return float(np.median(_sample(detail, skin_points[keep] * factor)))


def _sh_grey(normals: NDArray[np.float64], grey: NDArray[np.float64]) -> NDArray[np.float64]:
    """(N,) SH shading summed over the channels of camera-space unit normals (N, 3)."""
    x, y, z = normals[:, 0], normals[:, 1], normals[:, 2]
    basis = np.stack(
        [np.ones_like(x), y, z, x, x * y, y * z, 3.0 * z * z - 1.0, x * z, x * x - y * y], 1
    )
    return basis @ grey


def _texel_box(
    rows: NDArray[np.intp], cols: NDArray[np.intp], gain: NDArray[np.float64], size: int
) -> tuple[int, int, NDArray[np.float32]]:
    """(row0, col0, box (h, w, 3)) of the texels (rows, cols) (N,) whose RGB gain offset
    (N, 3) is not negligible, with one texel of margin (the shader's bilinear sample at a
    chart's edge)."""
    keep = np.abs(gain).max(1) > _NEGLIGIBLE_GAIN
    if not keep.any():
        return (0, 0, np.zeros((1, 1, 3), np.float32))
    texel = np.zeros((size, size, 3), np.float32)
    texel[rows[keep], cols[keep]] = gain[keep]
    r0, r1 = int(rows[keep].min()), int(rows[keep].max()) + 1
    c0, c1 = int(cols[keep].min()), int(cols[keep].max()) + 1
    box = texel[max(r0 - 1, 0) : r1 + 1, max(c0 - 1, 0) : c1 + 1]
    return (max(r0 - 1, 0), max(c0 - 1, 0), np.ascontiguousarray(box))


def build_wrinkles(
    model: FaceModelData,
    base: NDArray[np.float32],
    sh_lighting: NDArray[np.float32],
    source_rotation: NDArray[np.float64],
    crop_image: NDArray[np.uint8],
    source_position: NDArray[np.float32],
    photo_weight: NDArray[np.float32],
    triangle_uv: NDArray[np.float32],
    skin_triangles: NDArray[np.bool_],
    specs: tuple[WrinkleSpec, ...] | None = None,
    size: int = WRINKLE_MAP_SIZE,
    unfold: bool = True,
) -> WrinkleField:
    """Bake the fold maps of one avatar.

    Args:
        model: the ICT model (UV layout, landmarks, expression names).
        base: (Vr, 3) identity-applied neutral vertices (cm), ``RenderMesh.base``.
        sh_lighting: (9, 3) the photo's fitted SH light; source_rotation: (3,) Euler angles.
        crop_image: (S, S, 3) uint8 the renderer's crop; source_position (Vr, 2) and
            photo_weight (Vr,) of the render mesh (where the skin's fine detail is measured).
        triangle_uv: (F, 3, 2) UVs of the rendered triangles and skin_triangles (F,) bool
            those that carry folds (``RenderMesh.triangle_uv``, label ``LABEL_SKIN``).
        specs: the fold maps (default :func:`wrinkle_specs`).
        size: texels per side of the maps.
        unfold: also bake, per fold, a map that flattens the photo's own fold in that
            region, driven by the fall of the same shapes below the photo's expression.
    """
    specs = wrinkle_specs() if specs is None else specs
    start, stop = model.face_ranges["face"]
    v_start, v_stop = model.vertex_ranges["face"]
    tris = model.faces[start:stop]
    uv_tris = model.face_uvs[start:stop]
    # 1. Rasterize the face part in UV space: each texel's surface point and normal.
    uv_points = np.stack([model.uvs[:, 0] * size, (1.0 - model.uvs[:, 1]) * size], 1)
    buffers = RasterBuffers(size, size)
    fragments = rasterize(
        np.ascontiguousarray(uv_points, np.float32),
        np.zeros(len(uv_points), np.float32),
        np.ascontiguousarray(uv_tris, np.int32),
        np.zeros(len(uv_tris), np.bool_),
        buffers,
    )
    covered = fragments.triangle >= 0
    tri = fragments.triangle[covered]
    bary = fragments.barycentric[covered].astype(np.float64)  # (N, 3)
    corners = tris[tri]  # (N, 3) vertex ids
    vertices = base[v_start:v_stop].astype(np.float64) * 10.0  # mm
    position = np.einsum("nk,nkd->nd", bary, vertices[corners - v_start])
    normals = np.zeros((v_stop - v_start, 3), np.float32)
    vertex_normals(base[v_start:v_stop], np.ascontiguousarray(tris - v_start), normals)
    normal = np.einsum("nk,nkd->nd", bary, normals[corners - v_start].astype(np.float64))
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-9)
    anchors = fold_anchors(base, model)
    # 2. Light: camera-space normals of the surface and of the surface tilted by each fold.
    rotation = euler_to_matrix(*(float(a) for a in source_rotation))
    grey = np.asarray(sh_lighting, np.float64).reshape(9, 3).sum(1)
    shade0 = _sh_grey(normal @ rotation.T, grey)
    lit = shade0 > 0.05 * max(float(np.abs(grey[0])), 1e-6)
    tangent_x = np.array([1.0, 0.0, 0.0]) - normal[:, :1] * normal
    tangent_y = np.array([0.0, 1.0, 0.0]) - normal[:, 1:2] * normal
    # 3. Where the photo shows skin (not hair over the forehead), and its fine detail.
    narrow = np.arange(v_start, min(model.vertex_ranges["narrow_face"][1], v_stop))
    seen = narrow[photo_weight[narrow] > 0.9]
    skin = _skin_likelihood(crop_image, source_position[seen])
    texel_source = np.einsum("nk,nkd->nd", bary, source_position[corners].astype(np.float64))
    texel_skin = _sample(skin, texel_source)
    detail = _skin_detail(crop_image, source_position[seen], skin)
    detail_scale = float(np.clip(np.sqrt(detail / _DETAIL_REFERENCE), *_DETAIL_LIMITS))
    depth_mm = _DEPTH_MM * detail_scale
    # Only the skin facing forwards: not the inner lips, nostrils or ears that share (x, y).
    facing = _step(normal[:, 2], 0.15, 0.45)
    x, y = position[:, 0], position[:, 1]
    rows, cols = np.nonzero(covered)
    eps = 0.25  # mm, finite differences of the height
    maps: list[tuple[int, int, NDArray[np.float32]]] = []
    drivers = np.zeros((len(specs), model.num_expressions), np.float32)
    for j, spec in enumerate(specs):
        for shape, weight in spec.drivers.items():
            drivers[j, model.expression_index(shape)] = weight
        h = spec.height(x, y, anchors, spec.side) * depth_mm
        active = np.abs(h) > 1e-3 * depth_mm
        if not active.any():
            maps.append((0, 0, np.zeros((1, 1, 3), np.float32)))
            continue
        idx = np.nonzero(active)[0]
        hx = (spec.height(x[idx] + eps, y[idx], anchors, spec.side) * depth_mm - h[idx]) / eps
        hy = (spec.height(x[idx], y[idx] + eps, anchors, spec.side) * depth_mm - h[idx]) / eps
        tilted = normal[idx] - hx[:, None] * tangent_x[idx] - hy[:, None] * tangent_y[idx]
        tilted /= np.linalg.norm(tilted, axis=1, keepdims=True)
        ratio = np.where(
            lit[idx], _sh_grey(tilted @ rotation.T, grey) / np.maximum(shade0[idx], 1e-6), 1.0
        )
        gain = ((ratio - 1.0) + _CAVITY_PER_MM * h[idx]) * texel_skin[idx] * facing[idx]
        keep = np.abs(gain) > _NEGLIGIBLE_GAIN
        if not keep.any():
            maps.append((0, 0, np.zeros((1, 1, 3), np.float32)))
            continue
        gain_all = np.zeros((len(rows), 3))
        gain_all[idx[keep]] = gain[keep, None]
        maps.append(_texel_box(rows, cols, gain_all, size))
    names = [s.name for s in specs]
    if unfold:
        # 4. The photo's own folds, flattened where the expression falls below the photo's.
        texel_weight = np.einsum("nk,nk->n", bary, photo_weight[corners].astype(np.float64))
        scale = pixels_per_mm(base, source_position, model)
        flatten = flatten_gain(crop_image, skin, texel_source, scale)
        fold_texel_skin = _sample(fold_skin(skin, scale), texel_source)
        gate = fold_texel_skin * facing * _step(texel_weight, 0.8, 0.95)
        sigma = FLATTEN_REGION_MM * size / _UV_MM
        regions = []
        for spec in specs:
            support = np.zeros((size, size), np.float32)
            region_of = spec.region or spec.height
            support[rows, cols] = np.abs(region_of(x, y, anchors, spec.side))
            blurred = cv2.GaussianBlur(support, (0, 0), sigma)
            regions.append(_step(blurred[rows, cols].astype(np.float64), 0.01, 0.06))
        # Overlapping regions share a texel (their weights sum to at most the largest one):
        # the fold is flattened once, however many of its shapes fall.
        total = np.maximum(np.sum(regions, axis=0), 1e-9)
        unfold_drivers = []
        for j, (spec, region) in enumerate(zip(specs, regions, strict=True)):
            share = region * region / total
            maps.append(_texel_box(rows, cols, (share * gate)[:, None] * flatten, size))
            names.append(f"unfold_{spec.name}")
            unfold_drivers.append(-_removal_drivers(spec, drivers[j], model))
        lips = lip_cleanup_gain(
            crop_image, position[:, :2], texel_source, texel_weight, rows, cols, size,
            anchors["lm"][48:60], scale,
        )  # fmt: skip
        maps.append(_texel_box(rows, cols, lips, size))
        names.append("unfold_lips")
        lip_row = np.zeros(model.num_expressions, np.float32)
        for shape, weight in LIP_DRIVERS.items():
            lip_row[model.expression_index(shape)] = -weight
        unfold_drivers.append(lip_row)
        drivers = np.concatenate([drivers, np.asarray(unfold_drivers, np.float32)], 0)
    logger.info("wrinkles: %d maps, skin detail %.4f (scale %.2f)", len(maps), detail, detail_scale)
    return WrinkleField(
        tuple(names), drivers, maps, size, detail_scale,
        np.asarray(triangle_uv, np.float32), np.asarray(skin_triangles, np.bool_),
    )  # fmt: skip


# The calibration fitter cannot read a cheek raise from landmarks: the astronaut rendered at
# cheekSquint 0.8 (with her full smile) refits at 0.00-0.16 (L1 1 to 0), so a photo's raised
# cheeks and crow's feet come with its smile's reading, never with its own. A fold map that
# removes them is driven by the smile's fall as much as a fall of cheekSquint would drive it.
# (Since session 12 the calibration gives a smile its cheek raise, calibration/coupling.py,
# so both fall together; this still serves avatars calibrated without it.)
_UNREAD_SHAPES: dict[str, str] = {"cheekSquint": "mouthSmile"}


def _removal_drivers(
    spec: WrinkleSpec, own: NDArray[np.float32], model: FaceModelData
) -> NDArray[np.float32]:
    """(E,) weights of the shapes whose fall below the photo's own drives the removal map of
    ``spec``: its own drivers ``own`` (E,), with a shape the fitter cannot read carried by the
    one it comes with in a photo (:data:`_UNREAD_SHAPES`)."""
    out = own.copy()
    for shape, weight in spec.drivers.items():
        stem, _, side = shape.rpartition("_")
        if stem in _UNREAD_SHAPES:
            partner = f"{_UNREAD_SHAPES[stem]}_{side}"
            if partner in model.expression_names:
                k = model.expression_index(partner)
                out[k] = max(out[k], weight)
    return out
