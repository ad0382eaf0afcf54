"""Small server-side motions that need no planner: holding still and easing back to rest.

Used when an instruction is cancelled (the face eases from where it is back to rest, no
jump) and as the session's state before any instruction. Both follow :class:`server.engine.Motion`.
"""

from __future__ import annotations

import numpy as np

from server.engine import FaceState

__all__ = ["EaseMotion", "HoldMotion", "minimum_jerk"]


def minimum_jerk(fraction: float) -> float:
    """Minimum-jerk easing ``10s³ - 15s⁴ + 6s⁵`` of ``fraction`` clipped to [0, 1]."""
    s = min(max(fraction, 0.0), 1.0)
    return s * s * s * (10.0 - 15.0 * s + 6.0 * s * s)


class HoldMotion:
    """Holds one state forever (``duration`` 0)."""

    def __init__(self, state: FaceState) -> None:
        self._state = state

    @property
    def duration(self) -> float:
        return 0.0

    def state_at(self, t: float) -> FaceState:
        return self._state


class EaseMotion:
    """Eases from ``start`` to ``target`` over ``seconds`` with minimum-jerk timing."""

    def __init__(self, start: FaceState, target: FaceState, seconds: float = 0.6) -> None:
        if seconds <= 0:
            raise ValueError(f"seconds must be > 0, got {seconds}")
        self._start = start
        self._target = target
        self._seconds = float(seconds)

    @property
    def duration(self) -> float:
        return self._seconds

    def state_at(self, t: float) -> FaceState:
        weight = np.float32(minimum_jerk(t / self._seconds))
        expression = (1 - weight) * self._start.expression + weight * self._target.expression
        pose = (1 - weight) * self._start.pose + weight * self._target.pose
        phase = "offset" if weight < 1 else self._target.phase
        return FaceState(expression.astype(np.float32), pose.astype(np.float32), phase, "")
