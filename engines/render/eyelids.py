"""Closing eyelids that look like skin, not like stretched lashes.

In the photo the upper lid is a thin band of folded skin and lashes; the ICT blink shapes
stretch that band over the eyeball, so warping the photo alone paints a grey smear of
lashes over the closed eye. Here each lid vertex gets a weight ``m`` (how far the blink
shape moves it, relative to the lid's largest move; 1 on the lid margins) and, per frame,
its photo weight is lowered by ``m · s(blink)``; where the photo is not used the shader
takes the UV texture, which is painted with the lid's own skin tone (sampled from the photo
on the part of the lid that barely moves, under the brow) and, on the margins, with the
photo's lash colour, so a closed eye is skin with a dark lash line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from numpy.typing import NDArray

from engines.face_model.ict import FaceModelData
from engines.render.rasterizer import RasterBuffers, rasterize

__all__ = ["EyelidSkin", "apply_eyelids", "apply_shut_eyes", "build_eyelids"]

_BLINK_SHAPES = ("eyeBlink_L", "eyeBlink_R")
_MOVING_CM = 0.05  # a vertex the blink moves less than this is not part of the lid
_TONE_BAND = (0.02, 0.12)  # lid vertices whose colour is the lid's skin tone (relative move)
_FULL_MOVE = 0.4  # relative move from which a closed lid is all skin tone
_LASH_BAND = (0.7, 0.95)  # barycentric weight of the margin in a lid triangle: lash colour
_BLINK_RAMP = (0.1, 0.8)  # blink weight over which the lid's photo gives way to skin tone
_SHUT_RAMP = (0.6, 0.9)  # blink weight over which the eyeball between the lids turns lash-dark


@dataclass(frozen=True)
class EyelidSkin:
    """Lid vertices and the texture their skin tone comes from.

    Attributes:
        index: (N,) int32 lid vertices (skin vertices the blink shapes move).
        weight: (N,) float32 in [0, 1]: how much of the lid turns to skin tone when shut.
        shape: (N,) int32 expression index of the blink shape that moves each vertex.
        texture: (T, T, 3) float32 the avatar's UV texture with the lids painted skin tone.
        tone: (2, 3) float32 the skin tone of the left and right lid (sRGB 0-255).
        lash: (2, 3) float32 the lash colour of the left and right lid margin.
        blink: (2,) int32 expression index of eyeBlink_L and eyeBlink_R.
        eyeball_index: (M,) int32 eyeball vertices; eyeball_side (M,) int32 0 = left, 1 =
            right (a nearly shut eye shows its side's lash colour).
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
        else:
            lash[s] = 0.5 * tone[s]
    # Paint the lid triangles' texels: skin tone, and a thin lash line along the margins
    # (only the texels nearest the margin: the triangles there stretch a lot when shut).
    vertex_colour = np.zeros((num_skin, 3), np.float32)
    vertex_colour[index] = tone[side[index]]
    is_margin = np.zeros(num_skin, np.float32)
    is_margin[index[on_margin]] = 1.0
    lid = np.zeros(num_skin, bool)
    lid[index] = True
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
        skin = np.einsum("pk,pkc->pc", bary, vertex_colour[corners_of])
        near = np.einsum("pk,pk->p", bary, is_margin[corners_of])
        t = np.clip((near - _LASH_BAND[0]) / (_LASH_BAND[1] - _LASH_BAND[0]), 0.0, 1.0)
        t = (t * t * (3.0 - 2.0 * t))[:, None]
        lash_of = lash[side[corners_of[:, 0]]]
        painted[covered] = skin * (1.0 - t) + lash_of * t
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
    )


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
