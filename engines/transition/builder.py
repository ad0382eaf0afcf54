"""From a plan (anchors in order) and the current face to a :class:`Timeline`.

The trajectory starts at the current state, eases into each anchor (onset), holds its apex,
and between two chained emotions relaxes to the subject's neutral face (offset), holds it
briefly (neutral) and eases into the next emotion: A -> neutral -> B, the paper's NED
midpoint (``TransitionConfig.neutral_midpoints=False`` goes straight from A to B). The last
anchor is held (``hold``) and stays held after the end. A "neutral" anchor is reached by an
offset and held as "neutral".
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict

import numpy as np
from numpy.typing import NDArray

from engines.transition.config import TransitionConfig
from engines.transition.exceptions import TransitionError
from engines.transition.plan import AnchorLike, PlanLike, WindowDynamics
from engines.transition.timeline import Phase, Segment, Timeline
from engines.transition.timing import offset_factor, onset_factor

__all__ = ["build_timeline", "build_timeline_from_anchors"]

logger = logging.getLogger(__name__)

NEUTRAL = "neutral"


def build_timeline(
    plan: PlanLike,
    start_expression: NDArray[np.floating],
    start_pose: NDArray[np.floating],
    config: TransitionConfig | None = None,
    dynamics: WindowDynamics | None = None,
) -> Timeline:
    """Per-frame coefficients realising ``plan`` from the current state.

    Args:
        plan: anchors in order plus the subject's neutral face (``engines.i2fet.Plan``).
        start_expression: (E,) the face now (the trajectory's first frame).
        start_pose: (3,) the head-rotation offset now.
        config: timing, easing, midpoint and dynamics options.
        dynamics: the model ``config.dynamics == "learned"`` needs
            (``engines.dynamics.LearnedDynamics``); ignored for eased dynamics.
    Returns:
        the timeline; ``timeline.state_at(t)`` for any ``t``, frames at ``config.fps``.
    Raises:
        TransitionError: no anchors, arrays of mismatched or non-finite shapes, or learned
            dynamics without a model.
    """
    return build_timeline_from_anchors(
        plan.anchors,
        neutral_expression=plan.neutral_expression,
        neutral_pose=plan.neutral_pose,
        start_expression=start_expression,
        start_pose=start_pose,
        config=config,
        text=getattr(plan, "text", ""),
        dynamics=dynamics,
    )


def build_timeline_from_anchors(
    anchors: Sequence[AnchorLike],
    *,
    neutral_expression: NDArray[np.floating],
    neutral_pose: NDArray[np.floating],
    start_expression: NDArray[np.floating],
    start_pose: NDArray[np.floating],
    config: TransitionConfig | None = None,
    text: str = "",
    dynamics: WindowDynamics | None = None,
) -> Timeline:
    """:func:`build_timeline` on the parts of a plan (see there)."""
    config = config or TransitionConfig()
    if config.dynamics == "learned" and dynamics is None:
        raise TransitionError(
            "learned dynamics need the dynamics model (engines.dynamics.LearnedDynamics)"
        )
    if len(anchors) == 0:
        raise TransitionError("the plan has no anchors: nothing to animate")
    start_e = _vector(start_expression, "start_expression")
    dim = start_e.shape[0]
    start_p = _vector(start_pose, "start_pose", 3)
    neutral_e = _vector(neutral_expression, "neutral_expression", dim)
    neutral_p = _vector(neutral_pose, "neutral_pose", 3)
    targets = [
        (
            str(a.label),
            float(np.clip(float(a.intensity), 0.0, 1.0)),
            _vector(a.expression, f"anchors[{i}].expression", dim),
            _vector(a.pose, f"anchors[{i}].pose", 3),
        )
        for i, a in enumerate(anchors)
    ]

    speed = config.speed * (_text_speed(text) if config.speed_from_text else 1.0)
    onset_s, offset_s = config.onset_s * speed, config.offset_s * speed
    builder = _SegmentList(config, start_e, start_p)
    previous_label: str | None = None
    for k, (label, intensity, expression, pose) in enumerate(targets):
        last = k == len(targets) - 1
        if label == NEUTRAL:
            builder.move(
                "offset", previous_label or NEUTRAL, expression, pose, intensity_end=0.0,
                duration=offset_s * _offset_factor(config, previous_label),
            )  # fmt: skip
            if not last:
                builder.hold("neutral", NEUTRAL, config.neutral_hold_s)
        else:
            if (
                config.neutral_midpoints
                and previous_label is not None
                and previous_label != NEUTRAL
            ):
                builder.move(
                    "offset", previous_label, neutral_e, neutral_p, 0.0,
                    offset_s * _offset_factor(config, previous_label),
                )  # fmt: skip
                builder.hold("neutral", NEUTRAL, config.neutral_hold_s)
            onset = onset_s * (onset_factor(label) if config.emotion_timing else 1.0)
            builder.move("onset", label, expression, pose, intensity, onset, from_zero=True)
            if not last:
                builder.hold("apex", label, config.apex_hold_s)
        previous_label = label
    final_label = targets[-1][0]
    builder.hold("hold", final_label, config.final_hold_s, force=True)
    meta = {
        "config": asdict(config),
        "speed_factor": round(speed, 4),
        "anchors": [
            {"label": label, "intensity": round(intensity, 4)} for label, intensity, _, _ in targets
        ],
    }
    segments = builder.segments
    if config.dynamics == "learned" and dynamics is not None:
        from engines.transition.learned import apply_learned_dynamics

        segments, summary = apply_learned_dynamics(segments, dynamics, config.fps)
        meta["dynamics"] = {"kind": "learned", **summary}
    else:
        meta["dynamics"] = {"kind": "eased"}
    return Timeline.from_segments(segments, config.fps, text=text, meta=meta)


def _offset_factor(config: TransitionConfig, label: str | None) -> float:
    return offset_factor(label) if config.emotion_timing and label else 1.0


def _text_speed(text: str) -> float:
    """Duration factor of the speed words in ``text`` (1.0 if none), clipped to [0.25, 4]."""
    if not text:
        return 1.0
    from engines.instructions.analysis import analyze_text

    return float(np.clip(analyze_text(text).speed_factor, 0.25, 4.0))


class _SegmentList:
    """Appends segments that continue from the current end state."""

    def __init__(
        self, config: TransitionConfig, expression: NDArray[np.float32], pose: NDArray[np.float32]
    ):
        self.config = config
        self.segments: list[Segment] = []
        self.time = 0.0
        self.expression = expression
        self.pose = pose
        self.intensity = 0.0
        self.moved = False  # the first movement leaves the current face (start_easing)

    def move(
        self,
        phase: Phase,
        label: str,
        expression: NDArray[np.float32],
        pose: NDArray[np.float32],
        intensity_end: float,
        duration: float,
        *,
        from_zero: bool = False,
    ) -> None:
        start_intensity = 0.0 if from_zero else self.intensity
        easing = self.config.easing
        if not self.moved and self.config.start_easing is not None:
            easing = self.config.start_easing
        self.moved = True
        self.segments.append(
            Segment(
                self.time, self.time + duration, phase, label, self.expression, expression,
                self.pose, pose, start_intensity, intensity_end, easing,
            )
        )  # fmt: skip
        self.time += duration
        self.expression, self.pose, self.intensity = expression, pose, intensity_end

    def hold(self, phase: Phase, label: str, duration: float, *, force: bool = False) -> None:
        if duration <= 0 and not force:
            return
        duration = max(duration, 1e-3)
        self.segments.append(
            Segment(
                self.time, self.time + duration, phase, label, self.expression, self.expression,
                self.pose, self.pose, self.intensity, self.intensity, self.config.easing,
            )
        )  # fmt: skip
        self.time += duration


def _vector(value: NDArray[np.floating], name: str, size: int | None = None) -> NDArray[np.float32]:
    array = np.asarray(value, dtype=np.float32)
    if array.ndim != 1 or (size is not None and array.shape[0] != size):
        expected = f"({size},)" if size is not None else "a 1-D vector"
        raise TransitionError(f"{name} must be {expected}, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise TransitionError(f"{name} contains NaN or infinite values")
    return array
