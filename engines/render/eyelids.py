"""Closing eyelids that look like skin, not like stretched lashes.

In the photo the upper lid is a thin band of folded skin and lashes; the ICT blink shapes
stretch that band over the eyeball, so warping the photo alone paints a grey smear of
lashes over the closed eye. Here each lid vertex gets a weight ``m`` (how far the blink
shape moves it, relative to the lid's largest move; 1 on the lid margins) and, per frame,
its photo weight is lowered by ``m · s(blink)``; where the photo is not used the shader
takes the UV texture, painted once per avatar with her skin: the photo's blurred colour on
the lid vertices that barely move (only where it is skin), continued over the lid by a
harmonic extension (no step at the lid's upper boundary), a soft crease, the photo's own fine
skin detail tiled at the photo's scale, and, on the margins, the photo's lash colour.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numba
import numpy as np
from numpy.typing import NDArray

from engines.face_model.ict import FaceModelData
from engines.render.rasterizer import RasterBuffers, rasterize

__all__ = ["EyelidSkin", "apply_eyelids", "apply_shut_eyes", "build_eyelids", "soften_lid_shading"]

_BLINK_SHAPES = ("eyeBlink_L", "eyeBlink_R")
_MOVING_CM = 0.05  # a vertex the blink moves less than this is not part of the lid
_TONE_BAND = (0.02, 0.12)  # lid vertices whose colour is the lid's skin tone (relative move)
_FULL_MOVE = 0.2  # relative move from which a closed lid is all skin tone
_LASH_BAND = (0.45, 0.85)  # barycentric weight of the margin in a lid triangle: lash colour
_BLINK_RAMP = (0.1, 0.8)  # blink weight over which the lid's photo gives way to skin tone
_SHUT_RAMP = (0.6, 0.9)  # blink weight over which the eyeball between the lids turns lash-dark
_LID_SHADING = 0.6  # share of the SH ratio's shading a shut lid's skin colour loses
_FIXED_BELOW = 0.1  # lid vertices moving less than this keep the photo's (blurred) colour
_SKIN_BRIGHTNESS = 0.9  # fixed lid colours darker than this share of the bright ones: free
_SKIN_WARMTH = 0.75  # ... or less red-over-blue than this share of the median: free
_COLOUR_BLUR = 2.0  # px: sigma of the photo blur the lid's colour field is taken from
_DETAIL_GAIN = 3.0  # contrast of the photo's skin detail on the lid (the half-resolution
# raster and its bilinear upsampling keep about half of it)
_DETAIL_BLUR = 2.5  # px: the detail is the photo's luminance over its blur at this sigma
_PATCH = 24  # px: side of the clean skin patch the detail is tiled from
_DETAIL_MATCH = (1.0, 1.3)  # the patch's detail is scaled up to the typical skin around the
# eye by at most this (the cleanest square is flatter than her skin)
# Lines of a shut lid, laid out where the lid lies when shut (output px, dy > 0 downwards
# from the line where the lids meet):
_LASH_LINE = (0.6, 1.1, 0.9)  # lash line (raster px): sigma above / below (lashes hang
# down), strength
_LEADING_EDGE = 0.6  # relative blink move from which an upper-lid vertex is its leading edge
_LASH_DARK = 15  # percentile of brightness of the photo's upper margin: the lash colour
_CREASE_LINE = (0.2, 1.8, 0.18)  # crease: height over the lash line (share of the eye's
# width), sigma, darkening
_LID_BULGE = 0.05  # the lid's convex middle, between lash line and crease, catches light


@dataclass(frozen=True)
class EyelidSkin:
    """Lid vertices and the texture their skin tone comes from.

    Attributes:
        index: (N,) int32 lid vertices (skin vertices the blink shapes move).
        weight: (N,) float32 in [0, 1]: how much of the lid turns to skin tone when shut.
        shape: (N,) int32 expression index of the blink shape that moves each vertex.
        texture: (T, T, 3) float32 the avatar's UV texture with the lids painted skin tone.
        tone: (2, 3) float32 the skin tone of the left and right lid (sRGB 0-255): the
            median of the skin around the eye that the shut lid continues.
        lash: (2, 3) float32 the lash colour of the left and right lid margin.
        blink: (2,) int32 expression index of eyeBlink_L and eyeBlink_R.
        eyeball_index: (M,) int32 eyeball vertices; eyeball_side (M,) int32 0 = left, 1 =
            right (a nearly shut eye shows its side's lash colour).
        lash_line: (2, K) int32 the leading edge of each upper lid (the vertices its blink
            moves furthest; -1 pads), lash_count (2,) int32 how many: the lash line of a shut
            eye is drawn along the lowest of them in each column.
        lash_dark: (2, 3) float32 that line's colour: the darkest of the photo's margin (its
            15th percentile of brightness), darker than ``lash``, the margin band's.
    """

    index: NDArray[np.int32]
    weight: NDArray[np.float32]
    shape: NDArray[np.int32]
    texture: NDArray[np.float32]
    tone: NDArray[np.float32]
    lash: NDArray[np.float32]
    blink: NDArray[np.int32]
    eyeball_index: NDArray[np.int32]
    eyeball_side: NDArray[np.int32]
    lash_line: NDArray[np.int32]
    lash_count: NDArray[np.int32]
    lash_dark: NDArray[np.float32]


def build_eyelids(
    model: FaceModelData,
    num_skin: int,
    margin: NDArray[np.int32],
    faces: NDArray[np.int32],
    triangle_uv: NDArray[np.float32],
    is_skin_face: NDArray[np.bool_],
    source_position: NDArray[np.float32],
    photo_weight: NDArray[np.float32],
    image: NDArray[np.uint8],
    texture: NDArray[np.float32],
) -> EyelidSkin:
    """Find the lids, their skin tone, and paint it into a copy of the texture.

    Args:
        model: the ICT face model (blink shapes).
        num_skin: skin vertices are ``[0, num_skin)``.
        margin: vertices of the skin's openings (the lid margins take the lash colour).
        faces: (F, 3) rendered triangles; triangle_uv (F, 3, 2); is_skin_face (F,) bool.
        source_position: (Vr, 2) where each vertex is in ``image`` (pixel-centre coords).
        photo_weight: (Vr,) static photo weight (1 = the photo saw the vertex well).
        image: (S, S, 3) uint8 the source crop.
        texture: (T, T, 3) float32 the avatar's UV texture (not modified).
    """
    moves = []
    for name in _BLINK_SHAPES:
        delta = model.expression_basis[model.expression_index(name), :num_skin]
        moves.append(np.linalg.norm(delta, axis=1))
    move = np.stack(moves)  # (2, num_skin)
    side = np.argmax(move, axis=0)
    largest = move[side, np.arange(num_skin)]
    index = np.flatnonzero(largest > _MOVING_CM).astype(np.int32)
    weight = np.zeros(len(index), np.float32)
    tone = np.zeros((2, 3), np.float32)
    painted = np.array(texture, np.float32, copy=True)
    shapes = np.array([model.expression_index(n) for n in _BLINK_SHAPES], np.int32)
    eyeballs = [np.arange(*model.vertex_ranges[f"eyeball_{n}"]) for n in ("left", "right")]
    eyeball_index = np.concatenate(eyeballs).astype(np.int32)
    eyeball_side = np.repeat([0, 1], [len(e) for e in eyeballs]).astype(np.int32)
    lash = np.zeros((2, 3), np.float32)
    lash_dark = np.zeros((2, 3), np.float32)
    if len(index) == 0:
        return EyelidSkin(
            index,
            weight,
            np.zeros(0, np.int32),
            painted,
            tone,
            lash,
            shapes,
            eyeball_index,
            eyeball_side,
            np.full((2, 1), -1, np.int32),
            np.zeros(2, np.int32),
            lash_dark,
        )
    shape = shapes[side[index]]
    for s in range(2):
        on_side = side[index] == s
        if not on_side.any():
            continue
        scale = float(np.percentile(largest[index[on_side]], 95))
        weight[on_side] = np.clip(largest[index[on_side]] / max(scale, 1e-6), 0.0, 1.0)
    relative = weight.copy()
    ramp = np.clip((relative - _TONE_BAND[0]) / (_FULL_MOVE - _TONE_BAND[0]), 0.0, 1.0)
    weight = (ramp * ramp * (3.0 - 2.0 * ramp)).astype(np.float32)
    on_margin = np.isin(index, margin)
    weight[on_margin] = 1.0
    # Skin tone: the photo under the brow, where the lid barely moves and was well seen;
    # lash colour: the darker half of the photo along the lid margins.
    height, width = image.shape[:2]

    def colours(selected: NDArray[np.bool_]) -> NDArray[np.float32]:
        points = np.rint(source_position[index[selected]]).astype(np.int64)
        cols = np.clip(points[:, 0], 0, width - 1)
        rows = np.clip(points[:, 1], 0, height - 1)
        return np.asarray(image[rows, cols], np.float32).reshape(-1, 3)

    for s in range(2):
        mine = side[index] == s
        band = mine & (relative > _TONE_BAND[0]) & (relative < _TONE_BAND[1])
        band &= photo_weight[index] > 0.99
        if band.sum() < 3:
            band = mine & (relative < _TONE_BAND[1])
        samples = colours(band)
        tone[s] = np.median(samples, axis=0) if len(samples) else np.float32(180.0)
        edge = colours(mine & on_margin)
        if len(edge):
            brightness = edge.sum(1)
            lash[s] = np.median(edge[brightness <= np.median(brightness)], axis=0)
            # The drawn lash line: the dark line of the open eye, not the skin beside it.
            lash_dark[s] = np.median(
                edge[brightness <= np.percentile(brightness, _LASH_DARK)], axis=0
            )
        else:
            lash[s] = 0.5 * tone[s]
            lash_dark[s] = 0.35 * tone[s]
    # Paint the lid triangles' texels with skin that looks like hers: a smooth colour field
    # that continues the photo's skin around the eye (no step at the lid's upper boundary),
    # a soft crease, the photo's own fine skin detail, and a lash line along the margins.
    vertex_colour, skin_colour = _lid_colours(
        index, relative, on_margin, faces[is_skin_face], source_position, photo_weight, image,
        tone[side[index]], side[index],
    )  # fmt: skip
    for s in range(2):
        if len(skin_colour[s]):
            tone[s] = np.median(skin_colour[s], axis=0)  # the skin the shut lid continues
    closed = _closed_pixels(model, index, shape, source_position)
    side_of = np.zeros(num_skin, np.int32)
    side_of[index] = side[index]
    lid = np.zeros(num_skin, bool)
    lid[index] = True
    per_vertex = np.zeros((num_skin, 8), np.float32)  # colour 3, margin, relative, upper, x, y
    per_vertex[index, :3] = vertex_colour
    per_vertex[index[on_margin], 3] = 1.0
    per_vertex[index, 4] = relative
    per_vertex[index, 5] = _upper_lid(model, index, shape)
    per_vertex[index, 6:8] = closed
    inside = (faces < num_skin).all(1)
    clipped = np.minimum(faces, num_skin - 1)
    lid_faces = np.flatnonzero(is_skin_face & inside & lid[clipped].all(1))
    if len(lid_faces):
        size = painted.shape[0]
        corners = triangle_uv[lid_faces].reshape(-1, 2).astype(np.float32)
        points = np.stack([corners[:, 0] * size, (1.0 - corners[:, 1]) * size], 1)
        flat_faces = np.arange(len(corners), dtype=np.int32).reshape(-1, 3)
        buffers = RasterBuffers(size, size)
        fragments = rasterize(
            np.ascontiguousarray(points, np.float32),
            np.zeros(len(corners), np.float32),
            flat_faces,
            np.zeros(len(flat_faces), np.bool_),
            buffers,
        )
        covered = fragments.triangle >= 0
        which = lid_faces[fragments.triangle[covered]]  # (P,) rendered face per texel
        bary = fragments.barycentric[covered]  # (P, 3)
        corners_of = faces[which]  # (P, 3)
        texel = np.einsum("pk,pkc->pc", bary, per_vertex[corners_of])  # (P, 8)
        texel_side = side_of[corners_of[:, 0]]
        skin = texel[:, :3].copy()
        detail = np.zeros(len(texel), np.float32)
        for s in range(2):
            mine = texel_side == s
            patch, gain = _detail_patch(image, source_position[index[side[index] == s]])
            detail[mine] = gain * _tile(patch, texel[mine, 6], texel[mine, 7])
            meeting = closed[(side[index] == s) & on_margin]
            shade = _lid_lines(meeting, texel[mine, 6], texel[mine, 7], texel[mine, 5])
            skin[mine] *= shade[:, None]
        skin = skin * (1.0 + _DETAIL_GAIN * detail[:, None])
        t = np.clip((texel[:, 3] - _LASH_BAND[0]) / (_LASH_BAND[1] - _LASH_BAND[0]), 0.0, 1.0)
        t = (t * t * (3.0 - 2.0 * t))[:, None]
        lash_of = lash[texel_side]
        painted[covered] = np.clip(skin * (1.0 - t) + lash_of * t, 0.0, 255.0)
    return EyelidSkin(
        index,
        weight,
        shape,
        np.ascontiguousarray(painted),
        tone,
        lash,
        shapes,
        eyeball_index,
        eyeball_side,
        *_lash_lines(model, index, shape, side[index], relative),
        lash_dark,
    )


def _lash_lines(
    model: FaceModelData,
    index: NDArray[np.int32],
    shape: NDArray[np.int32],
    side: NDArray[np.int64],
    relative: NDArray[np.float32],
) -> tuple[NDArray[np.int32], NDArray[np.int32]]:
    """(2, K) the leading edge of each upper lid (its vertices the blink moves furthest, -1
    pads) and (2,) counts. (The opening's own loop is the lid's inner rim, which slides back
    over the eyeball: at a full blink it stays ~3 raster px above where the lids meet.)"""
    upper = _upper_lid(model, index, shape) > 0.5
    lines = [index[(side == s) & upper & (relative >= _LEADING_EDGE)] for s in range(2)]
    count = np.array([len(line) for line in lines], np.int32)
    out = np.full((2, max(1, int(count.max()))), -1, np.int32)
    for s, line in enumerate(lines):
        out[s, : len(line)] = line
    return out, count


def _lid_colours(
    index: NDArray[np.int32],
    relative: NDArray[np.float32],
    on_margin: NDArray[np.bool_],
    skin_faces: NDArray[np.int32],
    source_position: NDArray[np.float32],
    photo_weight: NDArray[np.float32],
    image: NDArray[np.uint8],
    tone: NDArray[np.float32],
    side: NDArray[np.int64],
) -> tuple[NDArray[np.float32], list[NDArray[np.float32]]]:
    """(N, 3) colour of each lid vertex when shut: the photo's blurred colour on the lid
    vertices that barely move (under the brow, the lower lid's edge) and a harmonic
    extension of it (graph Laplacian over the lid's triangles) on the rest, so the shut lid
    continues the skin around it; ``tone`` (N, 3) where a vertex reaches no fixed one.
    Also the fixed (skin) colours of each side, (K, 3) each."""
    from scipy.sparse import coo_matrix, diags
    from scipy.sparse.linalg import spsolve

    blurred = cv2.GaussianBlur(np.asarray(image, np.float32), (0, 0), _COLOUR_BLUR)
    height, width = image.shape[:2]
    points = np.rint(source_position[index]).astype(np.int64)
    photo = blurred[
        np.clip(points[:, 1], 0, height - 1), np.clip(points[:, 0], 0, width - 1)
    ]  # (N, 3)
    fixed = (relative < _FIXED_BELOW) & (photo_weight[index] > 0.99) & ~on_margin
    # Only skin: not the crease's shadow, lashes or brow hairs the blur reaches into (too
    # dark), nor the sclera near the corners of the eye (too grey: skin is redder than blue).
    brightness = photo.sum(1)
    warmth = photo[:, 0] - photo[:, 2]
    for s in range(2):
        mine = fixed & (side == s)
        if mine.sum() >= 3:
            dark = brightness < _SKIN_BRIGHTNESS * np.percentile(brightness[mine], 75)
            grey = warmth < _SKIN_WARMTH * np.median(warmth[mine])
            fixed &= ~(mine & (dark | grey))
    local = np.full(int(max(index.max(), skin_faces.max())) + 1, -1, np.int64)
    local[index] = np.arange(len(index))
    tri = local[skin_faces]
    tri = tri[(tri >= 0).all(1)]
    edges = np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]])
    count = len(index)
    adjacency = coo_matrix(
        (np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(count, count)
    ).tocsr()
    adjacency = ((adjacency + adjacency.T) > 0).astype(np.float64)
    degree = np.asarray(adjacency.sum(1)).ravel()
    # (D - A + eps I) x = eps tone on free vertices; x = photo on fixed ones.
    eps = 1e-3
    laplacian = (diags(degree + eps) - adjacency).tocsr()
    free = np.flatnonzero(~fixed)
    colour = np.where(fixed[:, None], photo, tone).astype(np.float64)
    if len(free):
        known = np.flatnonzero(fixed)
        system = laplacian[free][:, free].tocsc()
        rhs = eps * tone[free].astype(np.float64) - laplacian[free][:, known] @ colour[known]
        colour[free] = np.asarray(spsolve(system, rhs)).reshape(len(free), 3)
    skin = [photo[fixed & (side == s)].astype(np.float32) for s in range(2)]
    return colour.astype(np.float32), skin


def _closed_pixels(
    model: FaceModelData,
    index: NDArray[np.int32],
    shape: NDArray[np.int32],
    source_position: NDArray[np.float32],
) -> NDArray[np.float32]:
    """(N, 2) where each lid vertex is in the photo's pixels with its blink shape at 1: its
    photo position plus the shape's move, mapped by the affine model-to-photo fit of the
    lid (the lid's skin detail is laid out at the photo's scale on the shut lid)."""
    neutral = np.asarray(model.neutral[index], np.float64)
    design = np.concatenate([neutral, np.ones((len(index), 1))], 1)
    affine, *_ = np.linalg.lstsq(design, source_position[index].astype(np.float64), rcond=None)
    delta = np.asarray(model.expression_basis[shape, index], np.float64)  # (N, 3)
    return (source_position[index] + delta @ affine[:3]).astype(np.float32)


def _upper_lid(
    model: FaceModelData, index: NDArray[np.int32], shape: NDArray[np.int32]
) -> NDArray[np.float32]:
    """(N,) 1 on the upper lid (its blink moves it down), 0 on the lower lid."""
    delta = np.asarray(model.expression_basis[shape, index], np.float32)
    return (delta[:, 1] < 0.0).astype(np.float32)


def _lid_lines(
    meeting: NDArray[np.float32],
    x: NDArray[np.float32],
    y: NDArray[np.float32],
    upper: NDArray[np.float32],
) -> NDArray[np.float32]:
    """(P,) skin multiplier of one shut lid at texels placed where the lid lies when shut
    (x, y) (P,) output px: a crease across the upper lid (``upper`` (P,) 1), arched like the
    line where the lids meet (``meeting`` (K, 2), the margin vertices there) and fading at the
    corners, and the lid's lighter convex middle between them. (The lash line is drawn per
    frame on the meeting line itself: ``draw_lash_lines``.)"""
    ones = np.ones(len(x), np.float32)
    if len(meeting) < 3:
        return ones
    order = np.argsort(meeting[:, 0])
    mx, my = meeting[order, 0], meeting[order, 1]
    left, right = float(mx[0]), float(mx[-1])
    width = max(right - left, 1.0)
    dy = y - np.interp(x, mx, my)  # > 0: below the meeting line
    across = np.clip(2.0 * (x - 0.5 * (left + right)) / width, -1.5, 1.5)
    height, crease_sigma, depth = _CREASE_LINE
    arch = height * width * np.clip(1.0 - 0.5 * across**2, 0.0, 1.0)  # nearer the line at corners
    middle = np.clip(1.0 - across**2, 0.0, 1.0)
    crease = depth * middle * upper * np.exp(-(((dy + arch) / crease_sigma) ** 2))
    bulge = _LID_BULGE * middle * upper * np.exp(-(((dy + 0.5 * arch) / (0.3 * arch + 1.0)) ** 2))
    return (ones - crease + bulge).astype(np.float32)


def _detail_patch(
    image: NDArray[np.uint8], lid_points: NDArray[np.float32]
) -> tuple[NDArray[np.float32], float]:
    """(P, P) the photo's relative skin detail (luminance over its blur, minus 1) in the
    cleanest ``_PATCH`` square around the eye (least low-frequency variation: no brow,
    lashes or eye inside), zeros when no square fits; and the gain that brings its contrast
    (mean |detail|) to the lower quartile of the squares around the eye (the cleanest is
    flatter than her skin)."""
    lum = np.asarray(image, np.float32).mean(2)
    low = cv2.GaussianBlur(lum, (0, 0), _DETAIL_BLUR)
    detail = lum / np.maximum(low, 1.0) - 1.0
    height, width = lum.shape
    (x0, y0), (x1, y1) = lid_points.min(0), lid_points.max(0)
    pad_y, pad_x = 0.75 * (y1 - y0), 0.25 * (x1 - x0)
    top, bottom = int(max(0, y0 - pad_y)), int(min(height - _PATCH, y1 + pad_y))
    left, right = int(max(0, x0 - pad_x)), int(min(width - _PATCH, x1 + pad_x - _PATCH))
    if bottom < top or right < left:
        return np.zeros((_PATCH, _PATCH), np.float32), 1.0
    # Every square's statistics at once (box sums, a max filter), on the 2-px grid of
    # top-left corners: (score = relative std of the blur + the largest fine detail).
    size = (_PATCH, _PATCH)
    mean = cv2.boxFilter(
        low, -1, size, anchor=(0, 0), normalize=True, borderType=cv2.BORDER_REPLICATE
    )
    square = cv2.boxFilter(
        low * low, -1, size, anchor=(0, 0), normalize=True, borderType=cv2.BORDER_REPLICATE
    )
    spread = np.sqrt(np.maximum(square - mean * mean, 0.0)) / np.maximum(mean, 1.0)
    magnitude = np.abs(detail).astype(np.float32)
    peak = cv2.dilate(
        magnitude, np.ones(size, np.uint8), anchor=(0, 0), borderType=cv2.BORDER_REPLICATE
    )
    contrast = cv2.boxFilter(
        magnitude, -1, size, anchor=(0, 0), normalize=True, borderType=cv2.BORDER_REPLICATE
    )
    rows = np.arange(top, bottom + 1, 2)
    cols = np.arange(left, right + 1, 2)
    score = (spread + peak)[np.ix_(rows, cols)]
    best = np.unravel_index(int(np.argmin(score)), score.shape)
    where = (int(rows[best[0]]), int(cols[best[1]]))
    row, col = where
    patch = detail[row : row + _PATCH, col : col + _PATCH]
    patch = np.clip(patch - patch.mean(), -0.15, 0.15).astype(np.float32)
    own = float(np.mean(np.abs(patch)))
    typical = float(np.percentile(contrast[np.ix_(rows, cols)], 25))
    gain = float(np.clip(typical / max(own, 1e-4), *_DETAIL_MATCH))
    return patch, gain


def _tile(
    patch: NDArray[np.float32], x: NDArray[np.float32], y: NDArray[np.float32]
) -> NDArray[np.float32]:
    """Bilinear samples of ``patch`` tiled by mirroring (seamless) at pixel points (x, y)."""
    size = patch.shape[0]
    period = 2.0 * (size - 1)

    def mirror(t: NDArray[np.float32]) -> NDArray[np.float32]:
        t = np.mod(t, period)
        return np.where(t < size - 1, t, period - t).astype(np.float32)

    mx = mirror(x).reshape(-1, 1)
    my = mirror(y).reshape(-1, 1)
    sampled = cv2.remap(patch, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return np.asarray(sampled, np.float32).ravel()


@numba.njit(cache=True, nogil=True, fastmath=True, inline="always")
def _ramp(value: np.float32, low: np.float32, span: np.float32) -> np.float32:
    """Smoothstep of ``value`` from ``low`` to ``low + span`` (0 below, 1 above)."""
    t = min(max((value - low) / span, np.float32(0.0)), np.float32(1.0))
    return t * t * (np.float32(3.0) - np.float32(2.0) * t)


@numba.njit(cache=True, nogil=True, fastmath=True)
def apply_eyelids(
    index: NDArray[np.int32],
    weight: NDArray[np.float32],
    shape: NDArray[np.int32],
    coeffs: NDArray[np.float32],
    static_weight: NDArray[np.float32],
    out: NDArray[np.float32],
) -> None:
    """``out[v] = static_weight[v] · (1 - m_v · s(blink))`` for the lid vertices, with ``s`` a
    smoothstep of the vertex's blink coefficient; other entries of ``out`` are untouched."""
    low = np.float32(_BLINK_RAMP[0])
    span = np.float32(_BLINK_RAMP[1] - _BLINK_RAMP[0])
    one = np.float32(1.0)
    for j in range(index.shape[0]):
        s = _ramp(coeffs[shape[j]], low, span)
        v = index[j]
        out[v] = static_weight[v] * (one - weight[j] * s)


@numba.njit(cache=True, nogil=True, fastmath=True)
def soften_lid_shading(
    index: NDArray[np.int32],
    weight: NDArray[np.float32],
    shape: NDArray[np.int32],
    coeffs: NDArray[np.float32],
    ratio: NDArray[np.float32],
) -> None:
    """``ratio[v] = 1 + (ratio[v] - 1) · (1 - k · m_v · s(blink))`` in place for the lid
    vertices: the shut lid's colour field is taken from the photo's skin around the eye,
    which already holds her lighting there, so the SH ratio (which compares the lid's new
    normal with where that vertex faced in the photo, folded into the crease) only shades it
    gently instead of painting grey blotches."""
    low = np.float32(_BLINK_RAMP[0])
    span = np.float32(_BLINK_RAMP[1] - _BLINK_RAMP[0])
    one = np.float32(1.0)
    strength = np.float32(_LID_SHADING)
    for j in range(index.shape[0]):
        keep = one - strength * weight[j] * _ramp(coeffs[shape[j]], low, span)
        v = index[j]
        for c in range(ratio.shape[1]):
            ratio[v, c] = one + (ratio[v, c] - one) * keep


@numba.njit(cache=True, nogil=True, fastmath=True)
def apply_shut_eyes(
    index: NDArray[np.int32],
    side: NDArray[np.int32],
    blink: NDArray[np.int32],
    lash: NDArray[np.float32],
    coeffs: NDArray[np.float32],
    static_weight: NDArray[np.float32],
    static_colour: NDArray[np.float32],
    out_weight: NDArray[np.float32],
    out_colour: NDArray[np.float32],
) -> None:
    """Eyeball vertices of a nearly shut eye: photo weight down and colour towards the lash
    colour (the pixel-wide gap between meeting lids is a lash line, not specks of sclera).

    Args:
        side: (M,) 0 = left, 1 = right; blink: (2,) expression index of each side's blink.
    """
    low = np.float32(_SHUT_RAMP[0])
    span = np.float32(_SHUT_RAMP[1] - _SHUT_RAMP[0])
    one = np.float32(1.0)
    for j in range(index.shape[0]):
        e = side[j]
        s = _ramp(coeffs[blink[e]], low, span)
        v = index[j]
        out_weight[v] = static_weight[v] * (one - s)
        for c in range(3):
            out_colour[v, c] = static_colour[v, c] * (one - s) + lash[e, c] * s


@numba.njit(cache=True, nogil=True, fastmath=True)
def draw_lash_lines(
    lash_line: NDArray[np.int32],
    lash_count: NDArray[np.int32],
    blink: NDArray[np.int32],
    lash: NDArray[np.float32],
    coeffs: NDArray[np.float32],
    points: NDArray[np.float32],
    field: NDArray[np.float32],
    coverage: NDArray[np.float32],
) -> None:
    """The lash line of a (nearly) shut eye, drawn into the shaded ``field`` (H, W, 8) along
    this frame's leading edge of the upper lid (per raster column the lowest of its vertices
    in ``points`` (Vr, 2), gaps interpolated, smoothed 1-2-1): a soft dark line (narrow above,
    lashes hanging below), thinning towards the eye's corners, of the lid's lash colour
    (``lash`` (2, 3)); its strength follows the blink over ``_SHUT_RAMP``. A thin line where
    the lids meet cannot come from the lid texture (the margin triangles are a pixel thin
    there: the texture's lash band broke into dots)."""
    height, width = coverage.shape
    low = np.float32(_SHUT_RAMP[0])
    span = np.float32(_SHUT_RAMP[1] - _SHUT_RAMP[0])
    above = np.float32(_LASH_LINE[0])
    below = np.float32(_LASH_LINE[1])
    strength = np.float32(_LASH_LINE[2])
    one = np.float32(1.0)
    zero = np.float32(0.0)
    for e in range(lash_line.shape[0]):
        s = _ramp(coeffs[blink[e]], low, span)
        n = lash_count[e]
        if s <= np.float32(0.0) or n < 2:
            continue
        left = np.float32(1e30)  # no infinities: fastmath assumes there are none
        right = np.float32(-1e30)
        for j in range(n):
            x = points[lash_line[e, j], 0]
            left = min(left, x)
            right = max(right, x)
        c0 = max(int(left), 0)
        c1 = min(int(right) + 1, width)
        if c1 - c0 < 2:
            continue
        lowest = np.full(c1 - c0, np.float32(-1e30), np.float32)
        for j in range(n):
            v = lash_line[e, j]
            c = int(points[v, 0]) - c0
            if 0 <= c < c1 - c0:
                lowest[c] = max(lowest[c], points[v, 1])
        # A closed lid's edge is a smooth arc: a parabola through the columns' lowest points
        # (the leading-edge vertices come from more than one row of the lid).
        mid = np.float64(0.5) * (left + right)
        scale = max(np.float64(0.5) * (right - left), 1.0)
        m = np.zeros((3, 3))
        r = np.zeros(3)
        for c in range(c1 - c0):
            if lowest[c] < np.float32(-1e29):
                continue
            u = (c0 + c + 0.5 - mid) / scale
            basis = (1.0, u, u * u)
            for i in range(3):
                r[i] += basis[i] * lowest[c]
                for i2 in range(3):
                    m[i, i2] += basis[i] * basis[i2]
        for i in range(3):
            m[i, i] += 1e-6
        m[2, 2] += 1e-2 * m[0, 0]  # a little pull towards a straight line
        coef = np.linalg.solve(m, r)
        smooth = np.empty(c1 - c0, np.float32)
        for c in range(c1 - c0):
            u = (c0 + c + 0.5 - mid) / scale
            smooth[c] = coef[0] + coef[1] * u + coef[2] * u * u
        centre = np.float32(0.5) * (left + right)
        half = max(np.float32(0.5) * (right - left), one)
        for c in range(c1 - c0):
            col = c0 + c
            y = smooth[c]
            across = abs(np.float32(col) + np.float32(0.5) - centre) / half
            k = s * strength * min(max((np.float32(1.1) - across) / np.float32(0.35), zero), one)
            for row in range(max(int(y - 3.0), 0), min(int(y + 4.0) + 1, height)):
                if coverage[row, col] <= np.float32(0.0):
                    continue
                dy = np.float32(row) + np.float32(0.5) - y
                sigma = above if dy < 0 else below
                w = k * np.exp(-((dy / sigma) ** 2))
                for ch in range(3):
                    field[row, col, 2 + ch] *= one - w
                    field[row, col, 5 + ch] = field[row, col, 5 + ch] * (one - w) + w * lash[e, ch]
