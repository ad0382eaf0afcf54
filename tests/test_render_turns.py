"""Large head turns must not tear: the warp is continuous across the skull's outline (hair
inside and outside it follows one field) and the face's outline shows no colour step.

Measured on the astronaut photo at yaw ±25° and pitch -15° / yaw 15° with the jaw open
(before this test: a hard arc in the hair where the skull part of the mesh ends, a shading
step at the cheek's outline).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from engines.render import AvatarRenderer, RenderConfig
from engines.render.mesh import LABEL_HEAD

TURNS = {
    "yaw-25": ((0.0, -25.0, 0.0), {}),
    "yaw+25": ((0.0, 25.0, 0.0), {}),
    "pitch-15_yaw15_jaw": ((-15.0, 15.0, 0.0), {"jawOpen": 0.7}),
}
# p95 of |∇ displacement| (output px per raster px) in a 5 px band around the skull outline:
# a smooth warp stays near 1 (the old hard edge: 5-7).
MAX_SKULL_WARP_GRADIENT = 2.5
# Mean colour gradient on the mesh outline relative to a ring 5-12 px away (a seam there is a
# step the ring does not have; the old frames: 1.5 at yaw ±25).
MAX_OUTLINE_GRADIENT_RATIO = 1.25


@pytest.fixture(scope="module")
def avatar(astronaut_avatar):
    return astronaut_avatar


@pytest.fixture(scope="module")
def renderer(avatar, ict):
    return AvatarRenderer(avatar, ict, RenderConfig(size=512))


def _render(renderer, ict, case):
    pose_degrees, values = TURNS[case]
    coeffs = np.zeros(ict.num_expressions, np.float32)
    for name, value in values.items():
        coeffs[ict.expression_index(name)] = value
    return renderer.render(coeffs, np.radians(pose_degrees).astype(np.float32)).copy()


def _band(edge: np.ndarray, inner: int, outer: int) -> np.ndarray:
    grown = cv2.dilate(edge.astype(np.uint8), np.ones((outer, outer), np.uint8)) > 0
    if inner <= 1:
        return grown
    return grown & ~(cv2.dilate(edge.astype(np.uint8), np.ones((inner, inner), np.uint8)) > 0)


@pytest.mark.parametrize("case", sorted(TURNS))
def test_warp_is_continuous_across_the_skull_outline(renderer, ict, case):
    _render(renderer, ict, case)
    triangle = renderer.last_fragments.triangle
    labels = np.where(triangle >= 0, renderer.mesh.labels[np.maximum(triangle, 0)], -1)
    covered = (triangle >= 0).astype(np.uint8)
    # The skull's outline against uncovered pixels, in the upper part of the crop (hair).
    edge = (labels == LABEL_HEAD) & (cv2.erode(covered, np.ones((3, 3), np.uint8)) == 0)
    edge[int(0.4 * edge.shape[0]) :] = False
    assert edge.sum() > 50, "the skull outline should be in view"
    warp = renderer.last_warp
    grad_rows, grad_cols = np.gradient(warp, axis=(0, 1))
    gradient = np.sqrt((grad_rows**2 + grad_cols**2).sum(-1))
    value = float(np.percentile(gradient[_band(edge, 1, 5)], 95))
    print(f"{case}: skull outline p95 |grad warp| {value:.2f}")
    assert value < MAX_SKULL_WARP_GRADIENT


@pytest.mark.parametrize("case", ["yaw-25", "yaw+25"])
def test_no_colour_step_on_the_mesh_outline(renderer, ict, case):
    frame = _render(renderer, ict, case)
    size = frame.shape[0]
    triangle = renderer.last_fragments.triangle
    covered = cv2.resize(
        (triangle >= 0).astype(np.uint8), (size, size), interpolation=cv2.INTER_NEAREST
    )
    edge = (covered > 0) & (cv2.erode(covered, np.ones((3, 3), np.uint8)) == 0)
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
    magnitude = np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))
    ratio = float(magnitude[_band(edge, 1, 5)].mean() / magnitude[_band(edge, 11, 25)].mean())
    print(f"{case}: outline / nearby colour gradient {ratio:.2f}")
    assert ratio < MAX_OUTLINE_GRADIENT_RATIO


def test_skin_seen_edge_on_keeps_the_photo_until_a_turn_shows_it(renderer, avatar, ict):
    """At the photo's own pose, skin the photo saw edge-on (the face's sides, its temples)
    is the photo, not the UV texture, whose texels there hold what covered that skin (hair):
    on the astronaut's re-render the triangles of skin seen edge-on differ from the photo by
    4.3 levels on average (before, with the texture blended in at any pose: 5.7; on a
    webcam-sized portrait it drew a dotted dark line of hair down her temple). A turn
    towards that skin brings the texture back: at yaw 20° the vertices turned towards the
    camera by more than the blend's upper cosine take exactly their static share."""
    from engines.render.mesh import LABEL_SKIN

    frame = renderer.render(avatar.expression, np.zeros(3, np.float32)).copy()
    mesh = renderer.mesh
    tri = renderer.last_fragments.triangle
    visibility = np.asarray(avatar.extra["vertex_visibility"], np.float32)[: len(mesh.base)]
    grazing = visibility[mesh.faces].min(1) < renderer.config.texture_below_visibility
    textured = (mesh.labels == LABEL_SKIN) & grazing
    pixels = (tri >= 0) & textured[np.maximum(tri, 0)]
    size = frame.shape[1::-1]
    pixels = cv2.resize(pixels.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
    difference = np.abs(frame.astype(np.float32) - renderer.crop_image.astype(np.float32)).mean(2)
    mean = float(difference[pixels > 0].mean())
    print(f"textured skin: {int(pixels.sum())} px, mean difference {mean:.2f}")
    assert pixels.sum() > 1000
    assert mean < 5.0
    # At the photo's pose every such vertex takes the photo fully.
    index = renderer._turn_index
    assert index.size > 100
    np.testing.assert_allclose(renderer._photo_weight[index], 1.0, atol=1e-3)
    # Turned: those facing the camera much more than in the photo take the texture's share.
    renderer.render(avatar.expression, np.radians(np.array([0.0, 20.0, 0.0], np.float32)))
    rotation = renderer.rotation_matrix(np.radians(np.array([0.0, 20.0, 0.0])))
    facing = (renderer._normals[index] @ rotation.T.astype(np.float32))[:, 2]
    turned = facing - mesh.source_facing[index] > renderer.config.texture_turn_facing[1]
    assert turned.sum() > 20
    np.testing.assert_allclose(
        renderer._photo_weight[index[turned]], mesh.photo_weight[index[turned]], atol=1e-4
    )
