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
    # Measured 16.9 -> 12.9 and 15.1 -> 14.4 (her right fold is the deeper one).
    assert totals[1] < 0.88 * totals[0]
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
