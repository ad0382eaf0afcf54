"""Compositor: the shaded face into the source crop with a feathered edge, and a smooth warp
that carries hair, neck and background along with the face boundary.

1. ``extend_warp``: the face's displacement is spread outwards by normalized convolution on a
   coarse grid (splat displacement·coverage and coverage, blur both, divide) and faded to zero
   away from the face, so the surroundings follow the face instead of tearing.
2. Inside the face proper the mesh's own displacement is kept; towards the mesh's edge
   (feather) and over the skull, ears and neck (the shader's ``exact`` share, a soft ramp per
   vertex) it gives way to the extended one, and so do the gain and added colour (to 1 and
   0: no shading step at the outline). Hair inside and outside the skull's outline then
   follows one smooth field: no arc where the mesh ends.
3. ``composite``: one pass at output resolution: bilinear upsampling of the raster fields,
   bilinear sampling of the source crop at the displaced point, ``photo · gain + colour``.
"""

from __future__ import annotations

import cv2
import numba
import numpy as np
from numpy.typing import NDArray

__all__ = ["CompositorBuffers", "composite", "extend_warp"]


class CompositorBuffers:
    """Work arrays of one raster size, allocated once."""

    def __init__(self, raster_size: int, coarse_size: int) -> None:
        self.raster_size = raster_size
        self.coarse_size = coarse_size
        self.weighted = np.zeros((coarse_size, coarse_size, 3), np.float32)
        self.stack = np.zeros((raster_size, raster_size, 3), np.float32)


def extend_warp(
    field: NDArray[np.float32],
    coverage: NDArray[np.float32],
    exact: NDArray[np.float32],
    buffers: CompositorBuffers,
    sigma_coarse: float,
    feather: float,
) -> tuple[int, int, int, int]:
    """Fill the displacement of uncovered pixels and feather the covered edge, in place.

    Args:
        field: (H, W, 8) shader fields; updated in place (displacement everywhere, gain and
            colour where the mesh's own warp gives way to the extended one).
        coverage: (H, W) 1 where the mesh covers the pixel.
        exact: (H, W) share of the mesh's own warp (the shader's; 0 where uncovered).
        buffers: work arrays.
        sigma_coarse: blur of the extension on the coarse grid, in coarse pixels.
        feather: sigma of the edge blend in raster pixels (0 = hard edge).

    Returns:
        ``(row0, row1, col0, col1)`` raster box outside which the warp is the identity
        (displacement below ~0.1 % of the face's, gain 1, nothing added).
    """
    coarse = buffers.coarse_size
    raster = field.shape[0]
    if raster % coarse == 0 and field.shape[1] == raster:
        # Integer factor: INTER_AREA is a block mean; splat straight from the fields.
        small: NDArray[np.float32] = buffers.weighted
        _splat_blocks(field, coverage, raster // coarse, small)
    else:
        stack = buffers.stack
        np.multiply(field[..., 0], coverage, out=stack[..., 0])
        np.multiply(field[..., 1], coverage, out=stack[..., 1])
        stack[..., 2] = coverage
        small = np.asarray(
            cv2.resize(stack, (coarse, coarse), interpolation=cv2.INTER_AREA), np.float32
        )
    blurred = cv2.GaussianBlur(small, (0, 0), sigma_coarse, borderType=cv2.BORDER_CONSTANT)
    weight = blurred[..., 2:3]
    # Normalized convolution, faded to zero where the face is far (weight small).
    fade = np.clip(weight * 4.0, 0.0, 1.0)
    active_rows = np.flatnonzero(fade.max(axis=(1, 2)) > 1e-3)
    active_cols = np.flatnonzero(fade.max(axis=(0, 2)) > 1e-3)
    extended = blurred[..., :2] / np.maximum(weight, 1e-4) * fade
    size = field.shape[0]
    ext = cv2.resize(extended, (size, size), interpolation=cv2.INTER_LINEAR)
    if feather > 0:
        # 0 at the mesh edge (the extended warp, continuous with the outside), 1 inside.
        blurred_coverage = _blur_coverage(coverage, feather)
        _blend_displacement(field, ext, blurred_coverage, coverage, exact, True)
    else:
        _blend_displacement(field, ext, coverage, coverage, exact, False)
    if len(active_rows) == 0:
        return 0, 0, 0, 0
    cell = field.shape[0] / coarse
    return (
        max(int(active_rows[0] * cell) - 1, 0),
        min(int((active_rows[-1] + 1) * cell) + 1, field.shape[0]),
        max(int(active_cols[0] * cell) - 1, 0),
        min(int((active_cols[-1] + 1) * cell) + 1, field.shape[1]),
    )


def _blur_coverage(coverage: NDArray[np.float32], sigma: float) -> NDArray[np.float32]:
    """Gaussian blur of the (H, W) coverage; for sigma >= 2 at half resolution (a quarter of
    the work; the seam weight moves by about 0.01)."""
    height, width = coverage.shape
    if sigma < 2.0 or height % 2 or width % 2:
        return np.asarray(cv2.GaussianBlur(coverage, (0, 0), sigma), np.float32)
    small = cv2.resize(coverage, (width // 2, height // 2), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / 2.0)
    return np.asarray(
        cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR), np.float32
    )


@numba.njit(cache=True, nogil=True, fastmath=True)
def _splat_blocks(
    field: NDArray[np.float32],
    coverage: NDArray[np.float32],
    factor: int,
    out: NDArray[np.float32],
) -> None:
    """``out[i, j]`` = mean over the factor × factor block of (dx·cov, dy·cov, cov)."""
    coarse = out.shape[0]
    norm = np.float32(1.0) / np.float32(factor * factor)
    for i in range(coarse):
        for j in range(coarse):
            sx = np.float32(0.0)
            sy = np.float32(0.0)
            sc = np.float32(0.0)
            for row in range(i * factor, (i + 1) * factor):
                for col in range(j * factor, (j + 1) * factor):
                    c = coverage[row, col]
                    sx += field[row, col, 0] * c
                    sy += field[row, col, 1] * c
                    sc += c
            out[i, j, 0] = sx * norm
            out[i, j, 1] = sy * norm
            out[i, j, 2] = sc * norm


@numba.njit(cache=True, nogil=True, fastmath=True)
def _blend_displacement(
    field: NDArray[np.float32],
    extended: NDArray[np.float32],
    blurred: NDArray[np.float32],
    coverage: NDArray[np.float32],
    exact: NDArray[np.float32],
    feathered: bool,
) -> None:
    """displacement = a · field + (1 - a) · extended, gain = 1 + a · (gain - 1) and
    colour = a · colour, with a = exact · clip(2 · blurred · coverage - 1, 0, 1) (feathered)
    or a = exact · coverage."""
    height, width = coverage.shape
    zero = np.float32(0.0)
    one = np.float32(1.0)
    two = np.float32(2.0)
    for row in range(height):
        for col in range(width):
            if feathered:
                a = min(max(blurred[row, col] * coverage[row, col] * two - one, zero), one)
            else:
                a = coverage[row, col]
            a *= exact[row, col]
            for c in range(2):
                field[row, col, c] = a * field[row, col, c] + (one - a) * extended[row, col, c]
            if a < one and coverage[row, col] > zero:  # uncovered: already gain 1, colour 0
                for c in range(2, 5):
                    field[row, col, c] = one + a * (field[row, col, c] - one)
                for c in range(5, 8):
                    field[row, col, c] = a * field[row, col, c]


@numba.njit(cache=True, nogil=True, fastmath=True)
def _composite_kernel(
    field: NDArray[np.float32],
    image: NDArray[np.uint8],
    coverage: NDArray[np.float32],
    scale: float,
    row_buffer: NDArray[np.float32],
    y_start: int,
    y_stop: int,
    x_start: int,
    x_stop: int,
    out: NDArray[np.uint8],
) -> None:
    size = out.shape[0]
    raster = field.shape[0]
    channels = field.shape[2]
    scale32 = np.float32(scale)
    limit = np.float32(raster - 1.0001)
    max_xy = np.float32(size - 1.0001)
    half = np.float32(0.5)
    zero = np.float32(0.0)
    one = np.float32(1.0)
    col_index = np.empty(size, np.int64)
    col_frac = np.empty(size, np.float32)
    row_covered = np.zeros(raster, np.bool_)
    for x in range(size):
        rx = min(max((np.float32(x) + half) * scale32 - half, zero), limit)
        col_index[x] = int(rx)
        col_frac[x] = rx - np.float32(col_index[x])
    for y in range(y_start, y_stop):
        ry = min(max((np.float32(y) + half) * scale32 - half, zero), limit)
        r0 = int(ry)
        fy = ry - np.float32(r0)
        # Vertical pass once per output row, then 2-tap horizontal per pixel.
        for c in range(raster):
            for k in range(channels):
                row_buffer[c, k] = field[r0, c, k] * (one - fy) + field[r0 + 1, c, k] * fy
            row_covered[c] = coverage[r0, c] > zero or coverage[r0 + 1, c] > zero
        for x in range(x_start, x_stop):
            c0 = col_index[x]
            fx = col_frac[x]
            gx0 = one - fx
            dx = row_buffer[c0, 0] * gx0 + row_buffer[c0 + 1, 0] * fx
            dy = row_buffer[c0, 1] * gx0 + row_buffer[c0 + 1, 1] * fx
            sx = min(max(np.float32(x) + dx, zero), max_xy)
            sy = min(max(np.float32(y) + dy, zero), max_xy)
            x0 = int(sx)
            y0 = int(sy)
            ax = sx - np.float32(x0)
            ay = sy - np.float32(y0)
            if not (row_covered[c0] or row_covered[c0 + 1]):
                # Off the face: gain 1, nothing added (the shader's value for empty pixels).
                for c in range(3):
                    top = (
                        np.float32(image[y0, x0, c]) * (one - ax)
                        + np.float32(image[y0, x0 + 1, c]) * ax
                    )
                    bottom = (
                        np.float32(image[y0 + 1, x0, c]) * (one - ax)
                        + np.float32(image[y0 + 1, x0 + 1, c]) * ax
                    )
                    value = top * (one - ay) + bottom * ay + half
                    out[y, x, c] = np.uint8(min(max(value, zero), np.float32(255.0)))
                continue
            for c in range(3):
                gain = row_buffer[c0, 2 + c] * gx0 + row_buffer[c0 + 1, 2 + c] * fx
                add = row_buffer[c0, 5 + c] * gx0 + row_buffer[c0 + 1, 5 + c] * fx
                top = (
                    np.float32(image[y0, x0, c]) * (one - ax)
                    + np.float32(image[y0, x0 + 1, c]) * ax
                )
                bottom = (
                    np.float32(image[y0 + 1, x0, c]) * (one - ax)
                    + np.float32(image[y0 + 1, x0 + 1, c]) * ax
                )
                value = (top * (one - ay) + bottom * ay) * gain + add + half
                out[y, x, c] = np.uint8(min(max(value, zero), np.float32(255.0)))


def composite(
    field: NDArray[np.float32],
    image: NDArray[np.uint8],
    out: NDArray[np.uint8],
    coverage: NDArray[np.float32] | None = None,
    box: tuple[int, int, int, int] | None = None,
) -> NDArray[np.uint8]:
    """Sample ``image`` (S, S, 3) through the upsampled ``field`` (R, R, 8) into ``out``.

    Args:
        coverage: (R, R) the shader's coverage; where a pixel's raster neighbours are all
            uncovered only the displacement is interpolated (gain 1, nothing added there).
            None = treat every pixel as covered.
        box: raster ``(row0, row1, col0, col1)`` outside which the field is the identity
            (from :func:`extend_warp`): those pixels are copied from ``image`` and only the
            box is resampled. None = resample everything.
    """
    size = out.shape[0]
    raster = field.shape[0]
    if box is None:
        y0, y1, x0, x1 = 0, size, 0, size
    else:
        np.copyto(out, image)
        up = size / raster
        y0 = max(int(box[0] * up) - 2, 0)
        y1 = min(int(np.ceil(box[1] * up)) + 2, size)
        x0 = max(int(box[2] * up) - 2, 0)
        x1 = min(int(np.ceil(box[3] * up)) + 2, size)
    if y1 > y0 and x1 > x0:
        row_buffer = np.empty((field.shape[1], field.shape[2]), np.float32)
        if coverage is None:
            coverage = np.ones(field.shape[:2], np.float32)
        _composite_kernel(field, image, coverage, raster / size, row_buffer, y0, y1, x0, x1, out)
    return out


class RemapBuffers:
    """Full-resolution work arrays of :func:`composite_remap` (the float remap table),
    allocated once."""

    def __init__(self, size: int) -> None:
        self.map = np.zeros((size, size, 2), np.float32)


@numba.njit(cache=True, nogil=True, fastmath=True)
def _shade_kernel(
    field: NDArray[np.float32],
    coverage: NDArray[np.float32],
    scale: float,
    y_start: int,
    y_stop: int,
    x_start: int,
    x_stop: int,
    out: NDArray[np.uint8],
) -> None:
    """out = out · gain + colour where the pixel's raster neighbourhood is covered.

    Only the span of each output row between its raster rows' first and last covered
    column (± one) is touched; uncovered raster pixels hold gain 1 and colour 0, so the
    span needs no per-pixel coverage test.
    """
    raster = field.shape[0]
    size = out.shape[0]
    scale32 = np.float32(scale)
    limit = np.float32(raster - 1.0001)
    half = np.float32(0.5)
    zero = np.float32(0.0)
    one = np.float32(1.0)
    top = np.float32(255.0)
    # Covered column span of every raster row (lo > hi: row empty).
    row_lo = np.full(raster, raster, np.int64)
    row_hi = np.full(raster, -1, np.int64)
    for rr in range(raster):
        for cc in range(raster):
            if coverage[rr, cc] != 0.0:
                row_lo[rr] = cc
                break
        for cc in range(raster - 1, -1, -1):
            if coverage[rr, cc] != 0.0:
                row_hi[rr] = cc
                break
    col_index = np.empty(size, np.int64)
    col_frac = np.empty(size, np.float32)
    for x in range(size):
        rx = min(max((np.float32(x) + half) * scale32 - half, zero), limit)
        col_index[x] = int(rx)
        col_frac[x] = rx - np.float32(col_index[x])
    inv = one / scale32
    buffer = np.empty((raster, 6), np.float32)  # gain 3, colour 3
    for y in range(y_start, y_stop):
        ry = min(max((np.float32(y) + half) * scale32 - half, zero), limit)
        r0 = int(ry)
        lo = min(row_lo[r0], row_lo[r0 + 1])
        hi = max(row_hi[r0], row_hi[r0 + 1])
        if hi < 0:
            continue
        fy = ry - np.float32(r0)
        gy = one - fy
        # Output pixels whose two raster columns (c0, c0 + 1) meet the span [lo, hi].
        x_first = max(x_start, int((np.float32(lo - 1) + half) * inv - half) - 1)
        x_last = min(x_stop, int((np.float32(hi) + half) * inv - half) + 3)
        while x_first < x_last and col_index[x_first] + 1 < lo:
            x_first += 1
        while x_last > x_first and col_index[x_last - 1] > hi:
            x_last -= 1
        if x_first >= x_last:
            continue
        c_first = col_index[x_first]
        c_last = min(col_index[x_last - 1] + 1, raster - 1)
        for c in range(c_first, c_last + 1):
            for k in range(6):
                buffer[c, k] = field[r0, c, 2 + k] * gy + field[r0 + 1, c, 2 + k] * fy
        for x in range(x_first, x_last):
            c0 = col_index[x]
            fx = col_frac[x]
            gx = one - fx
            for c in range(3):
                gain = buffer[c0, c] * gx + buffer[c0 + 1, c] * fx
                add = buffer[c0, 3 + c] * gx + buffer[c0 + 1, 3 + c] * fx
                value = np.float32(out[y, x, c]) * gain + add + half
                out[y, x, c] = np.uint8(min(max(value, zero), top))


@numba.njit(cache=True, nogil=True, fastmath=True)
def _upsample_map(
    field: NDArray[np.float32],
    scale: float,
    y_start: int,
    y_stop: int,
    x_start: int,
    x_stop: int,
    mapping: NDArray[np.float32],
) -> None:
    """mapping[y - y_start, x - x_start] = (x, y) + bilinear displacement (field[..., 0:2])."""
    raster = field.shape[0]
    scale32 = np.float32(scale)
    limit = np.float32(raster - 1.0001)
    half = np.float32(0.5)
    zero = np.float32(0.0)
    one = np.float32(1.0)
    width = x_stop - x_start
    col_index = np.empty(width, np.int64)
    col_frac = np.empty(width, np.float32)
    for j in range(width):
        rx = min(max((np.float32(x_start + j) + half) * scale32 - half, zero), limit)
        col_index[j] = int(rx)
        col_frac[j] = rx - np.float32(col_index[j])
    buffer = np.empty((raster, 2), np.float32)
    c_first = col_index[0]
    c_last = min(col_index[width - 1] + 1, raster - 1)
    for y in range(y_start, y_stop):
        ry = min(max((np.float32(y) + half) * scale32 - half, zero), limit)
        r0 = int(ry)
        fy = ry - np.float32(r0)
        gy = one - fy
        for c in range(c_first, c_last + 1):
            buffer[c, 0] = field[r0, c, 0] * gy + field[r0 + 1, c, 0] * fy
            buffer[c, 1] = field[r0, c, 1] * gy + field[r0 + 1, c, 1] * fy
        yf = np.float32(y)
        for j in range(width):
            c0 = col_index[j]
            fx = col_frac[j]
            gx = one - fx
            mapping[y - y_start, j, 0] = np.float32(x_start + j) + (
                buffer[c0, 0] * gx + buffer[c0 + 1, 0] * fx
            )
            mapping[y - y_start, j, 1] = yf + buffer[c0, 1] * gx + buffer[c0 + 1, 1] * fx


@numba.njit(cache=True, nogil=True, fastmath=True)
def _upsample_map_2x(
    field: NDArray[np.float32], y_start: int, y_stop: int, mapping: NDArray[np.float32]
) -> None:
    """:func:`_upsample_map` over full output rows for an output exactly twice the raster:
    output column ``2c + 1`` / ``2c + 2`` blends raster columns c, c + 1 with weights
    3:1 / 1:3 (no per-pixel index gathers); the first and last column take the edge."""
    raster = field.shape[0]
    size = raster * 2
    q1 = np.float32(0.25)
    q3 = np.float32(0.75)
    one = np.float32(1.0)
    buffer = np.empty((raster, 2), np.float32)
    for y in range(y_start, y_stop):
        if y == 0:
            r0 = 0
            fy = np.float32(0.0)
        elif y == size - 1:
            r0 = raster - 2
            fy = one
        else:
            r0 = (y - 1) // 2
            fy = q1 if (y - 1) % 2 == 0 else q3
        gy = one - fy
        for c in range(raster):
            buffer[c, 0] = field[r0, c, 0] * gy + field[r0 + 1, c, 0] * fy
            buffer[c, 1] = field[r0, c, 1] * gy + field[r0 + 1, c, 1] * fy
        yf = np.float32(y)
        row = y - y_start
        mapping[row, 0, 0] = buffer[0, 0]
        mapping[row, 0, 1] = yf + buffer[0, 1]
        for c in range(raster - 1):
            x = 2 * c + 1
            a0 = buffer[c, 0]
            a1 = buffer[c + 1, 0]
            b0 = buffer[c, 1]
            b1 = buffer[c + 1, 1]
            mapping[row, x, 0] = np.float32(x) + a0 * q3 + a1 * q1
            mapping[row, x, 1] = yf + b0 * q3 + b1 * q1
            mapping[row, x + 1, 0] = np.float32(x + 1) + a0 * q1 + a1 * q3
            mapping[row, x + 1, 1] = yf + b0 * q1 + b1 * q3
        mapping[row, size - 1, 0] = np.float32(size - 1) + buffer[raster - 1, 0]
        mapping[row, size - 1, 1] = yf + buffer[raster - 1, 1]


# A jump of the warp between two neighbouring raster pixels above this (output pixels at a
# 512 output) is a seam: lips that meet where the photo's were apart. Interpolating across
# it samples whatever lay between them in the photo (her teeth: a white line).
_SEAM_JUMP_512 = 4.0


@numba.njit(cache=True, nogil=True, fastmath=True)
def _seam_nearest(
    field: NDArray[np.float32],
    scale: float,
    jump: float,
    y_start: int,
    x_start: int,
    y0: int,
    y1: int,
    x0: int,
    x1: int,
    mapping: NDArray[np.float32],
) -> None:
    """Within output rows/cols [y0, y1) x [x0, x1): where the 2x2 raster pixels that an
    output pixel interpolates disagree by more than ``jump`` (output px), take the nearest
    raster pixel's displacement instead (a sharp seam, nothing from between)."""
    raster = field.shape[0]
    limit = raster - 1.0001
    for y in range(y0, y1):
        ry = min(max((y + 0.5) * scale - 0.5, 0.0), limit)
        r0 = int(ry)
        for x in range(x0, x1):
            rx = min(max((x + 0.5) * scale - 0.5, 0.0), limit)
            c0 = int(rx)
            low_x = min(min(field[r0, c0, 0], field[r0, c0 + 1, 0]),
                        min(field[r0 + 1, c0, 0], field[r0 + 1, c0 + 1, 0]))  # fmt: skip
            high_x = max(max(field[r0, c0, 0], field[r0, c0 + 1, 0]),
                         max(field[r0 + 1, c0, 0], field[r0 + 1, c0 + 1, 0]))  # fmt: skip
            low_y = min(min(field[r0, c0, 1], field[r0, c0 + 1, 1]),
                        min(field[r0 + 1, c0, 1], field[r0 + 1, c0 + 1, 1]))  # fmt: skip
            high_y = max(max(field[r0, c0, 1], field[r0, c0 + 1, 1]),
                         max(field[r0 + 1, c0, 1], field[r0 + 1, c0 + 1, 1]))  # fmt: skip
            if high_x - low_x <= jump and high_y - low_y <= jump:
                continue
            rn = min(int(ry + 0.5), raster - 1)
            cn = min(int(rx + 0.5), raster - 1)
            mapping[y - y_start, x - x_start, 0] = np.float32(x) + field[rn, cn, 0]
            mapping[y - y_start, x - x_start, 1] = np.float32(y) + field[rn, cn, 1]


def composite_remap(
    field: NDArray[np.float32],
    image: NDArray[np.uint8],
    out: NDArray[np.uint8],
    coverage: NDArray[np.float32],
    buffers: RemapBuffers,
    box: tuple[int, int, int, int] | None = None,
    seam_box: NDArray[np.float32] | None = None,
    lip_image: NDArray[np.uint8] | None = None,
    lip_pixels: NDArray[np.bool_] | None = None,
) -> NDArray[np.uint8]:
    """Like :func:`composite`, with the photo resampled by ``cv2.remap`` (SIMD) through the
    upsampled displacement; the gain and colour are applied only next to covered pixels.

    ``seam_box`` (u_min, w_min, u_max, w_max) in raster pixels (the mouth opening's box):
    inside it, a warp that jumps between neighbouring raster pixels is not interpolated
    (:func:`_seam_nearest`), and output pixels whose nearest raster pixel is in
    ``lip_pixels`` (H, W) bool are sampled from ``lip_image`` (the crop with her teeth under
    closing lips lip-coloured) instead of ``image``."""
    size = out.shape[0]
    raster = field.shape[0]
    up = size / raster
    if box is None:
        y0, y1, x0, x1 = 0, size, 0, size
    else:
        np.copyto(out, image)
        y0 = max(int(box[0] * up) - 2, 0)
        y1 = min(int(np.ceil(box[1] * up)) + 2, size)
        x0 = max(int(box[2] * up) - 2, 0)
        x1 = min(int(np.ceil(box[3] * up)) + 2, size)
    if y1 <= y0 or x1 <= x0:
        return out
    mapping = buffers.map[: y1 - y0, : x1 - x0]
    if size == 2 * raster and x0 == 0 and x1 == size:
        _upsample_map_2x(field, y0, y1, mapping)
    else:
        _upsample_map(field, raster / size, y0, y1, x0, x1, mapping)
    lip_box: tuple[int, int, int, int] | None = None
    if seam_box is not None and np.all(np.isfinite(seam_box)):
        sy0 = max(int(seam_box[1] * up) - 2, y0)
        sy1 = min(int(np.ceil(seam_box[3] * up)) + 2, y1)
        sx0 = max(int(seam_box[0] * up) - 2, x0)
        sx1 = min(int(np.ceil(seam_box[2] * up)) + 2, x1)
        if sy1 > sy0 and sx1 > sx0:
            _seam_nearest(
                field, raster / size, _SEAM_JUMP_512 * size / 512.0, y0, x0, sy0, sy1, sx0,
                sx1, mapping,
            )  # fmt: skip
            lip_box = (sy0, sy1, sx0, sx1)
    # Fixed-point maps (1/32 px) remap about twice as fast as float ones.
    fixed, fraction = cv2.convertMaps(mapping, None, cv2.CV_16SC2)  # type: ignore[call-overload]
    if x1 - x0 == size:  # contiguous rows: remap straight into the output
        cv2.remap(
            image, fixed, fraction, cv2.INTER_LINEAR, dst=out[y0:y1],
            borderMode=cv2.BORDER_REPLICATE,
        )  # fmt: skip
    else:
        out[y0:y1, x0:x1] = cv2.remap(
            image, fixed, fraction, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
    if lip_box is not None and lip_image is not None and lip_pixels is not None:
        _resample_lips(lip_image, lip_pixels, mapping, (y0, x0), lip_box, out)
    _shade_kernel(field, coverage, raster / size, y0, y1, x0, x1, out)
    return out


def _resample_lips(
    lip_image: NDArray[np.uint8],
    lip_pixels: NDArray[np.bool_],
    mapping: NDArray[np.float32],
    origin: tuple[int, int],
    box: tuple[int, int, int, int],
    out: NDArray[np.uint8],
) -> None:
    """Within output rows/cols ``box`` (y0, y1, x0, x1): pixels whose nearest raster pixel is
    in ``lip_pixels`` take ``lip_image`` through the same ``mapping`` (rows/cols from
    ``origin``) instead of what was remapped into ``out``."""
    y0, y1, x0, x1 = box
    raster = lip_pixels.shape[0]
    scale = raster / out.shape[0]
    rows = np.minimum(((np.arange(y0, y1) + 0.5) * scale).astype(np.intp), raster - 1)
    cols = np.minimum(((np.arange(x0, x1) + 0.5) * scale).astype(np.intp), raster - 1)
    chosen = lip_pixels[rows[:, None], cols[None, :]]
    if not chosen.any():
        return
    oy, ox = origin
    part = np.ascontiguousarray(mapping[y0 - oy : y1 - oy, x0 - ox : x1 - ox])
    lips = cv2.remap(  # type: ignore[call-overload]
        lip_image, part, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    region = out[y0:y1, x0:x1]
    region[chosen] = lips[chosen]
