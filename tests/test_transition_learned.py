"""engines.transition with learned dynamics: emotion windows from a dynamics model, composed
with the plan (a fake model here; the trained one in tests/test_dynamics_cli.py)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from engines.face_model.ict import EXPRESSION_NAMES
from engines.instructions import emotion_prototype
from engines.transition import TransitionConfig, TransitionError, build_timeline, ease
from tests.test_transition_timeline import START_E, START_P, E, make_plan

BROW = EXPRESSION_NAMES.index("browInnerUp_L")
JAW = EXPRESSION_NAMES.index("jawOpen")


@dataclass
class _Curve:
    times: np.ndarray
    values: np.ndarray

    @property
    def apex(self) -> np.ndarray:
        return self.values[-1] if self.hold_end is None else self.values[self.hold_end]

    hold_end: int | None = None

    def at(self, times: np.ndarray) -> np.ndarray:
        return np.stack([np.interp(times, self.times, self.values[:, e]) for e in range(E)], 1)


class FakeDynamics:
    """Brows reach their apex in the first half of the onset, the jaw in the second half;
    knows the basic emotions only."""

    fps = 25.0

    def __init__(self) -> None:
        self.calls: list[tuple[str, float, float, float, float | None]] = []

    def supports(self, label: str) -> bool:
        return label in ("happiness", "surprise", "anger", "sadness")

    def intensity_of(self, label: str, apex_expression: np.ndarray) -> float:
        prototype = emotion_prototype(label, EXPRESSION_NAMES)
        return float(np.abs(apex_expression).sum() / prototype.sum())

    def curve(self, label, intensity, onset_s, hold_s, offset_s):
        self.calls.append((label, intensity, onset_s, hold_s, offset_s))
        end = onset_s + hold_s + (offset_s or 0.0)
        t = np.arange(int(np.ceil(end * self.fps)) + 1) / self.fps
        early = ease("minjerk", t / (0.5 * onset_s))
        late = ease("minjerk", (t - 0.5 * onset_s) / (0.5 * onset_s))
        if offset_s is not None:
            fall = 1.0 - ease("minjerk", (t - onset_s - hold_s) / offset_s)
            early, late = early * fall, late * fall
        profile = np.tile(late[:, None], (1, E))
        profile[:, BROW] = early
        values = (intensity * emotion_prototype(label, EXPRESSION_NAMES))[None, :] * profile
        apex_index = round((onset_s + 0.5 * hold_s) * self.fps)
        return _Curve(t, values.astype(np.float32), min(apex_index, len(t) - 1))


def _half_time(values: np.ndarray, times: np.ndarray, start: float) -> float:
    target = start + 0.5 * (values.max() - start)
    return float(times[np.argmax(values >= target)])


def test_learned_windows_keep_the_plan_and_stagger_the_shapes() -> None:
    plan = make_plan("surprise", "anger")
    dynamics = FakeDynamics()
    config = TransitionConfig(dynamics="learned")
    learned = build_timeline(plan, START_E, START_P, config, dynamics=dynamics)
    eased = build_timeline(plan, START_E, START_P, TransitionConfig())
    assert learned.duration == eased.duration and learned.num_frames == eased.num_frames
    assert learned.meta["dynamics"]["kind"] == "learned"
    assert [w["label"] for w in learned.meta["dynamics"]["windows"]] == ["surprise", "anger"]
    assert eased.meta["dynamics"] == {"kind": "eased"}
    # onset + apex hold + offset of surprise; onset + final hold of anger (no offset)
    assert dynamics.calls[0][4] is not None and dynamics.calls[1][4] is None
    learned_phases = [(s.phase, s.curve is not None) for s in learned.segments]
    assert ("neutral", False) in learned_phases and ("onset", True) in learned_phases
    # starts at the current face, holds the planner's apex, ends at the last anchor
    assert np.allclose(learned.expressions[0], START_E, atol=1e-6)
    apex_end = next(s for s in learned.segments if s.phase == "apex")
    apex = learned.state_at(0.5 * (apex_end.start + apex_end.end)).expression
    assert np.allclose(apex, plan.anchors[0].expression, atol=0.02)
    assert np.allclose(learned.expressions[-1], plan.anchors[1].expression, atol=0.02)
    neutral = next(s for s in learned.segments if s.phase == "neutral")
    assert np.allclose(learned.state_at(neutral.start + 0.01).expression,
                       plan.neutral_expression, atol=1e-5)  # fmt: skip
    assert np.abs(np.diff(learned.expressions, axis=0)).max() < 0.35  # continuous
    # the model's stagger survives: the brows lead the jaw in the learned onset only
    onset = learned.segments[0]
    window = (learned.times >= onset.start) & (learned.times <= onset.end)
    times = learned.times[window]
    for timeline, lead in ((learned, True), (eased, False)):
        brow = _half_time(timeline.expressions[window, BROW], times, START_E[BROW])
        jaw = _half_time(timeline.expressions[window, JAW], times, START_E[JAW])
        assert (brow < jaw - 0.05) if lead else abs(brow - jaw) < 1e-9


def test_learned_state_at_matches_frames_and_json_marks_learned_segments() -> None:
    config = TransitionConfig(dynamics="learned")
    timeline = build_timeline(make_plan("happiness"), START_E, START_P, config,
                              dynamics=FakeDynamics())  # fmt: skip
    for k in range(0, timeline.num_frames, 7):
        state = timeline.state_at(float(timeline.times[k]))
        assert np.allclose(state.expression, timeline.expressions[k], atol=1e-5)
    sidecar = timeline.to_json()
    assert any(s["learned"] for s in sidecar["segments"])
    assert sidecar["meta"]["dynamics"]["kind"] == "learned"


def test_labels_the_model_does_not_know_stay_eased() -> None:
    plan = make_plan("happily_surprised", "happiness")
    timeline = build_timeline(plan, START_E, START_P, TransitionConfig(dynamics="learned"),
                              dynamics=FakeDynamics())  # fmt: skip
    assert timeline.meta["dynamics"]["eased_labels"] == ["happily_surprised"]
    first = timeline.segments[0]
    assert first.label == "happily_surprised" and first.curve is None


def test_learned_dynamics_need_a_model() -> None:
    with pytest.raises(TransitionError, match="dynamics model"):
        build_timeline(make_plan("anger"), START_E, START_P, TransitionConfig(dynamics="learned"))
    with pytest.raises(ValueError, match="dynamics must be"):
        TransitionConfig(dynamics="wobbly")
