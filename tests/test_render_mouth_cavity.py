"""The synthetic mouth interior (``RenderConfig.mouth_cavity``) on the astronaut: a dark
cavity shaped by the lips when the jaw drops, no pink gum between the front teeth in a grin,
a grey photo gets a grey mouth (no ivory teeth, no red gums on a black-and-white face), and
her own teeth where the photo showed them (``engines.render.teeth``).

Posed expressions are the planner's prototypes (ICT / ARKit names, both sides set).
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from engines.render import AvatarRenderer, RenderConfig
from engines.render.mesh import LABEL_GUMS, LABEL_SOCKET, LABEL_TEETH

SURPRISE = {
    "browInnerUp": 1.0, "browOuterUp": 1.0, "eyeWide": 0.8, "jawOpen": 0.6,
    "mouthLowerDown": 0.32, "mouthUpperUp": 0.24,
}  # fmt: skip
HAPPINESS = {
    "mouthSmile": 1.0, "cheekSquint": 0.8, "mouthLowerDown": 0.32, "mouthUpperUp": 0.24,
    "jawOpen": 0.12,
}  # fmt: skip
FEAR = {
    "eyeWide": 1.0, "browInnerUp": 1.0, "mouthStretch": 0.8, "jawOpen": 0.36,
    "mouthLowerDown": 0.32,
}  # fmt: skip
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def _coeffs(ict, values: dict[str, float]) -> np.ndarray:
    """(53,) from a neutral face: a name without side sets ``_L`` and ``_R`` where they exist."""
    coeffs = np.zeros(ict.num_expressions, np.float32)
    names = set(ict.expression_names)
    for name, value in values.items():
        sided = [f"{name}_L", f"{name}_R"]
        for target in sided if sided[0] in names else [name]:
            coeffs[ict.expression_index(target)] = value
    return coeffs


def _render(renderer: AvatarRenderer, ict, values: dict[str, float]):
    """Frame (S, S, 3) and the per-pixel label of the fragments (S, S) int8 (-1 = none)."""
    frame = renderer.render(_coeffs(ict, values), np.zeros(3, np.float32)).copy()
    assert renderer.last_fragments is not None
    tri = renderer.last_fragments.triangle
    label = np.where(tri >= 0, renderer.mesh.labels[np.maximum(tri, 0)], -1).astype(np.int8)
    size = frame.shape[0]
    return frame, cv2.resize(label, (size, size), interpolation=cv2.INTER_NEAREST)


def _opening(label: np.ndarray) -> np.ndarray:
    """The mouth interior's pixels, 2 px in from the lips (the feathered edge left out)."""
    inside = np.isin(label, (LABEL_SOCKET, LABEL_GUMS, LABEL_TEETH)).astype(np.uint8)
    return cv2.erode(inside, np.ones((5, 5), np.uint8)) > 0


@pytest.fixture(scope="module")
def renderer(astronaut_avatar, ict):
    return AvatarRenderer(astronaut_avatar, ict, RenderConfig(size=512))


@pytest.fixture(scope="module")
def grey_renderer(astronaut_avatar, ict):
    """The astronaut's avatar with its photo and texture in black and white (same fit)."""

    def grey(rgb: np.ndarray) -> np.ndarray:
        return cv2.cvtColor(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)

    avatar = dataclasses.replace(
        astronaut_avatar,
        source_image=grey(astronaut_avatar.source_image[..., :3]),
        texture=grey(astronaut_avatar.texture[..., :3]),
    )
    return AvatarRenderer(avatar, ict, RenderConfig(size=512))


def test_opened_mouth_is_a_dark_cavity(renderer, ict):
    """Surprise, fear, jawOpen 1: a large share of the opening is dark and its darkest part
    near black (the old interior was a flat mauve tongue: dark share 0.00 / 0.00 / 0.16 and
    p5 53 / 70 / 40 levels; now 0.42 / 0.17 / 0.70, p5 17 / 24 / 16)."""
    shares = []
    for values, limit in ((SURPRISE, 0.35), (FEAR, 0.1), ({"jawOpen": 1.0}, 0.4)):
        frame, label = _render(renderer, ict, values)
        opening = _opening(label)
        assert opening.sum() > 200
        luminance = frame.astype(np.float32) @ LUMA
        dark = float(np.mean(luminance[opening] < 45.0))
        print(f"{values}: dark share {dark:.2f} of {int(opening.sum())} px, "
              f"p5 {np.percentile(luminance[opening], 5):.0f}")  # fmt: skip
        shares.append((dark, limit, float(np.percentile(luminance[opening], 5))))
    for dark, limit, p5 in shares:
        assert dark > limit
        assert p5 < 32.0


def test_cavity_is_darkest_away_from_the_lips(renderer, ict):
    """The cavity is shaded by the lips' opening: the middle of an opened mouth is darker
    than the interior next to the lips (the old flat colour: 0.99; now 0.50)."""
    frame, label = _render(renderer, ict, {"jawOpen": 1.0})
    inside = np.isin(label, (LABEL_SOCKET, LABEL_GUMS, LABEL_TEETH)).astype(np.uint8)
    distance = cv2.distanceTransform(inside, cv2.DIST_L2, 5)
    luminance = frame.astype(np.float32) @ LUMA
    synthetic = np.isin(label, (LABEL_SOCKET, LABEL_GUMS))
    deep = synthetic & (distance > 0.6 * distance.max())
    rim = synthetic & (distance > 3) & (distance < 0.3 * distance.max())
    ratio = float(np.median(luminance[deep]) / max(np.median(luminance[rim]), 1.0))
    print(f"deep / rim luminance {ratio:.2f}")
    assert deep.sum() > 50 and rim.sum() > 50
    assert ratio < 0.75


def test_no_pink_gum_between_the_front_teeth(renderer, ict):
    """In a grin, pixels between two teeth on the same row (teeth within 6 px to the left
    and to the right) are not pink or red: ICT's gums behind the teeth used to show there
    as pink triangles (before: 144 of 144 pixels, now 1)."""
    frame, label = _render(renderer, ict, HAPPINESS)
    teeth = (label == LABEL_TEETH).astype(np.uint8)
    left = cv2.dilate(teeth, np.ones((1, 7), np.uint8), anchor=(6, 0)) > 0
    right = cv2.dilate(teeth, np.ones((1, 7), np.uint8), anchor=(0, 0)) > 0
    between = left & right & np.isin(label, (LABEL_SOCKET, LABEL_GUMS))
    rgb = frame.astype(np.float32)
    luminance = rgb @ LUMA
    pink = (rgb[..., 0] > rgb[..., 1] + 30) & (rgb[..., 0] > rgb[..., 2] + 20) & (luminance > 60)
    count = int((between & pink).sum())
    print(f"pink pixels between teeth: {count} of {int(between.sum())}")
    assert between.sum() > 20
    assert count <= 0.05 * between.sum()


@pytest.mark.parametrize("name", ["surprise", "happiness", "jaw_open"])
def test_grey_photo_gets_a_grey_mouth(grey_renderer, ict, name):
    """On a black-and-white photo the synthetic teeth, gums, tongue and cavity are grey
    (before: ivory teeth and red gums and socket on a grey face, channel spread p99 60-63
    levels; now 0)."""
    values = {"surprise": SURPRISE, "happiness": HAPPINESS, "jaw_open": {"jawOpen": 1.0}}[name]
    frame, label = _render(grey_renderer, ict, values)
    inside = np.isin(label, (LABEL_SOCKET, LABEL_GUMS, LABEL_TEETH))
    rgb = frame.astype(np.int16)
    spread = rgb.max(2) - rgb.min(2)
    print(f"{name}: channel spread p99 {np.percentile(spread[inside], 99):.1f}, "
          f"max {int(spread[inside].max())} over {int(inside.sum())} px")  # fmt: skip
    assert inside.sum() > 100
    assert np.percentile(spread[inside], 99) <= 3
    assert spread.max() <= 6  # the whole frame stays grey


def test_her_own_teeth_in_her_own_smile(renderer, astronaut_avatar, ict):
    """Re-rendering her own (smiling) expression shows her teeth as the photo does: the
    mouth interior's pixels differ from the photo by 10.9 levels on average (before, her
    teeth took the photo only by their facing ramp and the papillae between them never:
    grey "braces" on white teeth, 27.8 levels)."""
    frame = renderer.render(astronaut_avatar.expression, np.zeros(3, np.float32)).copy()
    tri = renderer.last_fragments.triangle
    label = np.where(tri >= 0, renderer.mesh.labels[np.maximum(tri, 0)], -1).astype(np.int8)
    label = cv2.resize(label, frame.shape[1::-1], interpolation=cv2.INTER_NEAREST)
    inside = np.isin(label, (LABEL_SOCKET, LABEL_GUMS, LABEL_TEETH))
    difference = np.abs(frame.astype(np.float32) - renderer.crop_image.astype(np.float32)).mean(2)
    mean = float(difference[inside].mean())
    print(f"mouth interior: {int(inside.sum())} px, mean difference {mean:.1f}")
    assert inside.sum() > 500
    assert mean < 15.0


def test_teeth_a_grin_uncovers_are_as_light_as_her_own(renderer, ict):
    """In a grin, the upper teeth the raised lip uncovers (synthetic) are about as light as
    her own teeth beside them (from the photo): median luminance 0.77 of hers in the frame
    (their own colour 201 against her 229 levels; before, the teeth fell into the mouth's
    shadow by their own depth, and an incisor's face reaching back to the gum line came out
    grey: 0.71, colour 155)."""
    frame, _label = _render(renderer, ict, HAPPINESS)
    tri = renderer.last_fragments.triangle
    upper = np.where(tri >= 0, renderer.mesh.interior_surface[np.maximum(tri, 0)], 0) == 1
    teeth = upper & (renderer.mesh.labels[np.maximum(tri, 0)] == LABEL_TEETH) & (tri >= 0)
    gain = renderer._field[..., 2]  # the photo's share per raster pixel this frame
    small = cv2.resize(frame, (tri.shape[1], tri.shape[0]), interpolation=cv2.INTER_AREA)
    luminance = small.astype(np.float32) @ LUMA
    synthetic = teeth & (gain < 0.3)
    own = teeth & (gain > 0.9)
    ratio = float(np.median(luminance[synthetic]) / np.median(luminance[own]))
    print(f"uncovered teeth {int(synthetic.sum())} px, her own {int(own.sum())} px: {ratio:.2f}")
    # enough pixels of each for a median (her own: 42 since her fitted smile carries its
    # cheek raise, calibration.coupling; 50 before)
    assert synthetic.sum() > 10 and own.sum() > 30
    assert ratio > 0.74


def test_switch_off_keeps_the_previous_palette(astronaut_avatar, ict):
    """``mouth_cavity=False`` draws the previous interior (the evaluation's A/B switch)."""
    on = AvatarRenderer(astronaut_avatar, ict, RenderConfig(size=256))
    off = AvatarRenderer(astronaut_avatar, ict, RenderConfig(size=256, mouth_cavity=False))
    coeffs = _coeffs(ict, SURPRISE)
    pose = np.zeros(3, np.float32)
    frame_on = on.render(coeffs, pose).copy()
    frame_off = off.render(coeffs, pose).copy()
    assert np.abs(frame_on.astype(int) - frame_off.astype(int)).max() > 40
    # Away from the mouth nothing changes.
    same = np.ones(frame_on.shape[:2], bool)
    assert on.last_fragments is not None
    tri = on.last_fragments.triangle
    label = np.where(tri >= 0, on.mesh.labels[np.maximum(tri, 0)], -1).astype(np.uint8)
    mouth = cv2.resize((label >= LABEL_SOCKET).astype(np.uint8) * (label <= LABEL_TEETH),
                       (256, 256), interpolation=cv2.INTER_NEAREST)  # fmt: skip
    same &= cv2.dilate(mouth, np.ones((9, 9), np.uint8)) == 0
    # Only the coarse extension of the warp (which hair and background follow) carries the
    # interior's own warp beyond it: with her teeth taken from the photo only where the
    # photo showed them, the two modes' teeth take the lips' warp at different pixels, and a
    # few hundred pixels elsewhere move by a rounding level or two (measured: 472 of 64460
    # pixels move, 4 of them by 3-4 levels).
    far = np.abs(frame_on[same].astype(int) - frame_off[same].astype(int)).max(1)
    assert far.max() <= 8 and (far > 2).mean() < 0.001 and far.mean() < 0.05


def test_teeth_the_calibration_saw_take_no_lip_colour_in_a_new_grin(astronaut_avatar, ict):
    """A webcam calibration of a toothy smile read her shown teeth as lips rolled in
    (mouthRollUpper 0.58) and saw every tooth; the teeth then took the photo at their source
    positions in any expression, and in a grin (no roll: the lip back over them) those
    sources are her lip: pink teeth, the "red papillae" seen in the browser. The same fit
    on the astronaut (her own expression with mouthRollUpper 0.6, all teeth seen): pink
    pixels inside the grin's teeth (2 px in from their edge) 100 of 456 before, now 18. Away
    from her own mouth the teeth take the photo only where the photo showed teeth there."""
    import dataclasses

    visibility = np.array(astronaut_avatar.extra["vertex_visibility"], np.float32, copy=True)
    visibility[slice(*ict.vertex_ranges["teeth"])] = 1.0
    own = np.array(astronaut_avatar.expression, np.float32, copy=True)
    own[ict.expression_index("mouthRollUpper")] = 0.6
    rolled = dataclasses.replace(
        astronaut_avatar,
        expression=own,
        extra={**astronaut_avatar.extra, "vertex_visibility": visibility},
    )
    renderer = AvatarRenderer(rolled, ict, RenderConfig(size=512))
    frame, label = _render(renderer, ict, {"mouthSmile": 1.0, "jawOpen": 0.3})
    teeth = cv2.erode((label == LABEL_TEETH).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    rgb = frame.astype(np.float32)
    pink = (rgb[..., 0] > rgb[..., 1] + 30) & (rgb[..., 0] > rgb[..., 2] + 20)
    count = int((pink & teeth).sum())
    print(f"pink teeth pixels: {count} of {int(teeth.sum())}")
    assert teeth.sum() > 200
    assert count <= 0.08 * teeth.sum()
