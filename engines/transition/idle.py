"""Idle motion: periodic eye blinks and a small head sway, so a holding face never freezes.

A pure function of time: ``IdleMotion(config).apply(t, expression, pose)`` gives the same
result for the same ``t`` whatever was asked before (the server calls it on every frame,
``facecast animate`` on all frames at once with :meth:`IdleMotion.apply_batch`).

Blinks: one per ``1 / blink_rate_hz`` seconds on average, on a jittered grid so that two
blinks are at least ``min_blink_interval_s`` apart; the lid closes in 40 % of
``blink_duration_s`` and opens in the rest (cosine ramps), raising ``eyeBlink_L/R`` towards 1
and relaxing ``eyeWide_L/R``. Head: a sum of slow sines (0.07-0.37 Hz, random phases) per
axis, at most ``idle_head_amplitude_rad``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from engines.face_model.ict import EXPRESSION_NAMES
from engines.transition.config import TransitionConfig

__all__ = ["IdleMotion"]

_BLOCK = 256  # blink jitters drawn per block of grid slots
_CLOSE_FRACTION = 0.4
# (frequency Hz, weight) per axis: pitch, yaw, roll
_HEAD_WAVES: tuple[tuple[tuple[float, float], ...], ...] = (
    ((0.11, 0.6), (0.23, 0.3), (0.37, 0.1)),
    ((0.07, 0.6), (0.17, 0.3), (0.29, 0.1)),
    ((0.13, 0.7), (0.31, 0.3)),
)
_HEAD_AXIS_SCALE = (1.0, 1.3, 0.6)


class IdleMotion:
    """Blinks and head sway as a deterministic function of time.

    Args:
        config: blink rate / duration / spacing and head amplitude.
        seed: schedule seed (``config.seed`` if None).
        expression_names: the model's shapes (ICT by default); blinks drive
            ``eyeBlink_L/R`` and relax ``eyeWide_L/R`` when present.
    """

    def __init__(
        self,
        config: TransitionConfig | None = None,
        seed: int | None = None,
        expression_names: Sequence[str] = EXPRESSION_NAMES,
    ) -> None:
        self.config = config or TransitionConfig()
        self.seed = self.config.seed if seed is None else int(seed)
        names = list(expression_names)
        self._blink = [names.index(n) for n in ("eyeBlink_L", "eyeBlink_R") if n in names]
        self._wide = [names.index(n) for n in ("eyeWide_L", "eyeWide_R") if n in names]
        self._num_shapes = len(names)
        rng = np.random.default_rng([self.seed, 99])
        self._phases = [rng.uniform(0, 2 * np.pi, len(waves)) for waves in _HEAD_WAVES]
        self._jitter_blocks: dict[int, NDArray[np.float64]] = {}
        rate = self.config.blink_rate_hz
        self._period = 1.0 / rate if rate > 0 else math.inf
        # jitter range keeps neighbours >= min_blink_interval_s apart
        self._jitter = max(0.0, self._period - self.config.min_blink_interval_s)

    # ------------------------------------------------------------------------------ blinks
    def _jitters(self, block: int) -> NDArray[np.float64]:
        """The (BLOCK,) jitters in [0, 1) of the blinks of grid slots in ``block``."""
        jitters = self._jitter_blocks.get(block)
        if jitters is None:
            jitters = np.random.default_rng([self.seed, 7, block + 2**31]).random(_BLOCK)
            if len(self._jitter_blocks) > 64:
                self._jitter_blocks.clear()
            self._jitter_blocks[block] = jitters
        return jitters

    def _slot_start(self, slot: NDArray[np.int64]) -> NDArray[np.float64]:
        """Start time of the blink of each grid slot."""
        out = np.empty(slot.shape, np.float64)
        for block in np.unique(slot // _BLOCK):
            jitters = self._jitters(int(block))
            mask = slot // _BLOCK == block
            out[mask] = jitters[slot[mask] % _BLOCK]
        # the first blink comes after ~half a period, not at t = 0
        return (slot + 0.5) * self._period + out * self._jitter

    def blink_amount(self, t: NDArray[np.float64] | float) -> NDArray[np.float64]:
        """(M,) eyelid closure in [0, 1] at times ``t`` (seconds)."""
        times = np.atleast_1d(np.asarray(t, np.float64))
        if not math.isfinite(self._period):
            return np.zeros_like(times)
        duration = self.config.blink_duration_s
        amount = np.zeros_like(times)
        base = np.floor(times / self._period).astype(np.int64)
        for offset in (-1, 0):  # a blink started in the previous slot may still be running
            slot = base + offset
            start = self._slot_start(slot)
            u = (times - start) / duration
            inside = (u >= 0) & (u <= 1) & (slot >= 0)
            closing = np.clip(u / _CLOSE_FRACTION, 0, 1)
            opening = np.clip((u - _CLOSE_FRACTION) / (1 - _CLOSE_FRACTION), 0, 1)
            curve = np.where(
                u < _CLOSE_FRACTION,
                0.5 - 0.5 * np.cos(np.pi * closing),
                0.5 + 0.5 * np.cos(np.pi * opening),
            )
            amount = np.maximum(amount, np.where(inside, curve, 0.0))
        return amount

    # -------------------------------------------------------------------------------- head
    def head_offset(self, t: NDArray[np.float64] | float) -> NDArray[np.float64]:
        """(M, 3) idle head-rotation offsets (pitch, yaw, roll) at times ``t``."""
        times = np.atleast_1d(np.asarray(t, np.float64))
        out = np.zeros((times.shape[0], 3))
        amplitude = self.config.idle_head_amplitude_rad
        for axis, waves in enumerate(_HEAD_WAVES):
            for (frequency, weight), phase in zip(waves, self._phases[axis], strict=True):
                out[:, axis] += weight * np.sin(2 * np.pi * frequency * times + phase)
            out[:, axis] *= amplitude * _HEAD_AXIS_SCALE[axis]
        return out

    # ------------------------------------------------------------------------------- apply
    def apply_batch(
        self,
        times: NDArray[np.floating],
        expressions: NDArray[np.floating],
        poses: NDArray[np.floating],
    ) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """(M,) times, (M, E) expressions, (M, 3) poses -> the same with idle motion added."""
        time_array = np.asarray(times, np.float64)
        expressions = np.array(expressions, np.float32, copy=True)
        poses = np.array(poses, np.float32, copy=True)
        if expressions.ndim != 2 or expressions.shape[1] != self._num_shapes:
            raise ValueError(
                f"expressions must be (M, {self._num_shapes}), got {expressions.shape}"
            )
        if poses.shape != (expressions.shape[0], 3) or time_array.shape != (expressions.shape[0],):
            raise ValueError("times (M,), expressions (M, E) and poses (M, 3) must agree in M")
        blink = self.blink_amount(time_array)[:, None].astype(np.float32)
        if self._blink:
            closed = expressions[:, self._blink]
            expressions[:, self._blink] = closed + (1.0 - closed) * blink
        if self._wide:
            expressions[:, self._wide] *= 1.0 - blink
        poses += self.head_offset(time_array).astype(np.float32)
        return expressions, poses

    def _blink_at(self, t: float) -> float:
        """Scalar :meth:`blink_amount` (the per-frame path of the server)."""
        if not math.isfinite(self._period) or not math.isfinite(t):
            return 0.0
        duration = self.config.blink_duration_s
        base = math.floor(t / self._period)
        amount = 0.0
        for slot in (base - 1, base):
            if slot < 0:
                continue
            jitter = float(self._jitters(slot // _BLOCK)[slot % _BLOCK])
            start = (slot + 0.5) * self._period + jitter * self._jitter
            u = (t - start) / duration
            if 0.0 <= u <= 1.0:
                if u < _CLOSE_FRACTION:
                    curve = 0.5 - 0.5 * math.cos(math.pi * u / _CLOSE_FRACTION)
                else:
                    opening = (u - _CLOSE_FRACTION) / (1 - _CLOSE_FRACTION)
                    curve = 0.5 + 0.5 * math.cos(math.pi * opening)
                amount = max(amount, curve)
        return amount

    def _head_at(self, t: float) -> tuple[float, float, float]:
        """Scalar :meth:`head_offset`."""
        if not math.isfinite(t):
            return (0.0, 0.0, 0.0)
        amplitude = self.config.idle_head_amplitude_rad
        out = []
        for axis, waves in enumerate(_HEAD_WAVES):
            value = 0.0
            for (frequency, weight), phase in zip(waves, self._phases[axis], strict=True):
                value += weight * math.sin(2 * math.pi * frequency * t + float(phase))
            out.append(value * amplitude * _HEAD_AXIS_SCALE[axis])
        return (out[0], out[1], out[2])

    def apply(
        self, t: float, expression: NDArray[np.floating], pose: NDArray[np.floating]
    ) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """(E,) expression and (3,) pose at time ``t`` -> with a blink and head sway added."""
        expression = np.array(expression, np.float32, copy=True).reshape(-1)
        pose = np.array(pose, np.float32, copy=True).reshape(-1)
        if expression.shape != (self._num_shapes,) or pose.shape != (3,):
            raise ValueError(
                f"expression must be ({self._num_shapes},) and pose (3,), got "
                f"{expression.shape} and {pose.shape}"
            )
        t = float(t)
        blink = self._blink_at(t)
        if blink > 0.0:
            if self._blink:
                closed = expression[self._blink]
                expression[self._blink] = closed + (1.0 - closed) * blink
            if self._wide:
                expression[self._wide] *= 1.0 - blink
        pose += np.array(self._head_at(t), np.float32)
        return expression, pose
