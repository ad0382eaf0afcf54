"""Animated wrinkles (engines/render/wrinkles.py) on the astronaut: the folds an expression adds
show up as fine luminance contrast where anatomy puts them, nothing is added at the photo's
own expression or below it, and the added folds are grey gain (a grey photo stays grey)."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from engines.render import AvatarRenderer, RenderConfig
from engines.render.wrinkles import wrinkle_specs

SIZE = 512


@pytest.fixture(scope="module")
def on(astronaut_avatar, ict):
    return AvatarRenderer(astronaut_avatar, ict, RenderConfig(size=SIZE))


@pytest.fixture(scope="module")
def off(astronaut_avatar, ict):
    return AvatarRenderer(astronaut_avatar, ict, RenderConfig(size=SIZE, wrinkles=False))


def _own_with(avatar, ict, **values: float) -> np.ndarray:
    coeffs = np.asarray(avatar.expression, np.float32).copy()
    for name, value in values.items():
        coeffs[ict.expression_index(name)] = value
    return coeffs


def _landmarks(renderer: AvatarRenderer, ict, coeffs: np.ndarray) -> np.ndarray:
    """(68, 2) output-pixel positions (x, y) of ICT's Multi-PIE landmarks in this frame."""
    _, points, _ = renderer.geometry(coeffs, np.zeros(3))
    return points[ict.landmarks_68] * (renderer.size / renderer.config.raster_size)


def _fine_contrast(frame: np.ndarray, box: tuple[int, int, int, int], sigma: float = 3.0) -> float:
    """Std of luminance minus its blur (``sigma`` px) inside box (x0, y0, x1, y1): the fold
    lines (high-pass, so the box's overall shading does not count)."""
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
    high = grey - cv2.GaussianBlur(grey, (0, 0), sigma)
    x0, y0, x1, y1 = box
    return float(high[y0:y1, x0:x1].std())


def _glabella_box(marks: np.ndarray) -> tuple[int, int, int, int]:
    """Between the inner ends of the brows, from just below them up about one brow gap."""
    left, right = marks[21], marks[22]
    gap = abs(right[0] - left[0])
    x0, x1 = sorted((left[0], right[0]))
    top = min(left[1], right[1])
    return int(x0), int(top - 0.6 * gap), int(x1), int(top + 0.2 * gap)


def _lip_corner_box(marks: np.ndarray, index: int) -> tuple[int, int, int, int]:
    """Below and beside a mouth corner (the marionette fold of mouthFrown)."""
    corner = marks[index]
    width = abs(marks[54][0] - marks[48][0])
    side = 1.0 if corner[0] > marks[51][0] else -1.0
    xs = sorted((corner[0] - side * 0.1 * width, corner[0] + side * 0.2 * width))
    return int(xs[0]), int(corner[1] + 0.1 * width), int(xs[1]), int(corner[1] + 0.45 * width)


def test_brow_lowerer_adds_furrows_between_the_brows(on, off, astronaut_avatar, ict):
    coeffs = _own_with(astronaut_avatar, ict, browDown_L=1.0, browDown_R=1.0)
    box = _glabella_box(_landmarks(on, ict, coeffs))
    without = _fine_contrast(off.render(coeffs, np.zeros(3)), box)
    with_folds = _fine_contrast(on.render(coeffs, np.zeros(3)), box)
    own = _fine_contrast(on.render(astronaut_avatar.expression, np.zeros(3)), box)
    print(f"glabella fine contrast: own {own:.2f}, browDown off {without:.2f}, on {with_folds:.2f}")
    assert with_folds > 1.5 * without
    assert with_folds > 1.5 * own


def test_lip_corner_depressor_adds_folds_below_the_corners(on, off, astronaut_avatar, ict):
    coeffs = np.zeros(ict.num_expressions, np.float32)  # her smile removed, then a frown
    coeffs[[ict.expression_index("mouthFrown_L"), ict.expression_index("mouthFrown_R")]] = 1.0
    marks = _landmarks(on, ict, coeffs)
    frame_off = off.render(coeffs, np.zeros(3)).copy()
    frame_on = on.render(coeffs, np.zeros(3))
    for index in (48, 54):
        box = _lip_corner_box(marks, index)
        # The marionette fold is broader than a forehead line: a wider high-pass.
        without = _fine_contrast(frame_off, box, 6.0)
        with_folds = _fine_contrast(frame_on, box, 6.0)
        print(f"lip corner {index} {box} contrast: off {without:.2f}, on {with_folds:.2f}")
        assert with_folds > 1.3 * without


def test_own_expression_and_below_add_nothing(on, off, astronaut_avatar, ict):
    own = np.asarray(astronaut_avatar.expression, np.float32)
    np.testing.assert_array_equal(on.render(own, np.zeros(3)), off.render(own, np.zeros(3)))
    # Less of every shape than the photo (her smile removed): no fold is added (the photo's
    # own folds are taken away by the unfold maps, tests/test_render_unfold.py).
    adding = AvatarRenderer(astronaut_avatar, ict, RenderConfig(size=SIZE, unfold=False))
    neutral = np.zeros_like(own)
    np.testing.assert_array_equal(
        adding.render(neutral, np.zeros(3)), off.render(neutral, np.zeros(3))
    )
    # Nothing in the per-frame map at all.
    adding.render(own * 0.5, np.zeros(3))
    assert not adding.wrinkles.combined.any() and not adding.wrinkles.folded.any()


def test_neutral_target_from_a_neutral_photo_adds_nothing(astronaut_avatar, ict):
    neutral_photo = dataclasses.replace(
        astronaut_avatar, expression=np.zeros_like(astronaut_avatar.expression)
    )
    on = AvatarRenderer(neutral_photo, ict, RenderConfig(size=256))
    off = AvatarRenderer(neutral_photo, ict, RenderConfig(size=256, wrinkles=False))
    zeros = np.zeros(ict.num_expressions, np.float32)
    np.testing.assert_array_equal(on.render(zeros, np.zeros(3)), off.render(zeros, np.zeros(3)))


def test_folds_fade_in_smoothly_from_the_photo_expression(on, off, astronaut_avatar, ict):
    own = np.asarray(astronaut_avatar.expression, np.float32)
    index = ict.expression_index("browDown_L")
    changes = []
    for step in (0.02, 0.1, 0.5, 1.0):
        coeffs = own.copy()
        coeffs[index] = min(own[index] + step, 1.0)
        a = on.render(coeffs, np.zeros(3)).astype(np.int16)
        b = off.render(coeffs, np.zeros(3)).astype(np.int16)
        changes.append(int(np.abs(a - b).max()))
    print("max change with browDown_L +0.02/+0.1/+0.5/+1:", changes)
    assert changes[0] <= 1  # barely above her own expression: within rounding
    assert changes == sorted(changes) and changes[-1] > 10


def test_folds_on_a_grey_photo_stay_grey(astronaut_avatar, ict):
    grey = cv2.cvtColor(
        cv2.cvtColor(astronaut_avatar.source_image, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB
    )
    texture = cv2.cvtColor(
        cv2.cvtColor(astronaut_avatar.texture, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB
    )
    photo = dataclasses.replace(astronaut_avatar, source_image=grey, texture=texture)
    on = AvatarRenderer(photo, ict, RenderConfig(size=256))
    off = AvatarRenderer(photo, ict, RenderConfig(size=256, wrinkles=False))
    coeffs = _own_with(
        astronaut_avatar, ict, browDown_L=1.0, browDown_R=1.0, mouthFrown_L=1.0,
        mouthFrown_R=1.0, noseSneer_L=1.0, noseSneer_R=1.0, cheekSquint_L=1.0,
    )  # fmt: skip
    a = on.render(coeffs, np.zeros(3)).astype(np.int16)
    b = off.render(coeffs, np.zeros(3)).astype(np.int16)
    # Fold pixels on the grey skin (the mouth interior's teeth and gums keep their colour).
    grey_off = (b.max(-1) - b.min(-1)) <= 1
    folds = (np.abs(a - b).max(-1) >= 3) & grey_off
    assert folds.sum() > 200  # the folds are there
    spread = a[folds].max(-1) - a[folds].min(-1)
    print(
        f"{int(folds.sum())} grey fold pixels, channel spread mean {spread.mean():.3f} "
        f"max {spread.max()}"
    )
    assert spread.mean() < 0.1 and spread.max() <= 2  # rounding, the mouth's feathered edge


def test_switch_and_strength(astronaut_avatar, ict):
    assert RenderConfig().wrinkles and RenderConfig().wrinkle_strength == 1.0
    assert (
        AvatarRenderer(astronaut_avatar, ict, RenderConfig(size=64, wrinkles=False)).wrinkles
        is None
    )
    with pytest.raises(ValueError, match="wrinkle_strength"):
        RenderConfig(wrinkle_strength=-1.0)
    strong = AvatarRenderer(astronaut_avatar, ict, RenderConfig(size=64, wrinkle_strength=2.0))
    coeffs = _own_with(astronaut_avatar, ict, browDown_L=1.0)
    weak = AvatarRenderer(astronaut_avatar, ict, RenderConfig(size=64))
    strong.render(coeffs, np.zeros(3))
    weak.render(coeffs, np.zeros(3))
    assert strong.wrinkles.combined.min() < weak.wrinkles.combined.min() < 0.0


def test_every_map_has_folds_and_valid_drivers(on, ict):
    field = on.wrinkles
    names = [spec.name for spec in wrinkle_specs()]
    unfold = [f"unfold_{name}" for name in names] + ["unfold_lips"]
    assert list(field.names) == names + unfold
    assert (field.drivers[len(names) :] <= 0.0).all()  # removal maps: driven by a fall
    for j, name in enumerate(names):
        block = field.values[field.offsets[j] : field.offsets[j + 1]]
        assert block.min() < -0.02, f"{name} has no valley"
        assert field.drivers[j].max() > 0.0
    assert 0.5 <= field.detail_scale <= 1.5


def test_cheek_folds_are_removed_when_the_smile_falls(on, ict):
    """The fitter cannot read a cheek raise (it comes with the smile's reading), so the removal
    maps of the cheek bulge and crow's feet fall with the smile, the forehead's never do."""
    field = on.wrinkles
    names = list(field.names)
    smile = ict.expression_index("mouthSmile_L")
    for name in ("cheek_L", "crows_feet_L"):
        removal = field.drivers[names.index(f"unfold_{name}")]
        assert removal[smile] < 0.0, name
        assert field.drivers[names.index(name)][smile] < -removal[smile]
    assert field.drivers[names.index("unfold_forehead_inner_L")][smile] == 0.0
