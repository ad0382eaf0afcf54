"""Calibration's rasterizer and texture filling."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.raster import interpolate, rasterize
from calibration.texture import TextureConfig, push_pull_fill, vertex_normals


def test_rasterize_one_triangle():
    points = np.array([[1.0, 1.0], [9.0, 1.0], [1.0, 9.0]])
    faces = np.array([[0, 1, 2]])
    fragments = rasterize(points, np.array([1.0, 2.0, 3.0]), faces, 10, 10)
    covered = fragments.triangle >= 0
    # pixel centres inside the right triangle or on its edges (x + y <= 10, x, y >= 1)
    rows, cols = np.mgrid[0:10, 0:10] + 0.5
    inside = (cols >= 1) & (rows >= 1) & (cols + rows <= 10)
    assert (covered == inside).all()
    np.testing.assert_allclose(fragments.barycentric[covered].sum(1), 1.0, atol=1e-6)
    # interpolating the vertex positions gives back the pixel centres
    values = interpolate(fragments, faces, points.astype(np.float32))
    np.testing.assert_allclose(values[covered][:, 0], cols[covered], atol=1e-4)
    np.testing.assert_allclose(values[covered][:, 1], rows[covered], atol=1e-4)


def test_depth_test_keeps_the_nearest_and_culls_back_faces():
    points = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    near, far = np.array([[0, 2, 1]]), np.array([[0, 2, 1]])
    faces = np.concatenate([far, near])
    depth = np.array([0.0, 0.0, 0.0, 0.0])
    fragments = rasterize(points, depth, faces, 10, 10)
    assert (fragments.triangle[fragments.triangle >= 0] == 0).all()  # ties keep the first
    depth_near = np.concatenate([np.zeros(4), np.full(4, 5.0)])
    stacked = np.concatenate([points, points])
    faces = np.array([[0, 2, 1], [4, 6, 5]])
    fragments = rasterize(stacked, depth_near, faces, 10, 10)
    assert (fragments.triangle[fragments.triangle >= 0] == 1).all()
    # (0, 2, 1) is counter-clockwise on screen (rows down) = facing the camera; reversed: culled
    culled = rasterize(points, depth, np.array([[0, 1, 2]]), 10, 10, cull_backfaces=True)
    assert (culled.triangle < 0).all()
    kept = rasterize(points, depth, np.array([[0, 2, 1]]), 10, 10, cull_backfaces=True)
    assert (kept.triangle >= 0).any()


def test_push_pull_fills_every_hole_and_keeps_known_texels(rng):
    image = rng.uniform(0, 255, (64, 64, 3)).astype(np.float32)
    weight = np.zeros((64, 64), np.float32)
    weight[10:30, 5:40] = 1.0
    filled = push_pull_fill(image, weight)
    assert np.isfinite(filled).all()
    np.testing.assert_allclose(filled[10:30, 5:40], image[10:30, 5:40], atol=1e-3)
    # far from the known block the fill is a smooth average of the known colours
    known_mean = image[10:30, 5:40].reshape(-1, 3).mean(0)
    assert np.abs(filled[60, 60] - known_mean).max() < 40


def test_vertex_normals_of_a_flat_square():
    vertices = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], np.float32)
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    np.testing.assert_allclose(vertex_normals(vertices, faces), [[0, 0, 1]] * 4, atol=1e-6)


def test_texture_config_validation():
    with pytest.raises(ValueError):
        TextureConfig(size=8)
    with pytest.raises(ValueError):
        TextureConfig(min_facing=0.5, full_facing=0.4)


def test_unwrap_mirrors_the_hidden_side(ict, astronaut):
    """Turned far to one side, the hidden cheek is filled from the visible one (mask 96)."""
    from calibration.calibrator import fitted_vertices
    from calibration.texture import MIRRORED_MASK_VALUE, unwrap_texture
    from engines.face_model.camera import OrthoCamera, euler_to_matrix

    vertices = fitted_vertices(ict, np.zeros(10, np.float32), np.zeros(53, np.float32))
    rotation = euler_to_matrix(0.0, np.radians(60.0), 0.0)
    camera = OrthoCamera(10.0, 256.0, 220.0)
    result = unwrap_texture(astronaut, ict, vertices, rotation, camera, TextureConfig(size=128))
    mask = result.mask
    half = mask.shape[1] // 2
    seen_left = (mask[:, :half] > MIRRORED_MASK_VALUE).mean()
    seen_right = (mask[:, half:] > MIRRORED_MASK_VALUE).mean()
    assert abs(seen_left - seen_right) > 0.1  # one side much better seen
    assert (mask == MIRRORED_MASK_VALUE).mean() > 0.05  # and mirrored onto the other
    assert result.texture.shape == (128, 128, 3)
    assert 0.0 < result.vertex_visibility.mean() < 1.0


def test_sh_lighting_recovers_known_light(rng):
    from calibration.lighting import estimate_sh_lighting, shade

    normals = rng.normal(size=(500, 3))
    normals[:, 2] = np.abs(normals[:, 2])  # camera-facing hemisphere
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    truth = rng.normal(0.0, 20.0, (9, 3))
    truth[0] = [150.0, 120.0, 100.0]
    colours = shade(normals, truth)
    colours[:20] = 0.0  # a few outliers (dark brows / hair)
    fitted = estimate_sh_lighting(normals, colours, ridge=0.0)
    assert np.abs(shade(normals[20:], fitted) - colours[20:]).max() < 2.0
    with pytest.raises(ValueError):
        estimate_sh_lighting(normals[:5], colours[:5])
