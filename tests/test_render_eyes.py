"""Eyes on the astronaut and on a grey (black-and-white) copy of her photo.

Part A, lids opened wider than in the photo (eyeWide, surprise): the uncovered eyeball is
her eye (sclera-bright, low-saturation pixels above the iris; a round iris), not the photo's
lid stretched over it; ``RenderConfig.eye_fill`` switches it. Part B, shut lids on a grey
photo: a thin dark lash line where the lids meet, skin texture rather than a flat patch, and
grey (no colour cast).

The lid's geometry is taken from the ICT model itself (the eye opening at her fitted
expression, the upper lid's leading edge), not from the renderer's own bookkeeping.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from engines.render import AvatarRenderer, RenderConfig
from engines.render.mesh import LABEL_EYE

ZERO_POSE = np.zeros(3, np.float32)


@pytest.fixture(scope="module")
def renderer(astronaut_avatar, ict):
    return AvatarRenderer(astronaut_avatar, ict, RenderConfig(size=512))


@pytest.fixture(scope="module")
def grey_renderer(astronaut, ict):
    from calibration import calibrate

    grey = cv2.cvtColor(cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    avatar = calibrate(grey, model=ict).avatar
    return AvatarRenderer(avatar, ict, RenderConfig(size=512))


def _coeffs(renderer: AvatarRenderer, ict, own: bool = False, **values: float) -> np.ndarray:
    coeffs = renderer.source_expression.copy() if own else np.zeros(ict.num_expressions, np.float32)
    for name, value in values.items():
        coeffs[ict.expression_index(name)] = value
    return coeffs


def _eye_pixels(renderer: AvatarRenderer) -> np.ndarray:
    """(S, S) bool: output pixels the last frame drew from an eyeball triangle."""
    fragments = renderer.last_fragments
    assert fragments is not None
    tri = fragments.triangle
    eye = (tri >= 0) & (renderer.mesh.labels[np.maximum(tri, 0)] == LABEL_EYE)
    size = renderer.size
    return cv2.resize(eye.astype(np.uint8), (size, size), interpolation=cv2.INTER_NEAREST) > 0


def _saturation(frame: np.ndarray) -> np.ndarray:
    rgb = frame.astype(np.float32)
    high, low = rgb.max(-1), rgb.min(-1)
    return (high - low) / np.maximum(high, 1.0)


def _wide_eye_band(renderer: AvatarRenderer, ict) -> tuple[np.ndarray, np.ndarray]:
    """The frame at eyeWide 1 (from her own expression) and the eyeball pixels it shows
    that her own expression did not (what the raised lids uncovered)."""
    renderer.render(renderer.source_expression, ZERO_POSE)
    own = _eye_pixels(renderer)
    frame = renderer.render(
        _coeffs(renderer, ict, own=True, eyeWide_L=1.0, eyeWide_R=1.0), ZERO_POSE
    ).copy()
    wide = _eye_pixels(renderer)
    band = wide & ~cv2.dilate(own.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    return frame, band


def test_wide_eyes_uncover_sclera_not_stretched_lid(renderer, ict):
    """What the raised lids uncover is mostly her sclera: bright (within 30 levels of the
    photo's own visible sclera, its bright half) and of low saturation; the stretched lid
    (lashes, lid skin) there was dark."""
    frame, band = _wide_eye_band(renderer, ict)
    assert band.sum() > 150, f"eyeWide uncovers too little eyeball: {band.sum()} px"
    photo = renderer.crop_image
    renderer.render(renderer.source_expression, ZERO_POSE)
    own = _eye_pixels(renderer)
    inner = cv2.erode(own.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    seen_lum = photo[inner].astype(np.float32).mean(1)
    sclera_lum = float(np.percentile(seen_lum, 75))
    lum = frame.astype(np.float32).mean(2)
    sclera_like = (lum > sclera_lum - 30.0) & (_saturation(frame) < 0.35)
    share = float(sclera_like[band].mean())
    print(f"uncovered {int(band.sum())} px, sclera-like {share:.2f} (sclera {sclera_lum:.0f})")
    assert share > 0.45, f"the uncovered eyeball is not sclera: {share:.2f} sclera-like"


def _iris_component(frame: np.ndarray, eye: np.ndarray, centre_x: float) -> np.ndarray:
    """(S, S) bool: the dark disc (luminance below the eye's Otsu threshold) inside the eye
    pixels nearest ``centre_x``."""
    lum = frame.astype(np.float32).mean(2)
    values = np.clip(lum[eye], 0, 255).astype(np.uint8).reshape(-1, 1)
    threshold, _ = cv2.threshold(values, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    dark = (eye & (lum < threshold)).astype(np.uint8)
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(dark, 8)
    assert count > 1, "no dark iris in the eye"
    big = [k for k in range(1, count) if stats[k, cv2.CC_STAT_AREA] >= 20]
    best = min(big, key=lambda k: abs(centroids[k][0] - centre_x))
    return labels == best


@pytest.mark.parametrize(
    "values",
    [
        {"eyeWide_L": 1.0, "eyeWide_R": 1.0},
        {"eyeWide_L": 1.0, "eyeWide_R": 1.0, "browInnerUp_L": 1.0, "browInnerUp_R": 1.0,
         "browOuterUp_L": 1.0, "browOuterUp_R": 1.0},
    ],
    ids=["eyeWide", "surprise"],
)  # fmt: skip
def test_iris_stays_round_when_the_lids_open_wide(renderer, ict, values):
    """The iris is a round disc when the lids open wide: its dark region is about as tall
    as it is wide (height / width >= 0.85, at most 1.15) — the stretched lid above it made a
    taller, ragged dark region."""
    frame = renderer.render(_coeffs(renderer, ict, **values), ZERO_POSE).copy()
    eye = _eye_pixels(renderer)
    start, stop = ict.vertex_ranges["iris_left"], ict.vertex_ranges["iris_right"]
    for i0, i1 in (start, stop):
        centre_x = float(renderer.mesh.source_position[i0:i1, 0].mean())
        iris = _iris_component(frame, eye, centre_x)
        rows, cols = np.nonzero(iris)
        height, width = np.ptp(rows) + 1, np.ptp(cols) + 1
        aspect = height / width
        print(f"iris at x={centre_x:.0f}: {width} x {height} px, aspect {aspect:.2f}")
        assert 0.85 <= aspect <= 1.15, f"the iris is not round: aspect {aspect:.2f}"


def test_eye_fill_switch(astronaut_avatar, ict, renderer):
    """``eye_fill=False`` is the plain photo warp; the two differ only inside the eyes."""
    plain = AvatarRenderer(astronaut_avatar, ict, RenderConfig(size=512, eye_fill=False))
    coeffs = _coeffs(renderer, ict, eyeWide_L=1.0, eyeWide_R=1.0)
    a = renderer.render(coeffs, ZERO_POSE).astype(np.int16)
    eye = cv2.dilate(_eye_pixels(renderer).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    b = plain.render(coeffs, ZERO_POSE).astype(np.int16)
    diff = np.abs(a - b).max(-1)
    assert diff[eye].mean() > 5.0
    assert diff[~eye].max() <= 2


@pytest.mark.parametrize(
    "values",
    [{"eyeBlink_L": 0.5, "eyeBlink_R": 0.5}, {"eyeSquint_L": 1.0, "eyeSquint_R": 1.0}],
    ids=["half-blink", "squint"],
)
def test_closing_or_squinting_lids_keep_the_photo(astronaut_avatar, ict, renderer, values):
    """Lids that close or squint leave the eye as the photo shows it: with or without
    ``eye_fill`` the frames match (mean difference in the eyes < 1 level)."""
    plain = AvatarRenderer(astronaut_avatar, ict, RenderConfig(size=512, eye_fill=False))
    coeffs = _coeffs(renderer, ict, own=True, **values)
    a = renderer.render(coeffs, ZERO_POSE).astype(np.int16)
    eye = cv2.dilate(_eye_pixels(renderer).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    b = plain.render(coeffs, ZERO_POSE).astype(np.int16)
    diff = np.abs(a - b).max(-1)
    print(f"eye fill on/off: mean {diff[eye].mean():.2f}, p99 {np.percentile(diff[eye], 99):.0f}")
    assert diff[eye].mean() < 1.0


def _leading_edge(renderer: AvatarRenderer, ict, coeffs: np.ndarray) -> list[np.ndarray]:
    """Per eye, (K, 2) output-pixel points (column, row) of the shut upper lid's leading
    edge: per column, the lowest of the upper-lid vertices its blink moves furthest (at
    least 0.6 of the largest move), from the ICT blink shapes."""
    _, points, _ = renderer.geometry(coeffs, ZERO_POSE)
    up = renderer.size / renderer.config.raster_size
    num_skin = renderer.mesh.num_skin_vertices
    lines = []
    for name in ("eyeBlink_L", "eyeBlink_R"):
        delta = ict.expression_basis[ict.expression_index(name), :num_skin]
        move = np.linalg.norm(delta, axis=1)
        lid = move > 0.05
        edge = np.flatnonzero(
            lid & (move >= 0.6 * np.percentile(move[lid], 95)) & (delta[:, 1] < 0)
        )
        pts = points[edge] * up
        cols = np.rint(pts[:, 0]).astype(int)
        line = [(c, pts[cols == c, 1].max()) for c in np.unique(cols)]
        lines.append(np.array(line, np.float32))
    return lines


def _shut(renderer: AvatarRenderer, ict) -> tuple[np.ndarray, np.ndarray]:
    coeffs = _coeffs(renderer, ict, own=True, eyeBlink_L=1.0, eyeBlink_R=1.0)
    frame = renderer.render(coeffs, ZERO_POSE).copy()
    return frame, coeffs


def test_shut_lid_on_a_grey_photo_has_a_lash_line(grey_renderer, ict):
    """Where the lids meet, a shut eye on a grey photo shows a thin dark line: over the
    middle half of each eye, the darkest pixel within 2 px of the leading edge is >= 20 %
    darker than the lid 5-9 px above and below, and the line is at most 6 px thick
    (pixels darker than halfway)."""
    frame, coeffs = _shut(grey_renderer, ict)
    lum = cv2.GaussianBlur(frame.astype(np.float32).mean(2), (0, 0), 0.7)
    for line in _leading_edge(grey_renderer, ict, coeffs):
        xs = np.sort(line[:, 0])
        left, right = np.percentile(xs, 25), np.percentile(xs, 75)
        contrast, thickness = [], []
        for col, row in line[(line[:, 0] >= left) & (line[:, 0] <= right)]:
            r, c = round(row), int(col)
            profile = lum[r - 9 : r + 10, c]
            core = profile[9 - 2 : 9 + 3].min()
            lid = np.median(np.r_[profile[:5], profile[-5:]])
            contrast.append(1.0 - core / max(lid, 1.0))
            thickness.append(int((profile < 0.5 * (core + lid)).sum()))
        print(f"lash line contrast {np.median(contrast):.2f}, thickness {np.median(thickness)} px")
        assert np.median(contrast) >= 0.2, f"no lash line: contrast {np.median(contrast):.2f}"
        assert np.median(thickness) <= 6


def _lid_and_ring(renderer: AvatarRenderer, ict) -> tuple[np.ndarray, np.ndarray]:
    """(S, S) bool masks: the photo's eye openings (covered by the shut lids; the skin
    openings nearest each eyeball), eroded 2 px, and a ring of skin 6-14 px around them."""
    mesh = renderer.mesh
    loops = [
        mesh.opening_index[mesh.opening_indptr[g - 1] : mesh.opening_indptr[g]]
        for g in range(1, len(mesh.opening_indptr))
    ]
    centres = np.array([mesh.source_position[loop].mean(0) for loop in loops])
    mask = np.zeros((renderer.size, renderer.size), np.uint8)
    for part in ("eyeball_left", "eyeball_right"):
        start, stop = ict.vertex_ranges[part]
        centre = mesh.source_position[start:stop].mean(0)
        loop = loops[int(np.argmin(np.linalg.norm(centres - centre, axis=1)))]
        hull = cv2.convexHull(np.rint(mesh.source_position[loop]).astype(np.int32))
        cv2.fillConvexPoly(mask, hull, 1)
    lid = cv2.erode(mask, np.ones((5, 5), np.uint8)) > 0
    ring = (cv2.dilate(mask, np.ones((29, 29), np.uint8)) > 0) & ~(
        cv2.dilate(mask, np.ones((13, 13), np.uint8)) > 0
    )
    return lid, ring


def test_shut_lid_on_a_grey_photo_is_textured_grey_skin(grey_renderer, ict):
    """A shut lid on a grey photo is skin, not a flat grey patch: away from the lash line,
    the standard deviation of its high-pass luminance (minus a Gaussian blur, sigma 2 px) is
    >= 0.6 of the skin's around the eye; and it stays grey (channel spread < 2 levels)."""
    frame, coeffs = _shut(grey_renderer, ict)
    lid, ring = _lid_and_ring(grey_renderer, ict)
    near_line = np.zeros_like(lid)
    for line in _leading_edge(grey_renderer, ict, coeffs):
        for col, row in line:
            r, c = round(row), int(col)
            near_line[max(r - 4, 0) : r + 5, max(c - 1, 0) : c + 2] = True
    lid &= ~near_line
    assert lid.sum() > 150 and ring.sum() > 1000
    lum = frame.astype(np.float32).mean(2)
    high = lum - cv2.GaussianBlur(lum, (0, 0), 2.0)
    ratio = float(high[lid].std() / high[ring].std())
    spread = float((frame[lid].max(1).astype(np.int16) - frame[lid].min(1)).mean())
    print(f"shut lid / skin high-pass std {ratio:.2f}, channel spread {spread:.2f}")
    assert ratio >= 0.6, f"the shut lid is a flat patch: high-pass std ratio {ratio:.2f}"
    assert spread < 2.0


def _eye_box_field():
    """A 20x20 raster: skin around an eyeball opening (rows 8-13, cols 5-14) whose own warp
    points 30 px away; photo share 1 everywhere."""
    from types import SimpleNamespace

    from engines.render.mesh import LABEL_SKIN

    triangle = np.zeros((20, 20), np.int32)
    triangle[8:14, 5:15] = 1
    labels = np.array([LABEL_SKIN, LABEL_EYE], np.int8)
    field = np.zeros((20, 20, 8), np.float32)
    field[..., 2] = 1.0
    field[8:14, 5:15, 0] = 30.0
    box = np.array([5, 8, 14, 13], np.float32)
    return SimpleNamespace(triangle=triangle), labels, field, box


def test_the_eyeball_a_lid_uncovers_takes_the_lids_warp():
    """Eye fill pixels (photo share < 0.5) next to the lid take the lid's warp, so the
    upsampling between them samples the lid, not the photo's lash line (the raised lid's
    edge drawn as a dotted dark line); the photo's own eyeball keeps its warp."""
    from engines.render.shader import feather_eye

    fragments, labels, field, box = _eye_box_field()
    field[8:10, 5:15, 2] = 0.0  # the band a raised upper lid uncovers: eye fill
    feather_eye(fragments, labels, box, field)
    assert np.abs(field[8, 6:14, 0]).max() < 1.0  # was 30: now the lid's (0)
    assert np.abs(field[12:14, 6:14, 0] - 30.0).max() < 1e-6  # her own eye, untouched


def test_a_lid_over_the_photos_own_eye_is_left_as_the_photo_draws_it():
    """No eye fill in the box (a blink, a squint): the feathering changes nothing."""
    from engines.render.shader import feather_eye

    fragments, labels, field, box = _eye_box_field()
    before = field.copy()
    feather_eye(fragments, labels, box, field)
    np.testing.assert_array_equal(field, before)
