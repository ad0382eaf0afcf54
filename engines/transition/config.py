"""Timing and idle-motion settings of the transition builder."""

from __future__ import annotations

import math
from dataclasses import dataclass

from engines.transition.easing import EASINGS

__all__ = ["DYNAMICS", "TransitionConfig"]

DYNAMICS: tuple[str, ...] = ("eased", "learned")


@dataclass(frozen=True)
class TransitionConfig:
    """How a plan becomes per-frame coefficients.

    Attributes:
        fps: frames per second of the sampled timeline.
        onset_s: seconds to move into an emotion's apex.
        apex_hold_s: seconds an emotion holds its apex before the next one (chains).
        offset_s: seconds to relax from an emotion to neutral.
        neutral_hold_s: seconds a neutral midpoint (or a neutral anchor) is held.
        final_hold_s: seconds the last anchor is held at the end of the timeline (the state
            after the end is the last anchor: the timeline holds it forever).
        neutral_midpoints: pass through the plan's neutral face between two chained emotions
            (A -> neutral -> B, the paper's NED), or go straight from A to B.
        easing: ``minjerk`` (default), ``cosine``, ``cubic``, ``responsive`` or ``linear``
            (the paper's).
        start_easing: easing of the first movement only, the one leaving the current face
            (None: ``easing``). Live streams use ``responsive`` so an instruction shows at once.
        speed_from_text: scale onset / offset durations by the plan text's speed words
            ("slowly" x2, "suddenly" x0.35; see ``engines.instructions.SPEED_WORDS``).
        speed: a further factor on onset / offset durations (> 1 slower).
        emotion_timing: per-emotion onset / offset speed (surprise fast, sadness slow; see
            ``engines.transition.timing``).
        dynamics: ``eased`` (every shape of an emotion starts, peaks and stops together on the
            easing curve) or ``learned`` (each emotion window, onset -> apex -> offset, comes
            from the trained dynamics model: staggered shapes, its own curves; the builder
            then needs the model, see ``engines.dynamics.LearnedDynamics``).
        blink_rate_hz: mean blinks per second of :class:`~engines.transition.IdleMotion`.
        blink_duration_s: duration of one blink (close + open).
        min_blink_interval_s: shortest time between two blinks.
        idle_head_amplitude_rad: amplitude of the idle head motion (radians, ~1 degree).
        seed: seed of the blink schedule and head-motion phases.
    """

    fps: float = 30.0
    onset_s: float = 0.6
    apex_hold_s: float = 1.0
    offset_s: float = 0.5
    neutral_hold_s: float = 0.3
    final_hold_s: float = 1.5
    neutral_midpoints: bool = True
    easing: str = "minjerk"
    start_easing: str | None = None
    speed_from_text: bool = True
    speed: float = 1.0
    emotion_timing: bool = True
    dynamics: str = "eased"
    blink_rate_hz: float = 0.25
    blink_duration_s: float = 0.25
    min_blink_interval_s: float = 1.5
    idle_head_amplitude_rad: float = 0.015
    seed: int = 0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.fps) and 1.0 <= self.fps <= 240.0):
            raise ValueError(f"fps must be in [1, 240], got {self.fps}")
        for name in ("onset_s", "offset_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0.0 < value <= 60.0):
                raise ValueError(f"{name} must be in (0, 60] seconds, got {value}")
        for name in ("apex_hold_s", "neutral_hold_s", "final_hold_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0.0 <= value <= 600.0):
                raise ValueError(f"{name} must be in [0, 600] seconds, got {value}")
        if not (math.isfinite(self.speed) and 0.1 <= self.speed <= 10.0):
            raise ValueError(f"speed must be in [0.1, 10], got {self.speed}")
        for easing in (self.easing, self.start_easing):
            if easing is not None and easing not in EASINGS:
                raise ValueError(f"unknown easing {easing!r}; valid: {', '.join(EASINGS)}")
        if self.dynamics not in DYNAMICS:
            valid = ", ".join(DYNAMICS)
            raise ValueError(f"dynamics must be one of {valid}, got {self.dynamics!r}")
        if not (0.0 <= self.blink_rate_hz <= 2.0):
            raise ValueError(f"blink_rate_hz must be in [0, 2], got {self.blink_rate_hz}")
        if not (0.05 <= self.blink_duration_s <= 1.0):
            raise ValueError(f"blink_duration_s must be in [0.05, 1], got {self.blink_duration_s}")
        if self.min_blink_interval_s < self.blink_duration_s:
            raise ValueError("min_blink_interval_s must be >= blink_duration_s")
        if not (0.0 <= self.idle_head_amplitude_rad <= 0.2):
            raise ValueError(
                f"idle_head_amplitude_rad must be in [0, 0.2], got {self.idle_head_amplitude_rad}"
            )
