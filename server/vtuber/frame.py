"""One frame of the avatar's face in the terms VTuber apps use, computed once for every output.

The weights are the expression Facecast renders (absolute coefficients: the photo's own
fitted expression plus the instruction's), the head rotation is the avatar's pose *offset*
from its photo (so at rest the receiver's model looks straight ahead).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from server.vtuber.arkit import ARKIT_NAMES, ArkitMapping
from server.vtuber.pose import split_neck_head, unity_head_rotation

__all__ = ["EYE_RANGE_DEGREES", "TrackingFrame", "tracking_frame"]

EYE_RANGE_DEGREES = 35.0
"""Eye rotation of an eyeLook shape at weight 1 (an estimate: ARKit's eye transforms reach
about 30-40° where its eyeLook weights reach 1)."""

_INDEX = {name: i for i, name in enumerate(ARKIT_NAMES)}


@dataclass(frozen=True)
class TrackingFrame:
    """The face at one moment.

    Attributes:
        time: seconds since the output started.
        weights: (52,) float32 ARKit weights in [0, 1] (:data:`ARKIT_NAMES` order).
        pose: (3,) float64 ``(pitch, yaw, roll)`` radians, model frame (see
            :mod:`server.vtuber.pose`).
        head: (4,) Unity quaternion ``(x, y, z, w)`` of the whole head rotation.
        neck: (4,) the Neck bone's local rotation (its share of ``head``).
        head_local: (4,) the Head bone's rotation relative to the Neck.
    """

    time: float
    weights: NDArray[np.float32]
    pose: NDArray[np.float64]
    head: NDArray[np.float64]
    neck: NDArray[np.float64]
    head_local: NDArray[np.float64]

    def weight(self, arkit_name: str) -> float:
        return float(self.weights[_INDEX[arkit_name]])

    def eye_angles(self, side: str) -> tuple[float, float, float]:
        """``(pitch, yaw, roll)`` degrees of one eye (``"Left"``/``"Right"``, the face's own)
        estimated from its eyeLook weights, in the model frame: pitch > 0 looks down, yaw > 0
        towards the subject's left (the left eye looks out, the right eye in)."""
        down = self.weight(f"eyeLookDown{side}") - self.weight(f"eyeLookUp{side}")
        inward = self.weight(f"eyeLookIn{side}") - self.weight(f"eyeLookOut{side}")
        towards_left = -inward if side == "Left" else inward
        return EYE_RANGE_DEGREES * down, EYE_RANGE_DEGREES * towards_left, 0.0

    def head_degrees(self) -> tuple[float, float, float]:
        pitch, yaw, roll = (math.degrees(float(v)) for v in self.pose)
        return pitch, yaw, roll


def tracking_frame(
    mapping: ArkitMapping,
    expression: NDArray[np.floating],
    pose: NDArray[np.floating],
    time: float,
    neck_share: float,
) -> TrackingFrame:
    """The :class:`TrackingFrame` of one (E,) expression and (3,) pose offset."""
    angles = np.nan_to_num(np.asarray(pose, np.float64).reshape(3))
    head = unity_head_rotation(angles)
    neck, head_local = split_neck_head(head, neck_share)
    return TrackingFrame(float(time), mapping.weights(expression), angles, head, neck, head_local)
