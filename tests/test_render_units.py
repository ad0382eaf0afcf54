"""Renderer pieces that need no photo: config validation, the rasterizer, the public API."""

from __future__ import annotations

import numpy as np
import pytest

import engines.render as render
from engines.render import RenderConfig
from engines.render.rasterizer import RasterBuffers, rasterize


def test_public_api_is_pinned() -> None:
    assert sorted(render.__all__) == sorted(
        [
            "BACKENDS",
            "AvatarMismatchError",
            "AvatarRenderer",
            "Fragments",
            "RenderConfig",
            "RenderError",
            "RenderInputError",
        ]
    )


@pytest.mark.parametrize(
    "options",
    [
        {"size": 8},
        {"size": 512.0},
        {"backend": "vulkan"},
        {"compositor": "opengl"},
        {"raster_scale": 2.0},
        {"crop_scale": 0.5},
        {"ratio_clip": (1.2, 1.5)},
        {"feather": -1.0},
        {"shading_strength": 5.0},
    ],
)
def test_bad_config_is_a_value_error(options: dict) -> None:
    with pytest.raises(ValueError):
        RenderConfig(**options)


def test_unknown_backend_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="numba"):
        RenderConfig(backend="opengl-es")


def test_raster_size_follows_scale() -> None:
    assert RenderConfig(size=512).raster_size == 256
    assert RenderConfig(size=512, raster_scale=1.0).raster_size == 512


def _square() -> tuple[np.ndarray, np.ndarray]:
    # Two triangles covering [2, 6) x [2, 6), counter-clockwise in model space (y up), i.e.
    # clockwise in image rows: they face the camera.
    points = np.array([[2, 6], [6, 6], [6, 2], [2, 2]], np.float32)
    faces = np.array([[0, 1, 2], [0, 2, 3]], np.int32)
    return points, faces


def test_rasterizer_covers_exact_pixels_and_barycentrics_sum_to_one() -> None:
    points, faces = _square()
    buffers = RasterBuffers(8, 8)
    frags = rasterize(points, np.zeros(4, np.float32), faces, np.zeros(2, bool), buffers)
    covered = frags.triangle >= 0
    expected = np.zeros((8, 8), bool)
    expected[2:6, 2:6] = True
    np.testing.assert_array_equal(covered, expected)
    np.testing.assert_allclose(frags.barycentric[covered].sum(-1), 1.0, atol=1e-5)
    # The interpolated position reproduces the pixel centre.
    tri = frags.triangle[covered]
    bary = frags.barycentric[covered]
    pos = (bary[..., None] * points[faces[tri]]).sum(1)
    rows, cols = np.nonzero(covered)
    np.testing.assert_allclose(pos, np.stack([cols + 0.5, rows + 0.5], 1), atol=1e-4)


def test_rasterizer_depth_test_keeps_the_nearest() -> None:
    points, faces = _square()
    both = np.concatenate([points, points])
    faces2 = np.concatenate([faces, faces + 4])
    depth = np.array([0, 0, 0, 0, 5, 5, 5, 5], np.float32)
    buffers = RasterBuffers(8, 8)
    frags = rasterize(both, depth, faces2, np.zeros(4, bool), buffers)
    assert set(np.unique(frags.triangle[frags.triangle >= 0])) == {2, 3}
    np.testing.assert_allclose(frags.depth[3, 3], 5.0)
    # Drawn in the other order, the same answer.
    frags = rasterize(both, depth, faces2[::-1].copy(), np.zeros(4, bool), buffers)
    assert set(np.unique(frags.triangle[frags.triangle >= 0])) == {0, 1}


def test_back_faces_are_culled_only_when_asked() -> None:
    points, faces = _square()
    flipped = faces[:, ::-1].copy()
    buffers = RasterBuffers(8, 8)
    frags = rasterize(points, np.zeros(4, np.float32), flipped, np.ones(2, bool), buffers)
    assert (frags.triangle < 0).all()
    frags = rasterize(points, np.zeros(4, np.float32), flipped, np.zeros(2, bool), buffers)
    assert (frags.triangle >= 0).sum() == 16


def test_half_resolution_feather_blur_is_close_to_the_full_one() -> None:
    import cv2

    from engines.render.compositor import _blur_coverage

    coverage = np.zeros((128, 128), np.float32)
    cv2.circle(coverage, (60, 70), 40, 1.0, -1)
    full = cv2.GaussianBlur(coverage, (0, 0), 4.0)
    half = _blur_coverage(coverage, 4.0)
    assert half.shape == coverage.shape and half.dtype == np.float32
    assert np.abs(half - full).max() < 0.02
    odd = np.zeros((33, 33), np.float32)  # odd sides fall back to the full-resolution blur
    assert np.array_equal(_blur_coverage(odd, 4.0), cv2.GaussianBlur(odd, (0, 0), 4.0))
