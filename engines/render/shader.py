"""Shader: fragments -> smooth per-pixel fields (where to sample the photo, and how to colour it).

For every covered raster pixel the shader writes

* ``field[..., 0:2]``: displacement (dx, dy) from the output pixel to the point of the source
  crop that shows the same surface point (a backward warp), in output-resolution pixels;
* ``field[..., 2:5]``: gain — the photo sample is multiplied by it (SH expression ratio of the
  skin, times the share of the colour that comes from the photo);
* ``field[..., 5:8]``: added colour (UV texture where the photo did not see the skin, the mouth
  interior, unseen eye), 0-255;

``coverage`` = 1 and ``exact`` = the share of the mesh's own warp (the vertices' ``warp_exact``,
interpolated; the compositor gives the rest to the smooth warp field). Uncovered pixels get gain
1, nothing added, coverage 0 and exact 0 (the compositor fills their displacement).
"""

from __future__ import annotations

import numba
import numpy as np
from numpy.typing import NDArray

from engines.render.mesh import LABEL_EYE, LABEL_SKIN, LABEL_SOCKET, LABEL_TEETH
from engines.render.rasterizer import Fragments
from engines.render.teeth import PhotoInterior
from engines.render.wrinkles import GAIN_RANGE

__all__ = ["FIELD_CHANNELS", "feather_eye", "feather_mouth", "shade_fragments"]

FIELD_CHANNELS = 8
_NO_WRINKLES = np.zeros((2, 2, 3), np.float32)
_NO_INTERIOR = PhotoInterior(np.zeros((1, 1), np.int8), np.zeros((1, 1), np.float32))
_FOLD_LOW, _FOLD_HIGH = GAIN_RANGE


@numba.njit(cache=True, nogil=True, fastmath=True)
def _sample_texture(texture: NDArray[np.float32], u: float, v: float, c: int) -> float:
    size = texture.shape[0]
    x = min(max(u * size - 0.5, 0.0), size - 1.001)
    y = min(max((1.0 - v) * size - 0.5, 0.0), size - 1.001)
    x0 = int(x)
    y0 = int(y)
    fx = x - x0
    fy = y - y0
    top = texture[y0, x0, c] * (1.0 - fx) + texture[y0, x0 + 1, c] * fx
    bottom = texture[y0 + 1, x0, c] * (1.0 - fx) + texture[y0 + 1, x0 + 1, c] * fx
    return top * (1.0 - fy) + bottom * fy


@numba.njit(cache=True, nogil=True, fastmath=True, inline="always")
def _sample_wrinkles(wrinkles: NDArray[np.float32], u: float, v: float, c: int) -> float:
    """Bilinear sample of channel ``c`` of the (T, T, 3) wrinkle gain offset at texture
    coordinates (u, v), limited to ``wrinkles.GAIN_RANGE`` (where folds overlap)."""
    size = wrinkles.shape[0]
    x = min(max(u * size - 0.5, 0.0), size - 1.001)
    y = min(max((1.0 - v) * size - 0.5, 0.0), size - 1.001)
    x0 = int(x)
    y0 = int(y)
    fx = x - x0
    fy = y - y0
    top = wrinkles[y0, x0, c] * (1.0 - fx) + wrinkles[y0, x0 + 1, c] * fx
    bottom = wrinkles[y0 + 1, x0, c] * (1.0 - fx) + wrinkles[y0 + 1, x0 + 1, c] * fx
    return min(max(top * (1.0 - fy) + bottom * fy, _FOLD_LOW), _FOLD_HIGH)


@numba.njit(cache=True, nogil=True, inline="always")
def _interior(triangle: NDArray[np.int32], labels: NDArray[np.int8], r: int, c: int) -> bool:
    height, width = triangle.shape
    if r < 0 or r >= height or c < 0 or c >= width:
        return False
    g = triangle[r, c]
    return g >= 0 and labels[g] >= LABEL_SOCKET


@numba.njit(cache=True, nogil=True, inline="always")
def _part_label(
    triangle: NDArray[np.int32], labels: NDArray[np.int8], r: int, c: int, low: int, high: int
) -> int:
    """The label of the pixel's triangle where it is in ``[low, high]``, else 0."""
    f = triangle[r, c]
    if f >= 0 and labels[f] >= low and labels[f] <= high:
        return int(labels[f])
    return 0


@numba.njit(cache=True, nogil=True, inline="always")
def _mouth_label(triangle: NDArray[np.int32], labels: NDArray[np.int8], r: int, c: int) -> int:
    """The label of the pixel's triangle where it shows the mouth's interior (socket, gums,
    tongue, teeth), else 0."""
    return _part_label(triangle, labels, r, c, LABEL_SOCKET, LABEL_TEETH)


@numba.njit(cache=True, nogil=True)
def _isolated(triangle: NDArray[np.int32], labels: NDArray[np.int8], row: int, col: int) -> bool:
    """True for a crack of the skin one pixel wide: fewer than 2 of the pixel's 4 neighbours
    also show a non-skin part, or skin both above and below it (a line between lips that
    meet), or both left and right of it."""
    up = _interior(triangle, labels, row - 1, col)
    down = _interior(triangle, labels, row + 1, col)
    left = _interior(triangle, labels, row, col - 1)
    right = _interior(triangle, labels, row, col + 1)
    if not up and not down:
        return True
    if not left and not right:
        return True
    return int(up) + int(down) + int(left) + int(right) < 2


@numba.njit(cache=True, nogil=True, fastmath=True)
def _shade_kernel(
    triangle: NDArray[np.int32],
    bary: NDArray[np.float32],
    faces: NDArray[np.int32],
    labels: NDArray[np.int8],
    triangle_uv: NDArray[np.float32],
    source_position: NDArray[np.float32],
    photo_weight: NDArray[np.float32],
    colour: NDArray[np.float32],
    ratio: NDArray[np.float32],
    num_skin: int,
    texture: NDArray[np.float32],
    up: float,
    warp_exact: NDArray[np.float32],
    wrinkles: NDArray[np.float32],
    folded: NDArray[np.bool_],
    lip_triangle: NDArray[np.bool_],
    lip_activation: float,
    field: NDArray[np.float32],
    coverage: NDArray[np.float32],
    exact: NDArray[np.float32],
    lip_pixel: NDArray[np.bool_],
    interior_surface: NDArray[np.int8],
    photo_surface: NDArray[np.int8],
    photo_share: NDArray[np.float32],
) -> None:
    height, width = triangle.shape
    photo_rows, photo_cols = photo_surface.shape
    for row in range(height):
        y_full = (row + 0.5) * up - 0.5
        for col in range(width):
            lip_pixel[row, col] = False
            f = triangle[row, col]
            if f >= 0 and labels[f] >= LABEL_SOCKET and _isolated(triangle, labels, row, col):
                # A stray interior pixel showing through a crack of the skin (meeting lids,
                # closed lips): take the already shaded skin to its left or above instead.
                # Left empty it would show the photo's own pixel there (an open eye's sclera).
                if col > 0 and coverage[row, col - 1] > 0.0:
                    for k in range(field.shape[2]):
                        field[row, col, k] = field[row, col - 1, k]
                    coverage[row, col] = 1.0
                    exact[row, col] = exact[row, col - 1]
                    lip_pixel[row, col] = lip_pixel[row, col - 1]
                    continue
                if row > 0 and coverage[row - 1, col] > 0.0:
                    for k in range(field.shape[2]):
                        field[row, col, k] = field[row - 1, col, k]
                    coverage[row, col] = 1.0
                    exact[row, col] = exact[row - 1, col]
                    lip_pixel[row, col] = lip_pixel[row - 1, col]
                    continue
                f = -1
            if f < 0:
                field[row, col, 0] = 0.0
                field[row, col, 1] = 0.0
                for c in range(3):
                    field[row, col, 2 + c] = 1.0
                    field[row, col, 5 + c] = 0.0
                coverage[row, col] = 0.0
                exact[row, col] = 0.0
                continue
            x_full = (col + 0.5) * up - 0.5
            i0, i1, i2 = faces[f, 0], faces[f, 1], faces[f, 2]
            b0, b1, b2 = bary[row, col, 0], bary[row, col, 1], bary[row, col, 2]
            sx = (
                b0 * source_position[i0, 0]
                + b1 * source_position[i1, 0]
                + b2 * source_position[i2, 0]
            )
            sy = (
                b0 * source_position[i0, 1]
                + b1 * source_position[i1, 1]
                + b2 * source_position[i2, 1]
            )
            field[row, col, 0] = sx - x_full
            field[row, col, 1] = sy - y_full
            exact[row, col] = b0 * warp_exact[i0] + b1 * warp_exact[i1] + b2 * warp_exact[i2]
            pw = b0 * photo_weight[i0] + b1 * photo_weight[i1] + b2 * photo_weight[i2]
            label = labels[f]
            if i0 < num_skin and i1 < num_skin and i2 < num_skin:
                uu = 0.0
                vv = 0.0
                sample_folds = False  # animated wrinkles: a gain on the skin
                if label == LABEL_SKIN and (folded[f] or pw < 0.999):
                    uu = (
                        b0 * triangle_uv[f, 0, 0]
                        + b1 * triangle_uv[f, 1, 0]
                        + b2 * triangle_uv[f, 2, 0]
                    )
                    vv = (
                        b0 * triangle_uv[f, 0, 1]
                        + b1 * triangle_uv[f, 1, 1]
                        + b2 * triangle_uv[f, 2, 1]
                    )
                    sample_folds = folded[f]
                # Lips that close over the photo's teeth: the compositor samples these pixels
                # from the crop with her teeth under the lips turned to lip colour.
                if lip_activation > 0.0 and lip_triangle[f]:
                    lip_pixel[row, col] = True
                for c in range(3):
                    fold = 1.0 + _sample_wrinkles(wrinkles, uu, vv, c) if sample_folds else 1.0
                    r = (b0 * ratio[i0, c] + b1 * ratio[i1, c] + b2 * ratio[i2, c]) * fold
                    field[row, col, 2 + c] = pw * r
                    if label == LABEL_SKIN and pw < 0.999:
                        field[row, col, 5 + c] = (
                            (1.0 - pw) * r * _sample_texture(texture, uu, vv, c)
                        )
                    else:
                        field[row, col, 2 + c] = r
                        field[row, col, 5 + c] = 0.0
            else:
                k = interior_surface[f]
                if k > 0:
                    # Her own teeth (gaps, tongue) where the photo showed this same surface
                    # at this pixel's source.
                    tx = min(max(int(sx + 0.5), 0), photo_cols - 1)
                    ty = min(max(int(sy + 0.5), 0), photo_rows - 1)
                    if photo_surface[ty, tx] == k:
                        pw = max(pw, photo_share[ty, tx])
                for c in range(3):
                    field[row, col, 2 + c] = pw
                    field[row, col, 5 + c] = (1.0 - pw) * (
                        b0 * colour[i0, c] + b1 * colour[i1, c] + b2 * colour[i2, c]
                    )
            coverage[row, col] = 1.0


def shade_fragments(
    fragments: Fragments,
    faces: NDArray[np.int32],
    labels: NDArray[np.int8],
    triangle_uv: NDArray[np.float32],
    source_position: NDArray[np.float32],
    photo_weight: NDArray[np.float32],
    colour: NDArray[np.float32],
    ratio: NDArray[np.float32],
    num_skin: int,
    texture: NDArray[np.float32],
    upscale: float,
    warp_exact: NDArray[np.float32],
    field: NDArray[np.float32],
    coverage: NDArray[np.float32],
    exact: NDArray[np.float32],
    wrinkles: NDArray[np.float32] | None = None,
    folded: NDArray[np.bool_] | None = None,
    lip_triangle: NDArray[np.bool_] | None = None,
    lip_activation: float = 0.0,
    lip_pixel: NDArray[np.bool_] | None = None,
    interior_surface: NDArray[np.int8] | None = None,
    photo_interior: PhotoInterior | None = None,
) -> None:
    """Fill ``field`` (H, W, 8), ``coverage`` and ``exact`` (H, W) from the fragments (see
    module doc).

    Args:
        fragments: rasterizer output (H, W).
        faces: (F, 3) rasterized triangles; labels (F,) int8; triangle_uv (F, 3, 2).
        source_position: (Vr, 2) source crop index coordinates per vertex.
        photo_weight: (Vr,); colour: (Vr, 3) synthetic colour; ratio: (Vs, 3) skin SH ratio.
        num_skin: skin vertices are ``[0, num_skin)``.
        texture: (T, T, 3) float32 UV texture.
        upscale: output pixels per raster pixel.
        warp_exact: (Vr,) share of the mesh's own warp per vertex (``RenderMesh.warp_exact``).
        wrinkles: (T, T, 3) float32 RGB gain offset of the skin in UV space
            (``WrinkleField.combined``; the skin's gain is multiplied by ``1 + wrinkles(uv)``
            per channel); None = no folds.
        folded: (F,) bool, the triangles that meet an active fold this frame
            (``WrinkleField.folded``): only their pixels sample ``wrinkles``.
        lip_triangle: (F,) bool, the lips' triangles (``unfold.lip_triangles``);
            lip_activation: how far the lips have closed from the photo's (0: untouched);
            lip_pixel: (H, W) bool, written: the pixels of lip triangles while it is > 0 (the
            compositor samples them from the crop whose teeth under the lips are lip-coloured,
            ``unfold.lip_closure_map``).
        interior_surface: (F,) int8 per triangle (``RenderMesh.interior_surface``) and
            photo_interior (``teeth.photo_interior``): a pixel of an interior surface takes
            the photo at least by ``photo_interior.share`` at its source position where the
            photo showed that same surface there; None = by its vertices' photo weight.
    """
    if wrinkles is None or folded is None:
        wrinkles = _NO_WRINKLES
        folded = np.zeros(faces.shape[0], np.bool_)
    if lip_triangle is None or lip_pixel is None:
        lip_triangle = np.zeros(faces.shape[0], np.bool_)
        lip_pixel = np.zeros(fragments.triangle.shape, np.bool_)
        lip_activation = 0.0
    if interior_surface is None or photo_interior is None:
        interior_surface = np.zeros(faces.shape[0], np.int8)
        photo_interior = _NO_INTERIOR
    _shade_kernel(
        fragments.triangle,
        fragments.barycentric,
        faces,
        labels,
        triangle_uv,
        source_position,
        photo_weight,
        colour,
        ratio,
        int(num_skin),
        texture,
        float(upscale),
        warp_exact,
        wrinkles,
        folded,
        lip_triangle,
        float(lip_activation),
        field,
        coverage,
        exact,
        lip_pixel,
        interior_surface,
        photo_interior.surface,
        photo_interior.share,
    )


# Cavity shading (raster pixels at a 256 raster, scaled with the raster): the interior's
# synthetic pixels darken with their distance from the lips relative to the opening's widest
# inscribed distance D (an O darkens towards its centre, a wide laugh towards its middle
# line), and all of them as D shrinks (little light gets through barely parted lips); each
# triangle by its ``RenderMesh.cavity_strength`` (the teeth at the lips much less).
_CAVITY_DARKEN = 0.7  # at the opening's deepest point
_NARROW_PX = (1.0, 5.0)  # D over which a barely open mouth lights up to full
_NARROW_FLOOR = 0.45  # the interior's brightness left in the narrowest gap


@numba.njit(cache=True, nogil=True, fastmath=True)
def _smooth(x: float, low: float, high: float) -> float:
    t = min(max((x - low) / (high - low), 0.0), 1.0)
    return t * t * (3.0 - 2.0 * t)


@numba.njit(cache=True, nogil=True, fastmath=True)
def _interior_distance(key: NDArray[np.int8]) -> tuple[NDArray[np.float32], float]:
    """(h, w) chamfer distance of each interior pixel (``key != 0``) to the nearest other
    pixel (the lips), and its largest value (the opening's widest inscribed distance, 0
    without interior pixels)."""
    rows, cols = key.shape
    big = np.float32(1e6)
    diagonal = np.float32(1.4142135)
    distance = np.empty((rows, cols), np.float32)
    for r in range(rows):
        for c in range(cols):
            distance[r, c] = big if key[r, c] != 0 else np.float32(0.0)
    for r in range(rows):
        for c in range(cols):
            d = distance[r, c]
            if d == 0.0:
                continue
            if r > 0:
                d = min(d, distance[r - 1, c] + 1.0)
                if c > 0:
                    d = min(d, distance[r - 1, c - 1] + diagonal)
                if c + 1 < cols:
                    d = min(d, distance[r - 1, c + 1] + diagonal)
            if c > 0:
                d = min(d, distance[r, c - 1] + 1.0)
            distance[r, c] = d
    widest = np.float32(0.0)
    for r in range(rows - 1, -1, -1):
        for c in range(cols - 1, -1, -1):
            d = distance[r, c]
            if d == 0.0:
                continue
            if r + 1 < rows:
                d = min(d, distance[r + 1, c] + 1.0)
                if c > 0:
                    d = min(d, distance[r + 1, c - 1] + diagonal)
                if c + 1 < cols:
                    d = min(d, distance[r + 1, c + 1] + diagonal)
            if c + 1 < cols:
                d = min(d, distance[r, c + 1] + 1.0)
            distance[r, c] = d
            widest = max(widest, d)
    if widest >= big:
        widest = np.float32(0.0)
    return distance, float(widest)


@numba.njit(cache=True, nogil=True, fastmath=True)
def _opening_light(widest: float, raster_width: int) -> float:
    """How much light gets into an opening whose widest inscribed distance is ``widest``
    raster pixels (``_NARROW_FLOOR`` in the narrowest gap, 1 once it is wide)."""
    per_256 = 256.0 / raster_width
    return _NARROW_FLOOR + (1.0 - _NARROW_FLOOR) * _smooth(
        widest * per_256, _NARROW_PX[0], _NARROW_PX[1]
    )


@numba.njit(cache=True, nogil=True, fastmath=True)
def _shade_cavity(
    triangle: NDArray[np.int32],
    row0: int,
    col0: int,
    synthetic: NDArray[np.bool_],
    key: NDArray[np.int8],
    field: NDArray[np.float32],
    raster_width: int,
    cavity_strength: NDArray[np.float32],
    photo_light: float,
) -> None:
    """Darken the synthetic interior pixels of the mouth box (``synthetic``, ``key`` (h, w)
    from ``_feather_kernel``) in ``field``'s gain and colour, in place; the photo's
    own interior pixels only by how much less light gets in than in the photo
    (``photo_light``, the photo's own opening's)."""
    rows, cols = key.shape
    distance, widest = _interior_distance(key)
    if widest <= 0.0:
        return
    light = _opening_light(widest, raster_width)
    own = min(light / max(photo_light, 1e-3), 1.0)
    for r in range(rows):
        for c in range(cols):
            if not synthetic[r, c]:
                # Her own teeth from the photo (a smiling photo made neutral): in a mouth
                # barely open, they sit in the lips' shadow too (no white line between lips).
                if key[r, c] != 0 and own < 1.0:
                    for k in range(2, 8):
                        field[row0 + r, col0 + c, k] *= own
                continue
            strength = cavity_strength[triangle[row0 + r, col0 + c]]
            full = light * (1.0 - _CAVITY_DARKEN * _smooth(distance[r, c] / widest, 0.15, 1.0))
            shade = 1.0 - strength * (1.0 - full)
            for k in range(2, 8):
                field[row0 + r, col0 + c, k] *= shade


@numba.njit(cache=True, nogil=True, fastmath=True)
def _interior_key(
    triangle: NDArray[np.int32],
    labels: NDArray[np.int8],
    row0: int,
    row1: int,
    col0: int,
    col1: int,
) -> NDArray[np.int8]:
    """(h, w) 1 where the box's pixel shows the mouth's interior, else 0."""
    key = np.zeros((row1 - row0, col1 - col0), np.int8)
    for r in range(row1 - row0):
        for c in range(col1 - col0):
            if _mouth_label(triangle, labels, row0 + r, col0 + c) != 0:
                key[r, c] = 1
    return key


@numba.njit(cache=True, nogil=True, fastmath=True)
def _feather_kernel(
    triangle: NDArray[np.int32],
    labels: NDArray[np.int8],
    row0: int,
    row1: int,
    col0: int,
    col1: int,
    field: NDArray[np.float32],
    work: NDArray[np.float32],
    cavity: bool,
    raster_width: int,
    cavity_strength: NDArray[np.float32],
    photo_light: float,
    low: int,
    high: int,
    synthetic_only: bool,
) -> None:
    """The opening's parts are the labels ``[low, high]`` (the mouth's interior, or the
    eyeball); the rest of the box is the skin around the opening. ``synthetic_only``: the
    blend across edges changes only the synthetic pixels (the photo's own pixels, the lash
    line of a raised lid, a lid closing over the photo's eye, stay as the photo draws them)."""
    rows = row1 - row0
    cols = col1 - col0
    # Per pixel: photo-driven (skin, or a part mostly from the photo: her own teeth, her
    # own eye) or synthetic (a part in its own colour), and a key that changes across every
    # edge.
    synthetic = np.zeros((rows, cols), np.bool_)
    key = np.zeros((rows, cols), np.int8)
    for r in range(rows):
        for c in range(cols):
            label = _part_label(triangle, labels, row0 + r, col0 + c, low, high)
            if label != 0:
                if field[row0 + r, col0 + c, 2] < 0.5:
                    synthetic[r, c] = True
                    key[r, c] = label
                else:
                    key[r, c] = high + 1
    # 1. Synthetic pixels take the warp of the photo-driven pixels beside them (two rings
    #    deep), so the bilinear upsampling across the lip (lid) edge samples the lip, not
    #    wherever the part's own warp points (the dark rim; at the eye, the photo's lashes).
    fill = synthetic.copy()
    for _ in range(2):
        done = np.zeros((rows, cols), np.bool_)
        for r in range(rows):
            for c in range(cols):
                if not fill[r, c]:
                    continue
                sx = np.float32(0.0)
                sy = np.float32(0.0)
                n = 0
                for dr in range(-1, 2):
                    for dc in range(-1, 2):
                        r2 = r + dr
                        c2 = c + dc
                        if 0 <= r2 < rows and 0 <= c2 < cols and not fill[r2, c2]:
                            sx += field[row0 + r2, col0 + c2, 0]
                            sy += field[row0 + r2, col0 + c2, 1]
                            n += 1
                if n > 0:
                    field[row0 + r, col0 + c, 0] = sx / n
                    field[row0 + r, col0 + c, 1] = sy / n
                    done[r, c] = True
        for r in range(rows):
            for c in range(cols):
                if done[r, c]:
                    fill[r, c] = False
    # 1b. The cavity is lit only through the lips' opening (``mouth_cavity``).
    if cavity:
        _shade_cavity(
            triangle,
            row0,
            col0,
            synthetic,
            key,
            field,
            raster_width,
            cavity_strength,
            photo_light,
        )
    # 2. Gain and added colour blurred by a 1-2-1 tent where the 3x3 neighbourhood crosses an
    #    edge (lip / interior, teeth / tongue, ...): with one warp on both sides this is an
    #    alpha blend of the two over ~1.5 raster pixels (no staircase at half resolution).
    for r in range(rows):
        for c in range(cols):
            for k in range(6):
                work[r, c, k] = field[row0 + r, col0 + c, 2 + k]
    for r in range(1, rows - 1):
        for c in range(1, cols - 1):
            if synthetic_only and not synthetic[r, c]:
                continue
            mixed = False
            centre = key[r, c]
            for dr in range(-1, 2):
                for dc in range(-1, 2):
                    if key[r + dr, c + dc] != centre:
                        mixed = True
            if not mixed:
                continue
            for k in range(6):
                s = np.float32(0.0)
                for dr in range(-1, 2):
                    wr = np.float32(2.0) if dr == 0 else np.float32(1.0)
                    for dc in range(-1, 2):
                        wc = np.float32(2.0) if dc == 0 else np.float32(1.0)
                        s += wr * wc * work[r + dr, c + dc, k]
                field[row0 + r, col0 + c, 2 + k] = s * np.float32(1.0 / 16.0)


def _opening_box(box: NDArray[np.float32], height: int, width: int) -> tuple[int, int, int, int]:
    """(row0, row1, col0, col1) of the raster around an opening's box, grown by 2-3
    pixels; empty (row1 - row0 < 3) when the box is not finite."""
    if not np.all(np.isfinite(box)):
        return 0, 0, 0, 0
    col0 = max(int(box[0]) - 2, 0)
    row0 = max(int(box[1]) - 2, 0)
    col1 = min(int(np.ceil(box[2])) + 3, width)
    row1 = min(int(np.ceil(box[3])) + 3, height)
    return row0, row1, col0, col1


def opening_light(
    fragments: Fragments, labels: NDArray[np.int8], box: NDArray[np.float32]
) -> float:
    """How much light the mouth's opening lets in (``_NARROW_FLOOR`` .. 1), as
    :func:`feather_mouth` shades it, for the frame rasterized in ``fragments`` (1 when it
    shows no interior)."""
    height, width = fragments.triangle.shape
    row0, row1, col0, col1 = _opening_box(box, height, width)
    if row1 - row0 < 3 or col1 - col0 < 3:
        return 1.0
    key = _interior_key(fragments.triangle, labels, row0, row1, col0, col1)
    _, widest = _interior_distance(key)
    return float(_opening_light(widest, width)) if widest > 0.0 else 1.0


def feather_mouth(
    fragments: Fragments,
    labels: NDArray[np.int8],
    box: NDArray[np.float32],
    field: NDArray[np.float32],
    cavity_strength: NDArray[np.float32] | None = None,
    photo_light: float = 1.0,
) -> None:
    """Soften the lip / mouth-interior edge of the shaded ``field`` (H, W, 8) in place,
    within the mouth opening's raster box ``(u_min, w_min, u_max, w_max)``: the interior's
    synthetic pixels take the lip's warp, and gain and colour are blended across the edge.
    With ``cavity_strength`` ((F,) per triangle, ``RenderMesh.cavity_strength``) the
    synthetic interior is first darkened as a cavity lit through the lips' opening
    (``_shade_cavity``: darker away from the lips and in a narrow gap), and the photo's own
    interior pixels by the light lost against ``photo_light``, the light of the photo's own
    opening (:func:`opening_light` of the photo's expression)."""
    _feather(fragments, labels, box, field, cavity_strength, photo_light,
             (LABEL_SOCKET, LABEL_TEETH), synthetic_only=False)  # fmt: skip


def feather_eye(
    fragments: Fragments,
    labels: NDArray[np.int8],
    box: NDArray[np.float32],
    field: NDArray[np.float32],
) -> None:
    """Soften the lid / eyeball edge of ``field`` (H, W, 8) in place within one eye
    opening's raster box, as :func:`feather_mouth` does the lips': where the eye fill draws
    the eyeball a lid uncovers (``eyeball.py``), those pixels take the lid's warp (the
    bilinear upsampling sampled the photo's lash line between the two and drew the raised
    lid's edge as a dotted dark line), and their gain and colour are blended with the lid's
    across the edge (the lid's own pixels, its lash line, are left as the photo has them)."""
    _feather(fragments, labels, box, field, None, 1.0, (LABEL_EYE, LABEL_EYE),
             synthetic_only=True)  # fmt: skip


def _feather(
    fragments: Fragments,
    labels: NDArray[np.int8],
    box: NDArray[np.float32],
    field: NDArray[np.float32],
    cavity_strength: NDArray[np.float32] | None,
    photo_light: float,
    parts: tuple[int, int],
    *,
    synthetic_only: bool,
) -> None:
    """:func:`_feather_kernel` over the raster around one opening's ``box``, its parts the
    labels ``parts`` (low, high); the cavity shading only with ``cavity_strength``."""
    height, width = fragments.triangle.shape
    row0, row1, col0, col1 = _opening_box(box, height, width)
    if row1 - row0 < 3 or col1 - col0 < 3:
        return
    work = np.empty((row1 - row0, col1 - col0, 6), np.float32)
    cavity = cavity_strength is not None
    strength = cavity_strength if cavity_strength is not None else np.zeros(1, np.float32)
    _feather_kernel(
        fragments.triangle, labels, row0, row1, col0, col1, field, work, cavity, width, strength,
        float(photo_light), parts[0], parts[1], synthetic_only,
    )  # fmt: skip
