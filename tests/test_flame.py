"""FLAME behind the face-model interface, on a tiny synthetic pickle the test writes."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from scipy import sparse

from engines.face_model.exceptions import ModelFilesNotFoundError, ModelFormatError
from engines.face_model.flame import batch_rodrigues, flame_vertices, load_flame

NUM_VERTICES, NUM_JOINTS, NUM_SHAPE, NUM_EXPR = 10, 3, 2, 2


def _arrays(rng: np.random.Generator) -> dict:
    template = rng.normal(0.0, 1.0, (NUM_VERTICES, 3))
    weights = np.zeros((NUM_VERTICES, NUM_JOINTS))
    weights[:4, 0] = 1.0  # rigid to the root
    weights[4:7, 1] = 1.0  # rigid to joint 1
    weights[7:, 1:] = rng.uniform(0.1, 1.0, (3, 2))  # blended between joints 1 and 2
    weights /= weights.sum(1, keepdims=True)
    regressor = np.zeros((NUM_JOINTS, NUM_VERTICES))
    regressor[0, :4] = 0.25
    regressor[1, 4:7] = 1 / 3
    regressor[2, 7:] = 1 / 3
    return {
        "v_template": template,
        "shapedirs": rng.normal(0.0, 0.1, (NUM_VERTICES, 3, NUM_SHAPE + NUM_EXPR)),
        "posedirs": rng.normal(0.0, 0.01, (NUM_VERTICES, 3, 9 * (NUM_JOINTS - 1))),
        "J_regressor": sparse.csc_matrix(regressor),
        "kintree_table": np.array([[2**32 - 1, 0, 1], [0, 1, 2]], np.uint32),
        "weights": weights,
        "f": np.array([[0, 1, 2], [2, 3, 0], [4, 5, 6], [7, 8, 9]], np.uint32),
    }


def _write(tmp_path, arrays: dict, name: str = "flame.pkl"):
    path = tmp_path / name
    path.write_bytes(pickle.dumps(arrays, protocol=2))
    return path


@pytest.fixture
def flame(tmp_path, rng):
    arrays = _arrays(rng)
    return arrays, load_flame(_write(tmp_path, arrays), num_shape=NUM_SHAPE)


def _reference_lbs(arrays, shape, expression, pose):
    """Independent per-vertex implementation (loops, scipy rotations)."""
    from scipy.spatial.transform import Rotation

    betas = np.concatenate([shape, expression])
    v_shaped = arrays["v_template"] + arrays["shapedirs"] @ betas
    joints = arrays["J_regressor"].toarray() @ v_shaped
    rotations = [Rotation.from_rotvec(p).as_matrix() for p in pose]
    feature = np.concatenate([(r - np.eye(3)).ravel() for r in rotations[1:]])
    v_posed = v_shaped + arrays["posedirs"] @ feature
    parents = [-1, 0, 1]
    world = []
    for j in range(NUM_JOINTS):
        local = np.eye(4)
        local[:3, :3] = rotations[j]
        local[:3, 3] = joints[j] - (joints[parents[j]] if j else 0)
        world.append(local if j == 0 else world[parents[j]] @ local)
    out = np.zeros_like(v_posed)
    for v in range(NUM_VERTICES):
        for j in range(NUM_JOINTS):
            rest = np.eye(4)
            rest[:3, 3] = -joints[j]
            homogeneous = world[j] @ rest @ np.append(v_posed[v], 1.0)
            out[v] += arrays["weights"][v, j] * homogeneous[:3]
    return out


def test_interface(flame):
    _, model = flame
    assert model.neutral.shape == (NUM_VERTICES, 3)
    assert model.identity_basis.shape == (NUM_SHAPE, NUM_VERTICES, 3)
    assert model.expression_basis.shape == (NUM_EXPR, NUM_VERTICES, 3)
    assert model.pose_basis.shape == (9 * (NUM_JOINTS - 1), NUM_VERTICES, 3)
    assert model.faces.shape == (4, 3) and model.faces.dtype == np.int32
    assert list(model.parents) == [-1, 0, 1]


def test_zero_parameters_give_the_template(flame):
    arrays, model = flame
    vertices, joints = flame_vertices(model)
    np.testing.assert_allclose(vertices, arrays["v_template"], atol=1e-5)
    np.testing.assert_allclose(joints, arrays["J_regressor"] @ arrays["v_template"], atol=1e-5)


def test_shape_and_expression_are_linear(flame):
    arrays, model = flame
    shape, expression = np.array([0.7, -1.2]), np.array([0.3, 0.9])
    vertices, _ = flame_vertices(model, shape, expression)
    expected = arrays["v_template"] + arrays["shapedirs"] @ np.concatenate([shape, expression])
    np.testing.assert_allclose(vertices, expected, atol=1e-5)


def test_root_rotation_is_rigid_about_the_root_joint(flame):
    arrays, model = flame
    pose = np.zeros((NUM_JOINTS, 3))
    pose[0] = [0.0, 0.4, 0.0]
    vertices, _ = flame_vertices(model, pose=pose, translation=np.array([1.0, 2.0, 3.0]))
    root = (arrays["J_regressor"] @ arrays["v_template"])[0]
    rotation = batch_rodrigues(pose[:1])[0]
    expected = (arrays["v_template"] - root) @ rotation.T + root + [1.0, 2.0, 3.0]
    # root rotation does not drive pose correctives (only joints 1.. do)
    np.testing.assert_allclose(vertices, expected, atol=1e-5)


def test_matches_reference_lbs(flame, rng):
    arrays, model = flame
    shape, expression = rng.normal(size=NUM_SHAPE), rng.normal(size=NUM_EXPR)
    pose = rng.normal(0.0, 0.4, (NUM_JOINTS, 3))
    vertices, _ = flame_vertices(model, shape, expression, pose)
    np.testing.assert_allclose(vertices, _reference_lbs(arrays, shape, expression, pose), atol=1e-4)
    # vertices bound only to the root do not move with joint 2
    pose_child = np.zeros((NUM_JOINTS, 3))
    pose_child[2] = [0.5, 0.0, 0.0]
    moved, _ = flame_vertices(model, pose=pose_child)
    rest, _ = flame_vertices(model)
    pose_offsets = np.tensordot(
        (batch_rodrigues(pose_child)[1:] - np.eye(3)).ravel(), model.pose_basis, axes=1
    )
    np.testing.assert_allclose(moved[:4], rest[:4] + pose_offsets[:4], atol=1e-5)


def test_rodrigues_matches_scipy(rng):
    from scipy.spatial.transform import Rotation

    vectors = rng.normal(size=(5, 3))
    np.testing.assert_allclose(
        batch_rodrigues(vectors), Rotation.from_rotvec(vectors).as_matrix(), atol=1e-9
    )
    np.testing.assert_allclose(batch_rodrigues(np.zeros((1, 3)))[0], np.eye(3))


def test_bad_files(tmp_path, rng):
    with pytest.raises(ModelFilesNotFoundError):
        load_flame(tmp_path / "missing.pkl")
    garbage = tmp_path / "garbage.pkl"
    garbage.write_bytes(b"not a pickle at all")
    with pytest.raises(ModelFormatError, match="not a readable FLAME pickle"):
        load_flame(garbage)
    arrays = _arrays(rng)
    del arrays["posedirs"]
    with pytest.raises(ModelFormatError, match="posedirs"):
        load_flame(_write(tmp_path, arrays, "missing.pkl"))
    arrays = _arrays(rng)
    arrays["weights"] = arrays["weights"][:, :2]
    with pytest.raises(ModelFormatError, match="weights"):
        load_flame(_write(tmp_path, arrays, "weights.pkl"))


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_refuses_code_in_pickles(tmp_path, rng):
    arrays = _arrays(rng)
    arrays["extra"] = _Evil()
    with pytest.raises(ModelFormatError, match="refusing"):
        load_flame(_write(tmp_path, arrays, "evil.pkl"))


def test_bad_parameters(flame):
    _, model = flame
    with pytest.raises(ValueError, match="pose"):
        flame_vertices(model, pose=np.zeros((2, 3)))
    with pytest.raises(ValueError, match="shape"):
        flame_vertices(model, shape=np.zeros(5))
