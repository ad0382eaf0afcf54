"""ICT face model: cache, blend shapes, rigid transforms, camera."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch

from engines.face_model import (
    EXPRESSION_NAMES,
    OrthoCamera,
    blend_vertices,
    blend_vertices_torch,
    euler_to_matrix,
    euler_to_matrix_torch,
    matrix_to_euler,
    project,
    project_torch,
    rigid_transform,
    rigid_transform_torch,
)
from engines.face_model.ict import default_cache_file, load_ict


def test_model_arrays(ict):
    assert ict.neutral.shape == (26719, 3)
    assert ict.identity_basis.shape == (100, 26719, 3)
    assert ict.expression_basis.shape == (53, 26719, 3)
    assert ict.expression_names == EXPRESSION_NAMES
    assert ict.faces.max() < ict.num_vertices
    assert ict.face_uvs.max() < ict.uvs.shape[0]
    # README polygon ranges land on the right materials
    first, stop = ict.face_ranges["teeth"]
    teeth_material = ict.materials.index("M_Teeth")
    assert np.all(ict.face_material[first:stop] == teeth_material)
    first, stop = ict.face_ranges["face"]
    assert np.all(ict.face_material[first:stop] == ict.materials.index("M_Face"))
    # jawOpen moves the chin down, not the forehead
    jaw = ict.expression_basis[ict.expression_index("jawOpen")]
    chin, forehead = ict.landmarks_68[8], ict.landmarks_68[27]
    assert jaw[chin, 1] < -0.5
    assert abs(jaw[forehead]).max() < 0.05  # nose bridge: ~0.01 cm


def test_unknown_expression_lists_valid(ict):
    with pytest.raises(ValueError, match="jawOpen"):
        ict.expression_index("jawOpenn")


def test_cache_loads_fast(ict):
    assert default_cache_file().is_file()
    started = time.perf_counter()
    load_ict()
    assert time.perf_counter() - started < 1.0


def test_blend_numpy_matches_torch(ict, rng):
    identity = rng.normal(size=20).astype(np.float32)
    expression = rng.uniform(0, 1, size=53).astype(np.float32)
    vertices = blend_vertices(
        ict.neutral, ict.identity_basis, identity, ict.expression_basis, expression
    )
    batch = blend_vertices_torch(
        torch.from_numpy(ict.neutral),
        torch.from_numpy(ict.identity_basis),
        torch.from_numpy(np.stack([identity, identity * 0])),
        torch.from_numpy(ict.expression_basis),
        torch.from_numpy(np.stack([expression, expression * 0])),
    )
    np.testing.assert_allclose(batch[0].numpy(), vertices, atol=1e-4)
    np.testing.assert_allclose(batch[1].numpy(), ict.neutral, atol=1e-5)
    manual = (
        ict.neutral
        + np.tensordot(identity, ict.identity_basis[:20], 1)
        + np.tensordot(expression, ict.expression_basis, 1)
    )
    np.testing.assert_allclose(vertices, manual, atol=1e-4)


def test_euler_roundtrip_and_torch(rng):
    for _ in range(20):
        angles = rng.uniform(-1.2, 1.2, size=3)
        matrix = euler_to_matrix(*angles)
        np.testing.assert_allclose(matrix @ matrix.T, np.eye(3), atol=1e-12)
        np.testing.assert_allclose(matrix_to_euler(matrix), angles, atol=1e-9)
        batched = euler_to_matrix_torch(torch.tensor(angles[None], dtype=torch.float64))
        np.testing.assert_allclose(batched[0].numpy(), matrix, atol=1e-12)
    yaw = euler_to_matrix(0, math.radians(90), 0)
    np.testing.assert_allclose(yaw @ [0, 0, 1], [1, 0, 0], atol=1e-12)


def test_rigid_and_projection(rng):
    vertices = rng.normal(size=(50, 3)).astype(np.float32)
    rotation = euler_to_matrix(0.1, -0.2, 0.3)
    moved = rigid_transform(vertices, rotation, np.array([1.0, 2.0, 3.0]), 2.0)
    batch = rigid_transform_torch(
        torch.from_numpy(vertices)[None].double(),
        torch.from_numpy(rotation)[None],
        torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64),
        torch.tensor([2.0], dtype=torch.float64),
    )
    np.testing.assert_allclose(batch[0].numpy(), moved, atol=1e-5)
    camera = OrthoCamera(scale=10.0, tu=256.0, tw=200.0)
    pixels, depth = project(vertices, rotation, camera)
    rotated = vertices @ rotation.T
    np.testing.assert_allclose(pixels[:, 0], 10 * rotated[:, 0] + 256, atol=1e-4)
    np.testing.assert_allclose(pixels[:, 1], -10 * rotated[:, 1] + 200, atol=1e-4)
    np.testing.assert_allclose(depth, 10 * rotated[:, 2], atol=1e-4)
    torch_pixels = project_torch(
        torch.from_numpy(vertices)[None].double(),
        torch.from_numpy(rotation)[None],
        torch.tensor([10.0], dtype=torch.float64),
        torch.tensor([[256.0, 200.0]], dtype=torch.float64),
    )
    np.testing.assert_allclose(torch_pixels[0].numpy(), pixels, atol=1e-4)


def test_module_matches_pure_functions(ict, rng):
    from engines.face_model.module import FaceModelModule

    subset = np.arange(0, 9409, 7)
    module = FaceModelModule(ict, num_identity=10, vertex_ids=subset)
    expression = rng.uniform(0, 1, size=(2, 53)).astype(np.float32)
    identity = rng.normal(size=(2, 10)).astype(np.float32)
    angles = np.array([[0.1, 0.2, -0.1], [0.0, 0.0, 0.0]], np.float32)
    out = module(
        torch.from_numpy(expression),
        torch.from_numpy(identity),
        torch.from_numpy(angles),
        torch.zeros(2, 3),
    )
    assert out.shape == (2, subset.size, 3)
    full = blend_vertices(
        ict.neutral, ict.identity_basis, identity[0], ict.expression_basis, expression[0]
    )
    expected = full[subset] @ euler_to_matrix(*angles[0].astype(np.float64)).T
    np.testing.assert_allclose(out[0].numpy(), expected, atol=1e-3)
    with pytest.raises(ValueError, match="num_identity"):
        FaceModelModule(ict, num_identity=101)
