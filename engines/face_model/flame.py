"""FLAME (optional second face model): load a user-supplied pickle, evaluate it with LBS.

FLAME is not shipped or downloaded: users with a licence point :func:`load_flame` at their
``generic_model.pkl``. The pickle must hold plain numpy arrays (and optionally a scipy sparse
``J_regressor``): ``v_template (V, 3)``, ``shapedirs (V, 3, S+E)``, ``posedirs (V, 3, 9·(J−1))``,
``J_regressor (J, V)``, ``kintree_table (2, J)``, ``weights (V, J)``, ``f (F, 3)``. Pickles that
store chumpy objects are refused with a message (convert them to numpy first). Unpickling is
restricted to numpy and scipy.sparse classes, so a hostile file cannot run code.

Shape algebra (smplx ``lbs.py`` style), V vertices, J joints::

    v_shaped = v_template + Σ_s β_s S_s + Σ_e ψ_e E_e                    (V, 3)
    joints   = J_regressor · v_shaped                                    (J, 3)
    R_j      = rodrigues(θ_j)                                            (J, 3, 3)
    v_posed  = v_shaped + Σ_p (R_{1:} − I)_p P_p                         (V, 3)
    G_j      = G_parent(j) · [R_j | joints_j − joints_parent(j)]         (J, 4, 4)
    A_j      = G_j − [0 | G_j[:3, :3] · joints_j]      (remove the rest pose)
    v        = Σ_j w_vj A_j · [v_posed; 1] + translation                  (V, 3)
"""

from __future__ import annotations

import io
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from engines.face_model.exceptions import ModelFilesNotFoundError, ModelFormatError

__all__ = [
    "FLAME_KEYS",
    "FlameModelData",
    "batch_rodrigues",
    "flame_vertices",
    "load_flame",
]

FLAME_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "kintree_table", "weights", "f")
DEFAULT_NUM_SHAPE = 300

_ALLOWED_MODULES = (
    "numpy",
    "numpy.core.multiarray",
    "numpy._core.multiarray",
    "numpy.core.numeric",
    "numpy._core.numeric",
    "scipy.sparse",
)

_ALLOWED_BUILTINS = ("dict", "list", "tuple", "set", "int", "float", "str", "object", "bytes")


@dataclass(frozen=True)
class FlameModelData:
    """FLAME arrays, exposed like :class:`~engines.face_model.ict.FaceModelData`.

    Attributes:
        v_template: (V, 3) float32 template mesh (``neutral``).
        shape_basis: (S, V, 3) float32 identity/shape blend shapes (``identity_basis``).
        expression_basis: (E, V, 3) float32 expression blend shapes.
        pose_basis: (P, V, 3) float32 pose-corrective blend shapes, P = 9·(J−1).
        joint_regressor: (J, V) float32 dense joint regressor.
        parents: (J,) int64 parent joint (−1 for the root).
        weights: (V, J) float32 skinning weights.
        faces: (F, 3) int32 triangles.
    """

    v_template: NDArray[np.float32]
    shape_basis: NDArray[np.float32]
    expression_basis: NDArray[np.float32]
    pose_basis: NDArray[np.float32]
    joint_regressor: NDArray[np.float32]
    parents: NDArray[np.int64]
    weights: NDArray[np.float32]
    faces: NDArray[np.int32]

    @property
    def neutral(self) -> NDArray[np.float32]:
        return self.v_template

    @property
    def identity_basis(self) -> NDArray[np.float32]:
        return self.shape_basis

    @property
    def num_vertices(self) -> int:
        return int(self.v_template.shape[0])

    @property
    def num_joints(self) -> int:
        return int(self.parents.shape[0])


class _RestrictedUnpickler(pickle.Unpickler):
    """Only numpy / scipy.sparse classes may be created while unpickling."""

    def find_class(self, module: str, name: str) -> Any:
        if module.split(".")[0] == "chumpy":
            raise ModelFormatError(
                "this FLAME pickle stores chumpy objects; convert it to plain numpy arrays "
                "first (load it where chumpy is installed and re-save with np.asarray values)"
            )
        if module in _ALLOWED_MODULES or module.startswith("scipy.sparse"):
            return super().find_class(module, name)
        if module == "builtins" and name in _ALLOWED_BUILTINS:
            return super().find_class(module, name)
        if (module, name) in (("copyreg", "_reconstructor"), ("_codecs", "encode")):
            # protocol-2 pickles (FLAME's own are Python 2 pickles) use these for objects/bytes
            return super().find_class(module, name)
        raise ModelFormatError(f"refusing to unpickle {module}.{name} from a FLAME file")


def _dense(value: Any) -> NDArray[np.float64]:
    if hasattr(value, "toarray"):
        value = value.toarray()
    return np.asarray(value, np.float64)


def load_flame(
    path: str | os.PathLike[str], *, num_shape: int = DEFAULT_NUM_SHAPE
) -> FlameModelData:
    """Load a FLAME pickle (plain numpy arrays; J_regressor may be scipy sparse).

    Args:
        path: the ``.pkl`` file.
        num_shape: how many ``shapedirs`` columns are shape; the rest are expression
            (FLAME 2020: 300 shape + 100 expression).

    Raises:
        ModelFilesNotFoundError: the file does not exist.
        ModelFormatError: not a FLAME pickle, chumpy content, missing or inconsistent arrays.
    """
    source = Path(path)
    if not source.is_file():
        raise ModelFilesNotFoundError(f"FLAME model file not found: {source}")
    try:
        raw = _RestrictedUnpickler(io.BytesIO(source.read_bytes()), encoding="latin1").load()
    except ModelFormatError:
        raise
    except Exception as error:  # any unpickling failure is a format problem
        raise ModelFormatError(f"{source} is not a readable FLAME pickle: {error}") from error
    if not isinstance(raw, dict):
        raise ModelFormatError(f"{source}: expected a dict of arrays, got {type(raw).__name__}")
    missing = [key for key in FLAME_KEYS if key not in raw]
    if missing:
        raise ModelFormatError(f"{source}: missing FLAME arrays {missing}")
    template = _dense(raw["v_template"])
    shapedirs = _dense(raw["shapedirs"])
    posedirs = _dense(raw["posedirs"])
    regressor = _dense(raw["J_regressor"])
    kintree = np.asarray(raw["kintree_table"]).astype(np.int64)
    weights = _dense(raw["weights"])
    faces = np.asarray(raw["f"]).astype(np.int64)
    num_vertices = template.shape[0]
    num_joints = kintree.shape[1] if kintree.ndim == 2 else -1
    problems = []
    if template.ndim != 2 or template.shape[1] != 3:
        problems.append(f"v_template {template.shape}, expected (V, 3)")
    if shapedirs.ndim != 3 or shapedirs.shape[:2] != (num_vertices, 3):
        problems.append(f"shapedirs {shapedirs.shape}, expected ({num_vertices}, 3, S)")
    if kintree.ndim != 2 or kintree.shape[0] != 2:
        problems.append(f"kintree_table {kintree.shape}, expected (2, J)")
    if posedirs.shape != (num_vertices, 3, 9 * (num_joints - 1)):
        problems.append(
            f"posedirs {posedirs.shape}, expected ({num_vertices}, 3, {9 * (num_joints - 1)})"
        )
    if regressor.shape != (num_joints, num_vertices):
        problems.append(f"J_regressor {regressor.shape}, expected ({num_joints}, {num_vertices})")
    if weights.shape != (num_vertices, num_joints):
        problems.append(f"weights {weights.shape}, expected ({num_vertices}, {num_joints})")
    if (
        faces.ndim != 2
        or faces.shape[1] != 3
        or (faces.size and (faces.min() < 0 or faces.max() >= num_vertices))
    ):
        problems.append("f must be (F, 3) vertex indices")
    if problems:
        raise ModelFormatError(f"{source}: " + "; ".join(problems))
    if num_shape < 0:
        raise ValueError(f"num_shape must be >= 0, got {num_shape}")
    split = min(num_shape, shapedirs.shape[2])
    parents = kintree[0].copy()
    parents[0] = -1  # FLAME stores the root's parent as 2**32 - 1
    if np.any(parents[1:] < 0) or np.any(parents[1:] >= np.arange(1, num_joints)):
        raise ModelFormatError(f"{source}: kintree_table parents must precede their children")
    return FlameModelData(
        v_template=template.astype(np.float32),
        shape_basis=np.ascontiguousarray(shapedirs[:, :, :split].transpose(2, 0, 1), np.float32),
        expression_basis=np.ascontiguousarray(
            shapedirs[:, :, split:].transpose(2, 0, 1), np.float32
        ),
        pose_basis=np.ascontiguousarray(posedirs.transpose(2, 0, 1), np.float32),
        joint_regressor=regressor.astype(np.float32),
        parents=parents,
        weights=weights.astype(np.float32),
        faces=faces.astype(np.int32),
    )


def batch_rodrigues(axis_angles: NDArray[np.floating]) -> NDArray[np.float64]:
    """(N, 3) axis-angle vectors -> (N, 3, 3) rotation matrices."""
    vectors = np.asarray(axis_angles, np.float64).reshape(-1, 3)
    angles = np.linalg.norm(vectors, axis=1, keepdims=True)  # (N, 1)
    axes = vectors / np.maximum(angles, 1e-12)
    x, y, z = axes[:, 0], axes[:, 1], axes[:, 2]
    zero = np.zeros_like(x)
    skew = np.stack(
        [np.stack([zero, -z, y], -1), np.stack([z, zero, -x], -1), np.stack([-y, x, zero], -1)], -2
    )  # (N, 3, 3)
    sin, cos = np.sin(angles)[:, :, None], np.cos(angles)[:, :, None]
    return np.eye(3) + sin * skew + (1.0 - cos) * (skew @ skew)


def flame_vertices(
    model: FlameModelData,
    shape: NDArray[np.floating] | None = None,
    expression: NDArray[np.floating] | None = None,
    pose: NDArray[np.floating] | None = None,
    translation: NDArray[np.floating] | None = None,
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Posed FLAME vertices by linear blend skinning.

    Args:
        model: the loaded FLAME arrays.
        shape: (S',) shape coefficients, S' <= S (missing ones are zero).
        expression: (E',) expression coefficients, E' <= E.
        pose: (J, 3) axis-angle per joint (FLAME: global, neck, jaw, left eye, right eye).
        translation: (3,) added after skinning.

    Returns:
        vertices: (V, 3) float32.
        joints: (J, 3) float32 posed joint locations.
    """
    num_joints = model.num_joints
    v_shaped = model.v_template.astype(np.float64)
    for coeffs, basis, name in ((shape, model.shape_basis, "shape"),
                                (expression, model.expression_basis, "expression")):  # fmt: skip
        if coeffs is None:
            continue
        values = np.asarray(coeffs, np.float64).reshape(-1)
        if values.shape[0] > basis.shape[0]:
            raise ValueError(
                f"{values.shape[0]} {name} coefficients, the model has {basis.shape[0]}"
            )
        v_shaped = v_shaped + np.tensordot(values, basis[: values.shape[0]], axes=1)
    joints = model.joint_regressor.astype(np.float64) @ v_shaped  # (J, 3)
    angles = np.zeros((num_joints, 3)) if pose is None else np.asarray(pose, np.float64)
    if angles.shape != (num_joints, 3):
        raise ValueError(f"pose must be ({num_joints}, 3) axis-angles, got {angles.shape}")
    rotations = batch_rodrigues(angles)  # (J, 3, 3)
    pose_feature = (rotations[1:] - np.eye(3)).reshape(-1)  # (9·(J−1),)
    v_posed = v_shaped + np.tensordot(pose_feature, model.pose_basis, axes=1)
    # Kinematic chain: world transform of every joint.
    relative = np.zeros((num_joints, 4, 4))
    relative[:, :3, :3] = rotations
    relative[:, :3, 3] = joints
    relative[1:, :3, 3] -= joints[model.parents[1:]]
    relative[:, 3, 3] = 1.0
    world = np.empty_like(relative)
    world[0] = relative[0]
    for j in range(1, num_joints):
        world[j] = world[model.parents[j]] @ relative[j]
    posed_joints = world[:, :3, 3].copy()
    # Remove the rest pose: A_j maps rest-pose points to posed points.
    world[:, :3, 3] -= np.einsum("jik,jk->ji", world[:, :3, :3], joints)
    blended = np.tensordot(model.weights.astype(np.float64), world, axes=1)  # (V, 4, 4)
    vertices = np.einsum("vik,vk->vi", blended[:, :3, :3], v_posed) + blended[:, :3, 3]
    if translation is not None:
        offset = np.asarray(translation, np.float64).reshape(3)
        vertices = vertices + offset
        posed_joints = posed_joints + offset
    return vertices.astype(np.float32), posed_joints.astype(np.float32)
