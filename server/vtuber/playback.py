"""A precomputed face trajectory sent to the VTuber outputs in real time (``facecast animate
--vmc``): frame ``i`` leaves at ``start + i / fps``; a late frame is sent at once, never
skipped (a receiver wants every pose of a short clip)."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from server.vtuber.output import TrackingOutput

__all__ = ["play"]


def play(
    output: TrackingOutput,
    expressions: NDArray[np.floating],
    poses: NDArray[np.floating],
    fps: float,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> float:
    """Send (T, E) expressions and (T, 3) pose offsets at ``fps``; returns the seconds the
    whole trajectory took (about ``(T - 1) / fps``)."""
    if expressions.shape[0] != poses.shape[0]:
        raise ValueError(
            f"expressions ({expressions.shape[0]}) and poses ({poses.shape[0]}) differ in length"
        )
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    start = clock()
    for index in range(expressions.shape[0]):
        due = start + index / fps
        wait = due - clock()
        if wait > 0:
            sleep(wait)
        output.send(expressions[index], poses[index], due)
    return clock() - start
