"""Raised brows keep her brow hair's size (``RenderConfig.rigid_brows``, engines/render/brows.py).

ICT's brow raises unroll a 3 mm strip of the upper lid's crease, and the fit puts part of the
photo's brow hair on it: raised, the brow was drawn taller (a heavy band over the eyes). The
measure: output pixels whose photo source lies in her brow hair region (the landmarks'
contours, grown), at the four brow raises at 1 over her own expression.
"""

from __future__ import annotations

import numpy as np
import pytest

from engines.render import AvatarRenderer, RenderConfig
from engines.render.brows import BROW_RAISE_SHAPES, brow_hair_mask
from engines.render.mesh import LABEL_SKIN, crop_source, to_crop

ZERO_POSE = np.zeros(3, np.float32)


def _brow_pixels(renderer: AvatarRenderer, coefficients: np.ndarray, mask: np.ndarray) -> int:
    """Raster pixels of skin whose photo source is in ``mask`` (S, S) bool."""
    renderer.render(coefficients, ZERO_POSE)
    fragments = renderer.last_fragments
    assert fragments is not None
    covered = fragments.triangle >= 0
    triangles = fragments.triangle[covered]
    corners = renderer.mesh.faces[triangles]
    source = np.einsum(
        "pk,pkc->pc", fragments.barycentric[covered], renderer.mesh.source_position[corners]
    )
    size = mask.shape[0]
    cells = np.clip(np.rint(source).astype(np.int64), 0, size - 1)
    skin = renderer.mesh.labels[triangles] == LABEL_SKIN
    return int((mask[cells[:, 1], cells[:, 0]] & skin).sum())


@pytest.fixture(scope="module")
def brow_setup(astronaut_avatar, ict):
    renderers = {
        on: AvatarRenderer(astronaut_avatar, ict, RenderConfig(size=512, rigid_brows=on))
        for on in (False, True)
    }
    crop, _ = crop_source(astronaut_avatar, RenderConfig(size=512))
    in_crop = to_crop(astronaut_avatar.landmarks, crop)
    mask = brow_hair_mask(in_crop, 512, float(astronaut_avatar.camera.scale) * crop.zoom / 10.0)
    own = np.asarray(astronaut_avatar.expression, np.float32)
    raised = own.copy()
    for name in BROW_RAISE_SHAPES:
        raised[ict.expression_index(name)] = 1.0
    return renderers, mask, own, raised


def test_raised_brows_keep_their_hair_area(brow_setup):
    renderers, mask, own, raised = brow_setup
    assert mask.sum() > 200  # the astronaut's two brows were found
    ratio = {}
    for on, renderer in renderers.items():
        ratio[on] = _brow_pixels(renderer, raised, mask) / _brow_pixels(renderer, own, mask)
    print(f"brow hair area raised / own: ICT's shapes {ratio[False]:.2f}, rigid {ratio[True]:.2f}")
    assert ratio[True] <= 1.15  # ICT's own shapes: 1.31 (rigid: 1.09)
    assert ratio[True] < ratio[False] - 0.1


def test_her_own_expression_is_unchanged(brow_setup):
    renderers, _, own, raised = brow_setup
    plain = renderers[False].render(own, ZERO_POSE).astype(np.int16)
    rigid = renderers[True].render(own, ZERO_POSE).astype(np.int16)
    assert np.abs(plain - rigid).max() <= 1
    # ... while the raise itself differs (the brow and the lid under it).
    moved = renderers[True].render(raised, ZERO_POSE).astype(np.int16)
    assert np.abs(moved - renderers[False].render(raised, ZERO_POSE)).max() > 20


@pytest.mark.parametrize("missing", ["nan", "short"])
def test_no_brow_landmarks_leave_ict_shapes(astronaut_avatar, ict, missing):
    """A face whose brow landmarks are missing (NaN, or a landmark set too short to hold the
    brows and lids) renders with ICT's own brow raises."""
    import dataclasses

    from engines.render.brows import BROW_CONTOURS

    landmarks = np.array(astronaut_avatar.landmarks, np.float32, copy=True)
    if missing == "nan":
        for contour in BROW_CONTOURS:
            for points in contour:
                landmarks[list(points)] = np.nan
    else:
        landmarks = landmarks[:400]  # the brows' indices, not the left lid's (up to 466)
    avatar = dataclasses.replace(astronaut_avatar, landmarks=landmarks)
    own = np.asarray(avatar.expression, np.float32)
    raised = own.copy()
    for name in BROW_RAISE_SHAPES:
        raised[ict.expression_index(name)] = 1.0
    frames = [
        AvatarRenderer(avatar, ict, RenderConfig(size=128, rigid_brows=on)).render(
            raised, ZERO_POSE
        )
        for on in (False, True)
    ]
    assert np.array_equal(frames[0], frames[1])
