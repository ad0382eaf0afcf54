"""The avatar's head pose as the rotation of a Unity humanoid's Neck and Head bones.

Facecast's head pose (``FaceState.pose``) is ``(pitch, yaw, roll)`` in radians, an offset from
the photo's own pose, in the face model's frame: right-handed, +x to the subject's left, +y
up, +z out of the face; ``R = Rz(roll) · Ry(yaw) · Rx(pitch)`` (the convention of
``engines.face_model.camera.euler_to_matrix``). So positive pitch looks down, positive yaw
turns the face towards the subject's left, positive roll lifts the subject's left ear.

Unity (what VMC receivers run on) is left-handed: +X to the character's right, +Y up, +Z
forward (the way a humanoid faces). The two frames differ by the mirror ``S = diag(-1, 1, 1)``
(model +x is the character's left), so a rotation ``R`` of the model is ``S · R · S`` in
Unity; as a quaternion ``(x, y, z, w)`` that is ``(x, -y, -z, w)``: pitch keeps its sign
(Unity's +X rotation also looks down), yaw and roll change theirs (Unity's +Y turns the face
to the character's right, its +Z lifts the character's right ear). At rest
(zero offset) both bones are the identity, so a receiver's model looks straight ahead when
the avatar does, whatever the photo's own head pose.

The rotation is shared between the Neck and the Head: the Neck takes ``neck_share`` of it
(the same axis, that fraction of the angle) and the Head, whose local rotation is relative to
the Neck, the rest, so that together they make the whole rotation exactly.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from engines.face_model.camera import euler_to_matrix

__all__ = [
    "UNITY_FROM_MODEL",
    "pose_matrix",
    "quaternion_from_matrix",
    "quaternion_multiply",
    "quaternion_power",
    "split_neck_head",
    "unity_head_rotation",
]

UNITY_FROM_MODEL = np.diag([-1.0, 1.0, 1.0])
"""(3, 3) the mirror taking model coordinates to Unity's (x flips: model +x is the
character's left, Unity +X its right)."""


def pose_matrix(pose: NDArray[np.floating]) -> NDArray[np.float64]:
    """(3, 3) rotation ``Rz(roll) · Ry(yaw) · Rx(pitch)`` of a (3,) ``(pitch, yaw, roll)``
    pose in radians (model frame)."""
    pitch, yaw, roll = (float(v) for v in np.asarray(pose, np.float64).reshape(3))
    return np.asarray(euler_to_matrix(pitch, yaw, roll), np.float64)


def quaternion_from_matrix(rotation: NDArray[np.floating]) -> NDArray[np.float64]:
    """(4,) unit quaternion ``(x, y, z, w)`` with ``w >= 0`` of a (3, 3) rotation matrix
    (the standard conversion, which is also Unity's ``Quaternion`` ↔ matrix relation)."""
    m = np.asarray(rotation, np.float64)
    trace = m[0, 0] + m[1, 1] + m[2, 2]
    if trace > 0.0:
        s = 2.0 * math.sqrt(trace + 1.0)
        q = [(m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, 0.25 * s]
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = 2.0 * math.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        q = [0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s, (m[2, 1] - m[1, 2]) / s]
    elif m[1, 1] > m[2, 2]:
        s = 2.0 * math.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        q = [(m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s, (m[0, 2] - m[2, 0]) / s]
    else:
        s = 2.0 * math.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        q = [(m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s, (m[1, 0] - m[0, 1]) / s]
    quaternion = np.array(q, np.float64)
    quaternion /= np.linalg.norm(quaternion)
    return -quaternion if quaternion[3] < 0 else quaternion


def quaternion_multiply(a: NDArray[np.floating], b: NDArray[np.floating]) -> NDArray[np.float64]:
    """Hamilton product ``a · b`` of (4,) ``(x, y, z, w)`` quaternions (``b`` applied first)."""
    ax, ay, az, aw = (float(v) for v in a)
    bx, by, bz, bw = (float(v) for v in b)
    return np.array(
        [
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
            aw * bw - ax * bx - ay * by - az * bz,
        ],
        np.float64,
    )


def quaternion_power(quaternion: NDArray[np.floating], share: float) -> NDArray[np.float64]:
    """(4,) the rotation about the same axis by ``share`` of the angle of a unit quaternion."""
    q = np.asarray(quaternion, np.float64)
    w = min(max(float(q[3]), -1.0), 1.0)
    half = math.acos(w)
    sine = math.sin(half)
    if sine < 1e-9:
        return np.array([0.0, 0.0, 0.0, 1.0])
    axis = q[:3] / sine
    part = share * half
    return np.array([*(axis * math.sin(part)), math.cos(part)], np.float64)


def unity_head_rotation(pose: NDArray[np.floating]) -> NDArray[np.float64]:
    """(4,) unit quaternion ``(x, y, z, w)`` in Unity's frame of a (3,) model-frame pose."""
    rotation = UNITY_FROM_MODEL @ pose_matrix(pose) @ UNITY_FROM_MODEL
    return quaternion_from_matrix(rotation)


def split_neck_head(
    rotation: NDArray[np.floating], neck_share: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(neck, head)`` (4,) quaternions: the Neck's local rotation (``neck_share`` of
    ``rotation``) and the Head's, relative to the Neck, so that ``neck · head == rotation``."""
    neck = quaternion_power(rotation, neck_share)
    inverse_neck = np.array([-neck[0], -neck[1], -neck[2], neck[3]])
    head = quaternion_multiply(inverse_neck, rotation)
    return neck, head / np.linalg.norm(head)
