"""Taking away the photo's own expression (engines/render/unfold.py), on the astronaut, who
smiles with her teeth showing: made neutral, her nasolabial region loses the fold's shading,
the lip texels whose photo shows her teeth take her lip colour, the photo's own expression
is untouched, and a grey photo stays grey."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from calibration import calibrate
from engines.render import AvatarRenderer, RenderConfig

SIZE = 512


@pytest.fixture(scope="module")
def unfolding(astronaut_avatar, ict):
    return AvatarRenderer(astronaut_avatar, ict, RenderConfig(size=SIZE))


@pytest.fixture(scope="module")
def keeping(astronaut_avatar, ict):
    return AvatarRenderer(astronaut_avatar, ict, RenderConfig(size=SIZE, unfold=False))


def _marks(renderer: AvatarRenderer, ict, coeffs: np.ndarray) -> np.ndarray:
    _, points, _ = renderer.geometry(coeffs, np.zeros(3))
    return points[ict.landmarks_68] * (renderer.size / renderer.config.raster_size)


def _mid_contrast(frame: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """Std of luminance between 1 and 8 px (a fold, a bulge; not the pores, not the
    cheek's overall shading) inside box (x0, y0, x1, y1)."""
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
    band = cv2.GaussianBlur(grey, (0, 0), 1.0) - cv2.GaussianBlur(grey, (0, 0), 8.0)
    x0, y0, x1, y1 = box
    return float(band[y0:y1, x0:x1].std())


def _nasolabial_box(marks: np.ndarray, wing: int, corner: int) -> tuple[int, int, int, int]:
    """From the nose wing down to the mouth corner, reaching out beside them."""
    width = abs(marks[54][0] - marks[48][0])
    side = 1.0 if marks[corner][0] > marks[51][0] else -1.0
    xs = sorted((marks[wing][0], marks[corner][0] + side * 0.45 * width))
    ys = (marks[wing][1], marks[corner][1])
    return int(xs[0]), int(min(ys)), int(xs[1]), int(max(ys))


def test_own_expression_is_untouched(unfolding, keeping, astronaut_avatar):
    own = np.asarray(astronaut_avatar.expression, np.float32)
    np.testing.assert_array_equal(
        unfolding.render(own, np.zeros(3)), keeping.render(own, np.zeros(3))
    )


def test_neutral_from_a_smile_flattens_the_nasolabial_region(unfolding, keeping, ict):
    neutral = np.zeros(ict.num_expressions, np.float32)
    marks = _marks(unfolding, ict, neutral)
    kept = keeping.render(neutral, np.zeros(3)).copy()
    flat = unfolding.render(neutral, np.zeros(3))
    totals = np.zeros(2)
    for wing, corner in ((31, 48), (35, 54)):
        box = _nasolabial_box(marks, wing, corner)
        before, after = _mid_contrast(kept, box), _mid_contrast(flat, box)
        print(f"nasolabial {box}: mid-band contrast {before:.2f} -> {after:.2f}")
        assert after < before
        totals += (before, after)
    # Measured 17.9 -> 10.9 and 15.2 -> 13.1 (her right fold is the deeper one); 14.0 / 14.7
    # before the flattening reached the fold's own shadow (unfold.fold_skin) and the band
    # beside the lips (wrinkles._nasolabial_region).
    assert totals[1] < 0.8 * totals[0]
    # Half way back to her smile: less flattening than at neutral, none at her own value.
    assert unfolding.wrinkles is not None
    names = list(unfolding.wrinkles.names)
    j = names.index("unfold_nasolabial_L")
    unfolding.render(neutral, np.zeros(3))
    full = float(unfolding.wrinkles.activation[j])
    half = neutral.copy()
    half[ict.expression_index("mouthSmile_L")] = 0.5
    unfolding.render(half, np.zeros(3))
    assert 0.0 < float(unfolding.wrinkles.activation[j]) < full


def test_lip_texels_over_her_teeth_take_her_lip_colour(unfolding, ict):
    field = unfolding.wrinkles
    assert field is not None
    j = list(field.names).index("unfold_lips")
    block = field.values[field.offsets[j] : field.offsets[j + 1]].reshape(-1, 3)
    darkened = block.mean(1) < -0.1
    print(f"lip texels over teeth: {int(darkened.sum())}")
    assert darkened.sum() > 20  # her fitted lip edge lies over her teeth
    # Towards her lip colour: red is taken down least.
    assert (block[darkened, 0] > block[darkened, 2]).mean() > 0.9
    # Active when her smile and open jaw go (neutral), not at her own expression.
    unfolding.render(np.zeros(ict.num_expressions, np.float32), np.zeros(3))
    assert field.activation[j] > 0.9


def test_a_grey_photo_stays_grey(astronaut, ict):
    grey = np.repeat(cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    avatar = calibrate(grey, model=ict).avatar
    renderer = AvatarRenderer(avatar, ict, RenderConfig(size=256))
    frame = renderer.render(np.zeros(ict.num_expressions, np.float32), np.zeros(3))
    assert renderer.wrinkles is not None
    values = renderer.wrinkles.values.reshape(-1, 3)
    assert np.abs(values - values[:, :1]).max() < 1e-4
    spread = frame.astype(np.int16).max(2) - frame.astype(np.int16).min(2)
    assert np.percentile(spread, 99) <= 2


def test_lips_meeting_where_the_photo_was_open_are_not_interpolated():
    from engines.render.compositor import _seam_nearest, _upsample_map

    raster, size = 32, 64
    field = np.zeros((raster, raster, 8), np.float32)
    field[16:, :, 1] = -20.0  # the lower lip samples 20 px above: her open mouth in between
    mapping = np.zeros((size, size, 2), np.float32)
    _upsample_map(field, raster / size, 0, size, 0, size, mapping)
    displacement = mapping[..., 1] - np.arange(size, dtype=np.float32)[:, None]
    assert ((displacement < -1.0) & (displacement > -19.0)).any()  # bilinear: in between
    _seam_nearest(field, raster / size, 4.0, 0, 0, 24, 40, 8, 56, mapping)
    displacement = mapping[..., 1] - np.arange(size, dtype=np.float32)[:, None]
    inside = displacement[24:40, 8:56]
    assert (np.isclose(inside, 0.0) | np.isclose(inside, -20.0)).all()
    outside = displacement[24:40, :8]
    assert ((outside < -1.0) & (outside > -19.0)).any()  # untouched outside the box


def _mouth_picture() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A 96 x 96 crop: skin, a lip ellipse with a highlight on the lower lip and a band of
    teeth between the lips; the outer (P, 2) and inner (Q, 2) lip contours and points on the
    lips (N, 2)."""
    image = np.zeros((96, 96, 3), np.uint8)
    image[:] = (214, 168, 146)  # skin
    cv2.ellipse(image, (48, 48), (30, 12), 0, 0, 360, (180, 82, 92), -1)  # lips
    image[45:51, 26:70] = (236, 232, 222)  # her teeth between the lips
    image[55:58, 44:52] = (240, 236, 232)  # a highlight on her lower lip
    angles = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    contour = np.stack([48 + 30 * np.cos(angles), 48 + 12 * np.sin(angles)], 1)
    inner = np.stack([48 + 22 * np.cos(angles[::-1]), 48 + 2 * np.sin(angles[::-1])], 1)
    lips = np.array([[x, y] for x in range(22, 75, 4) for y in (39, 41, 55, 57)], np.float64)
    return image, contour, inner, lips


def test_lip_closure_map_marks_her_teeth_and_not_her_lips_or_skin():
    from engines.render.unfold import lip_closure_map, photo_mouth

    image, contour, inner, lips = _mouth_picture()
    lip_map = lip_closure_map(photo_mouth(image, contour, inner, lips, px_per_mm=2.0), 96)
    assert lip_map.shape == (96, 96, 4)
    assert lip_map[46:50, 32:64, 0].min() > 0.9  # the teeth
    assert lip_map[39:42, 35:60, 0].max() < 0.1  # the upper lip
    assert lip_map[55:58, 44:52, 0].max() < 0.1  # the highlight on the lower lip
    assert lip_map[5:15, 5:90, 0].max() == 0.0  # the skin, away from the lips
    # The colour taken there is her lip red, not the teeth's white.
    colour = lip_map[47, 48, 1:]
    assert colour[0] > colour[1] + 40 and colour[0] > colour[2] + 30


def test_closed_lips_keep_no_outline_of_her_teeth():
    """The photo's blur makes a rim of enamel-and-lip around her teeth and grey shadows between
    them: closed over by the lips, none of it may stay brighter or greyer than her lips."""
    from engines.render.unfold import lip_closure_map, photo_mouth

    image, contour, inner, lips = _mouth_picture()
    image[45:51, 36:39] = (70, 66, 64)  # the dark gaps between her teeth
    image[45:51, 57:60] = (70, 66, 64)
    blurred = cv2.GaussianBlur(image, (0, 0), 1.2)
    lip_map = lip_closure_map(photo_mouth(blurred, contour, inner, lips, px_per_mm=2.0), 96)
    share = lip_map[..., :1]
    closed = blurred + share * (lip_map[..., 1:] - blurred)
    mouth = closed[42:54, 30:66].reshape(-1, 3)
    # every pixel where the teeth were is lip-red now (her lips: red 98 above green), none
    # grey (the gaps) nor much brighter than her lips (the rim; her lips' mean is 118)
    assert (mouth[:, 0] - mouth[:, 1]).min() > 60
    assert mouth.mean(axis=1).max() < 150
    assert lip_map[39:41, 35:60, 0].max() < 0.1  # the upper lip itself is not taken


def test_a_grey_photo_gets_grey_lip_colour():
    from engines.render.unfold import lip_closure_map, photo_mouth

    image, contour, inner, lips = _mouth_picture()
    grey = np.repeat(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    lip_map = lip_closure_map(photo_mouth(grey, contour, inner, lips, px_per_mm=2.0), 96)
    assert lip_map[46:50, 32:64, 0].min() > 0.9  # brighter than her lips: still found
    colour = lip_map[..., 1:]
    assert np.abs(colour - colour[..., :1]).max() < 1.0


def test_lip_pixels_take_the_closed_lip_image():
    from engines.render.compositor import _resample_lips

    raster, size = 16, 32
    lip_pixels = np.zeros((raster, raster), np.bool_)
    lip_pixels[8, 4:12] = True
    image = np.full((size, size, 3), 200, np.uint8)
    lip_image = np.full((size, size, 3), 90, np.uint8)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    mapping = np.stack([xs, ys], -1)  # the identity warp
    out = image.copy()
    _resample_lips(lip_image, lip_pixels, mapping, (0, 0), (0, size, 0, size), out)
    assert (out[16:18, 8:24] == 90).all()  # raster (8, 4..11) -> output rows 16-17
    assert (out[:16] == 200).all() and (out[18:] == 200).all()


def test_a_crack_one_pixel_high_between_lips_is_skin():
    """A row of interior pixels between two rows of lip skin (lips that meet, one raster
    pixel apart) is a crack the shader fills from its neighbour; a real opening is not."""
    from engines.render.mesh import LABEL_SKIN, LABEL_SOCKET
    from engines.render.shader import _isolated

    labels = np.array([LABEL_SKIN, LABEL_SOCKET], np.int8)
    triangle = np.zeros((9, 12), np.int32)  # skin everywhere
    triangle[4, 2:10] = 1  # a one-pixel line of the mouth's interior
    assert all(_isolated(triangle, labels, 4, c) for c in range(2, 10))
    triangle[3:6, 2:10] = 1  # three pixels high: the mouth is open
    assert not _isolated(triangle, labels, 4, 5)


def test_fold_skin_closes_a_fold_line_but_not_hair():
    """A dark line 3 mm wide inside skin counts as skin for the flattening; a 12 mm band (a
    brow, a fringe of hair) does not."""
    from engines.render.unfold import fold_skin

    px_per_mm = 4.0
    skin = np.ones((200, 200), np.float32)
    skin[:, 60:72] = 0.0  # 3 mm
    skin[:, 120:168] = 0.0  # 12 mm
    closed = fold_skin(skin, px_per_mm)
    assert closed[100, 60:72].min() > 0.99
    assert closed[100, 130:158].max() < 0.01
    assert (closed >= skin).all()


def test_the_nasolabial_removal_reaches_the_lips_side_of_the_drawn_fold(astronaut_avatar, ict):
    """A photo's own fold lies nearer the lips than the fold a smile adds: the removal region
    covers the band between the nose wing / mouth corner line and the drawn fold, where the
    drawn fold's own support is zero."""
    from engines.render import wrinkles as w

    spec = next(s for s in w.wrinkle_specs() if s.name == "nasolabial_L")
    assert spec.region is not None
    renderer = AvatarRenderer(astronaut_avatar, ict, RenderConfig(size=128, unfold=False))
    anchors = w.fold_anchors(renderer.mesh.base, ict)
    mid = anchors["midline"][0]
    wing, corner = anchors["lm"][35], anchors["lm"][54]
    # halfway between nose wing and mouth corner, 1.5 mm outside the line joining them
    y = np.array([0.5 * (wing[1] + corner[1])])
    x = np.array([mid + 0.5 * (abs(wing[0] - mid) + abs(corner[0] - mid)) + 1.5])
    assert spec.region(x, y, anchors, 1)[0] > 0.5
    assert abs(spec.height(x, y, anchors, 1)[0]) < 0.05
    # not on the lips' side of that line, nor across the midline
    assert spec.region(x - 4.0, y, anchors, 1)[0] == 0.0
    assert spec.region(np.array([mid - 10.0]), y, anchors, 1)[0] == 0.0


def _lip_crop(lower_rgb: tuple[int, int, int]) -> tuple[np.ndarray, ...]:
    """A 64 px crop: skin, lips in her lip colour (rows 20-34) and a band of ``lower_rgb``
    (rows 34-40); the lip texels (a grid over both) and the lip polygon."""
    crop = np.full((64, 64, 3), (200, 160, 140), np.uint8)
    crop[20:34, 12:52] = (150, 70, 80)  # her lips, the upper in shadow
    crop[34:40, 12:52] = lower_rgb
    ys, xs = np.mgrid[21:40, 14:50]
    points = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float64)
    polygon = np.array([[12, 20], [52, 20], [52, 40], [12, 40]], np.float64)
    rows, cols = ys.ravel().astype(np.intp), xs.ravel().astype(np.intp)
    return crop, points, polygon, rows, cols


@pytest.mark.parametrize(
    ("lower", "replaced"),
    [((215, 120, 130), False), ((225, 220, 210), True), ((230, 212, 160), True)],
    ids=["a lit lower lip stays", "teeth go", "yellowish teeth go"],
)
def test_lip_cleanup_replaces_teeth_not_a_lit_lip(lower, replaced):
    """The lip map takes what is brighter *and less red* than her lips for teeth (enamel is
    not red, even yellowish): a lower lip lit paler than the shadowed upper lip, still red,
    is hers (Clooney's had been painted a flat grey when made neutral)."""
    from engines.render.unfold import lip_cleanup_gain

    crop, points, polygon, rows, cols = _lip_crop(lower)
    gain = lip_cleanup_gain(crop, points, points, np.ones(len(points)), rows, cols, 64,
                            polygon, 1.0)  # fmt: skip
    lower_texels = points[:, 1] >= 36
    change = np.abs(gain[lower_texels]).mean()
    print(f"lower lip {lower}: mean |gain| {change:.3f}")
    assert (change > 0.1) if replaced else (change < 0.03)
