"""A timeline: eased segments between key states, sampled at a frame rate.

A :class:`Timeline` is a list of :class:`Segment` (each moves from one state to the next
with an easing curve, or holds) plus the frames sampled from them at ``fps``. It is pure
data: evaluating it at any time gives the same state, and after the end it holds the last
state.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from engines.transition.easing import ease

if TYPE_CHECKING:
    from engines.transition.idle import IdleMotion

__all__ = ["PHASES", "FrameState", "Phase", "Segment", "Timeline"]

Phase = Literal["onset", "apex", "offset", "neutral", "hold"]
PHASES: tuple[str, ...] = ("onset", "apex", "offset", "neutral", "hold")
TIMELINE_JSON_VERSION = 1


@dataclass(frozen=True)
class Segment:
    """One piece of a timeline, from ``start`` to ``end`` seconds.

    Attributes:
        start, end: seconds (``end > start``).
        phase: what happens ("onset" into an apex, "apex" hold, "offset" to neutral,
            "neutral" hold, "hold" of the last anchor).
        label: the active emotion (the one appearing in an onset, fading in an offset).
        expression_start, expression_end: (E,) coefficients at both ends.
        pose_start, pose_end: (3,) head-rotation offsets at both ends.
        intensity_start, intensity_end: active emotion's intensity at both ends.
        easing: curve name (holds are constant whatever the curve).
        curve: None (the expression eases from start to end), or (M, E) expression
            coefficients at M >= 2 evenly spaced times from ``start`` to ``end`` (learned
            dynamics), linearly interpolated; pose and intensity still ease.
    """

    start: float
    end: float
    phase: Phase
    label: str
    expression_start: NDArray[np.float32]
    expression_end: NDArray[np.float32]
    pose_start: NDArray[np.float32]
    pose_end: NDArray[np.float32]
    intensity_start: float
    intensity_end: float
    easing: str
    curve: NDArray[np.float32] | None = None

    def __post_init__(self) -> None:
        if self.curve is not None and (
            self.curve.ndim != 2
            or self.curve.shape[0] < 2
            or self.curve.shape[1] != self.expression_start.shape[0]
        ):
            raise ValueError(
                f"curve must be (M >= 2, {self.expression_start.shape[0]}), got "
                f"{self.curve.shape}"
            )

    @property
    def duration(self) -> float:
        return self.end - self.start

    def expressions_at(self, times: NDArray[np.float64]) -> NDArray[np.float32]:
        """(M, E) expression at ``times`` (seconds, inside the segment)."""
        if self.curve is None:
            return _lerp(self.expression_start, self.expression_end, _progress(self, times))
        if self.duration <= 0:
            return np.repeat(self.curve[-1:], len(times), axis=0)
        u = np.clip((times - self.start) / self.duration, 0.0, 1.0) * (self.curve.shape[0] - 1)
        low = np.minimum(np.floor(u).astype(np.int64), self.curve.shape[0] - 2)
        fraction = (u - low)[:, None].astype(np.float32)
        return (self.curve[low] * (1.0 - fraction) + self.curve[low + 1] * fraction).astype(
            np.float32
        )


@dataclass(frozen=True)
class FrameState:
    """The state at one time: (E,) expression, (3,) pose, phase, label and intensity."""

    expression: NDArray[np.float32]
    pose: NDArray[np.float32]
    phase: str
    label: str
    intensity: float


@dataclass(frozen=True)
class Timeline:
    """Per-frame coefficients of an animation (N frames, E expression shapes).

    Attributes:
        fps: frames per second.
        segments: the eased pieces the frames are sampled from.
        times: (N,) seconds of every frame (``k / fps``, the last at or before ``duration``).
        expressions: (N, E) float32 expression coefficients.
        poses: (N, 3) float32 head-rotation offsets (pitch, yaw, roll), radians.
        phases, labels: N phase names and active emotion labels.
        intensities: (N,) active emotion intensity.
        text: the instruction the timeline realises (for the sidecar).
        meta: JSON-able extras (config, plan understanding, ...).
    """

    fps: float
    segments: tuple[Segment, ...]
    times: NDArray[np.float64]
    expressions: NDArray[np.float32]
    poses: NDArray[np.float32]
    phases: list[str]
    labels: list[str]
    intensities: NDArray[np.float32]
    text: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_segments(
        cls,
        segments: Sequence[Segment],
        fps: float,
        text: str = "",
        meta: dict[str, Any] | None = None,
    ) -> Timeline:
        """Sample ``segments`` (contiguous, starting at 0) at ``fps``."""
        if not segments:
            raise ValueError("a timeline needs at least one segment")
        segments = tuple(segments)
        for before, after in itertools.pairwise(segments):
            if not math.isclose(before.end, after.start, abs_tol=1e-9):
                raise ValueError("segments must be contiguous")
        duration = segments[-1].end
        count = math.floor(duration * fps + 1e-6) + 1
        times = np.arange(count, dtype=np.float64) / fps
        index = _segment_index(segments, times)
        expressions = np.empty((count, segments[0].expression_start.shape[0]), np.float32)
        poses = np.empty((count, 3), np.float32)
        intensities = np.empty(count, np.float32)
        phases: list[str] = []
        labels: list[str] = []
        for k, segment in enumerate(segments):
            rows = np.flatnonzero(index == k)
            if len(rows) == 0:
                continue
            s = _progress(segment, times[rows])
            expressions[rows] = segment.expressions_at(times[rows])
            poses[rows] = _lerp(segment.pose_start, segment.pose_end, s)
            intensities[rows] = (
                segment.intensity_start + (segment.intensity_end - segment.intensity_start) * s
            )
        for k in index:
            phases.append(segments[k].phase)
            labels.append(segments[k].label)
        return cls(
            fps=float(fps),
            segments=segments,
            times=times,
            expressions=expressions,
            poses=poses,
            phases=phases,
            labels=labels,
            intensities=intensities,
            text=text,
            meta=dict(meta or {}),
        )

    @functools.cached_property
    def _starts(self) -> tuple[float, ...]:
        return tuple(segment.start for segment in self.segments)

    @property
    def duration(self) -> float:
        """Seconds until the last anchor is reached and held for ``final_hold_s``."""
        return float(self.segments[-1].end)

    @property
    def num_frames(self) -> int:
        return int(self.times.shape[0])

    def state_at(self, t: float) -> FrameState:
        """The state at ``t`` seconds (before 0: the start; after the end: the last state)."""
        t = float(t)
        if math.isnan(t):
            t = 0.0
        t = min(max(t, 0.0), self.duration)
        k = min(max(bisect.bisect_right(self._starts, t + 1e-9) - 1, 0), len(self.segments) - 1)
        segment = self.segments[k]
        if segment.duration <= 0:
            s = 1.0
        else:
            u = (t - segment.start) / segment.duration
            s = float(ease(segment.easing, u))
        if segment.curve is None:
            a, b = segment.expression_start, segment.expression_end
            expression = (a + (b - a) * s).astype(np.float32)
        else:  # a learned curve: two rows blended (no arrays built per frame)
            curve = segment.curve
            u = 0.0 if segment.duration <= 0 else (t - segment.start) / segment.duration
            position = min(max(u, 0.0), 1.0) * (curve.shape[0] - 1)
            low = min(int(position), curve.shape[0] - 2)
            fraction = np.float32(position - low)
            expression = curve[low] + (curve[low + 1] - curve[low]) * fraction
        pose = (segment.pose_start + (segment.pose_end - segment.pose_start) * s).astype(np.float32)
        intensity = segment.intensity_start + (segment.intensity_end - segment.intensity_start) * s
        return FrameState(expression, pose, segment.phase, segment.label, float(intensity))

    def frames(
        self, idle: IdleMotion | None = None
    ) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """(N, E) expressions and (N, 3) poses, with blinks and idle head motion if given."""
        if idle is None:
            return self.expressions.copy(), self.poses.copy()
        return idle.apply_batch(self.times, self.expressions, self.poses)

    def to_json(self) -> dict[str, Any]:
        """The sidecar: per frame time, phase, active label and intensity, plus segments."""
        return {
            "version": TIMELINE_JSON_VERSION,
            "text": self.text,
            "fps": self.fps,
            "duration": round(self.duration, 6),
            "num_frames": self.num_frames,
            "meta": self.meta,
            "segments": [
                {
                    "start": round(s.start, 6),
                    "end": round(s.end, 6),
                    "phase": s.phase,
                    "label": s.label,
                    "intensity_start": round(float(s.intensity_start), 4),
                    "intensity_end": round(float(s.intensity_end), 4),
                    "easing": s.easing,
                    "learned": s.curve is not None,
                }
                for s in self.segments
            ],
            "frames": [
                {
                    "index": i,
                    "time": round(float(t), 6),
                    "phase": phase,
                    "label": label,
                    "intensity": round(float(intensity), 4),
                }
                for i, (t, phase, label, intensity) in enumerate(
                    zip(self.times, self.phases, self.labels, self.intensities, strict=True)
                )
            ],
        }


def _segment_index(segments: Sequence[Segment], times: NDArray[np.float64]) -> NDArray[np.int64]:
    """Index of the segment holding each time (a boundary belongs to the later segment)."""
    starts = np.array([s.start for s in segments])
    index = np.searchsorted(starts, times + 1e-9, side="right") - 1
    return np.clip(index, 0, len(segments) - 1).astype(np.int64)


def _progress(segment: Segment, times: NDArray[np.float64]) -> NDArray[np.float64]:
    """Eased progress (M,) of ``times`` through ``segment``."""
    if segment.duration <= 0:
        return np.ones_like(times)
    u = (times - segment.start) / segment.duration
    return ease(segment.easing, u)


def _lerp(
    a: NDArray[np.float32], b: NDArray[np.float32], s: NDArray[np.float64]
) -> NDArray[np.float32]:
    """(M, D) rows ``a + (b - a) * s``."""
    return (a[None, :] + (b - a)[None, :] * s[:, None]).astype(np.float32)
