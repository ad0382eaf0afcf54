"""engines.transition: trajectories from plans, easing, phases, midpoints and idle motion."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pytest

import engines.transition as transition
from engines.face_model.ict import EXPRESSION_NAMES
from engines.instructions import emotion_pose_prior, emotion_prototype
from engines.transition import (
    EASINGS,
    IdleMotion,
    TransitionConfig,
    TransitionError,
    build_timeline,
    ease,
)

E = len(EXPRESSION_NAMES)
BLINK = [EXPRESSION_NAMES.index("eyeBlink_L"), EXPRESSION_NAMES.index("eyeBlink_R")]


@dataclass
class FakeAnchor:
    label: str
    intensity: float
    expression: np.ndarray
    pose: np.ndarray


@dataclass
class FakePlan:
    text: str
    anchors: tuple[FakeAnchor, ...]
    neutral_expression: np.ndarray = field(default_factory=lambda: np.full(E, 0.02, np.float32))
    neutral_pose: np.ndarray = field(default_factory=lambda: np.zeros(3, np.float32))


def make_plan(*labels: str, intensity: float = 0.8) -> FakePlan:
    anchors = []
    for label in labels:
        if label == "neutral":
            anchors.append(
                FakeAnchor(label, 0.0, np.full(E, 0.02, np.float32), np.zeros(3, np.float32))
            )
        else:
            expression = 0.02 + intensity * emotion_prototype(label, EXPRESSION_NAMES)
            anchors.append(
                FakeAnchor(
                    label, intensity, expression.astype(np.float32), emotion_pose_prior(label)
                )
            )
    return FakePlan(" then ".join(labels), tuple(anchors))


START_E = (0.3 * emotion_prototype("sadness", EXPRESSION_NAMES)).astype(np.float32)
START_P = np.array([0.05, -0.03, 0.01], np.float32)


def test_public_api_is_pinned() -> None:
    for name in transition.__all__:
        assert hasattr(transition, name), name
    assert {"build_timeline", "IdleMotion", "Timeline", "TransitionConfig"} <= set(
        transition.__all__
    )


@pytest.mark.parametrize("name", list(EASINGS))
def test_easings_are_monotone_from_0_to_1(name: str) -> None:
    u = np.linspace(0, 1, 101)
    s = ease(name, u)
    assert s[0] == pytest.approx(0) and s[-1] == pytest.approx(1)
    assert np.all(np.diff(s) >= -1e-12)
    with pytest.raises(ValueError, match="valid"):
        ease("bouncy", u)


def test_minjerk_has_zero_end_velocity() -> None:
    h = 1e-4
    assert float(ease("minjerk", h)) / h < 1e-6
    assert float(ease("linear", h)) / h == pytest.approx(1)


@pytest.mark.parametrize("easing", list(EASINGS))
@pytest.mark.parametrize("midpoints", [True, False])
def test_trajectory_starts_at_current_state_passes_anchors_and_never_jumps(
    easing: str, midpoints: bool
) -> None:
    config = TransitionConfig(easing=easing, neutral_midpoints=midpoints)
    plan = make_plan("surprise", "anger", "happiness")
    timeline = build_timeline(plan, START_E, START_P, config)
    np.testing.assert_allclose(timeline.expressions[0], START_E, atol=1e-6)
    np.testing.assert_allclose(timeline.poses[0], START_P, atol=1e-6)
    for anchor in plan.anchors:  # every anchor is reached and held for whole frames
        reached = np.all(np.isclose(timeline.expressions, anchor.expression, atol=1e-5), axis=1)
        assert reached.sum() >= config.apex_hold_s * config.fps - 1, anchor.label
    # ends holding the last emotion, and after the end it stays there
    np.testing.assert_allclose(timeline.expressions[-1], plan.anchors[-1].expression, atol=1e-6)
    later = timeline.state_at(timeline.duration + 100.0)
    np.testing.assert_allclose(later.expression, plan.anchors[-1].expression, atol=1e-6)
    assert (later.phase, later.label) == ("hold", "happiness")
    # continuity: no frame-to-frame jump larger than a smooth transition allows
    steps = np.abs(np.diff(timeline.expressions, axis=0)).max()
    shortest = min(s.duration for s in timeline.segments if s.phase in ("onset", "offset"))
    assert shortest >= 0.5 * config.onset_s
    limit = 1.9 / (shortest * config.fps) + 1e-3  # minjerk peak velocity 1.875
    assert steps <= limit
    assert np.abs(np.diff(timeline.poses, axis=0)).max() <= limit


def test_phases_labels_and_neutral_midpoints() -> None:
    plan = make_plan("surprise", "anger")
    timeline = build_timeline(plan, START_E, START_P, TransitionConfig())
    phases = [(s.phase, s.label) for s in timeline.segments]
    assert phases == [
        ("onset", "surprise"), ("apex", "surprise"), ("offset", "surprise"),
        ("neutral", "neutral"), ("onset", "anger"), ("hold", "anger"),
    ]  # fmt: skip
    neutral_frames = [i for i, p in enumerate(timeline.phases) if p == "neutral"]
    assert neutral_frames
    for i in neutral_frames:  # the NED midpoint is the plan's neutral face
        np.testing.assert_allclose(timeline.expressions[i], plan.neutral_expression, atol=1e-6)
        assert timeline.intensities[i] == 0
    apex = [i for i, p in enumerate(timeline.phases) if p == "apex"]
    assert np.allclose(timeline.intensities[apex], 0.8)
    direct = build_timeline(plan, START_E, START_P, TransitionConfig(neutral_midpoints=False))
    assert "neutral" not in direct.phases
    assert direct.duration < timeline.duration


def test_single_target_and_neutral_target() -> None:
    timeline = build_timeline(make_plan("happiness"), START_E, START_P)
    assert [s.phase for s in timeline.segments] == ["onset", "hold"]
    calm = build_timeline(make_plan("neutral"), START_E, START_P)
    assert [s.phase for s in calm.segments] == ["offset", "hold"]
    np.testing.assert_allclose(calm.expressions[-1], 0.02, atol=1e-6)
    # no midpoint inserted next to a neutral anchor
    chain = build_timeline(make_plan("anger", "neutral", "happiness"), START_E, START_P)
    assert [s.phase for s in chain.segments] == [
        "onset",
        "apex",
        "offset",
        "neutral",
        "onset",
        "hold",
    ]


def test_state_at_matches_frames_and_clamps() -> None:
    timeline = build_timeline(make_plan("fear", "disgust"), START_E, START_P)
    for i in (0, 7, 31, timeline.num_frames - 1):
        state = timeline.state_at(float(timeline.times[i]))
        np.testing.assert_allclose(state.expression, timeline.expressions[i], atol=1e-6)
        assert state.phase == timeline.phases[i] and state.label == timeline.labels[i]
    np.testing.assert_allclose(timeline.state_at(-5).expression, START_E, atol=1e-6)
    assert timeline.state_at(float("inf")).phase == "hold"
    assert timeline.state_at(float("nan")).phase in ("onset", "hold")


def test_timing_follows_config() -> None:
    config = TransitionConfig(
        fps=24,
        onset_s=0.4,
        apex_hold_s=0.5,
        offset_s=0.3,
        neutral_hold_s=0.2,
        final_hold_s=1.0,
        emotion_timing=False,
    )
    timeline = build_timeline(make_plan("surprise", "anger"), START_E, START_P, config)
    assert timeline.duration == pytest.approx(0.4 + 0.5 + 0.3 + 0.2 + 0.4 + 1.0)
    assert timeline.num_frames == int(timeline.duration * 24 + 1e-6) + 1
    np.testing.assert_allclose(np.diff(timeline.times), 1 / 24)


def test_to_json_is_the_sidecar() -> None:
    timeline = build_timeline(make_plan("surprise", "happiness"), START_E, START_P)
    data = json.loads(json.dumps(timeline.to_json()))
    assert data["num_frames"] == timeline.num_frames == len(data["frames"])
    frame = data["frames"][40]
    assert set(frame) == {"index", "time", "phase", "label", "intensity"}
    assert data["frames"][-1]["label"] == "happiness" and data["frames"][-1]["phase"] == "hold"
    assert data["text"] == "surprise then happiness"


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(TransitionError, match="no anchors"):
        build_timeline(FakePlan("x", ()), START_E, START_P)
    with pytest.raises(TransitionError, match="start_pose"):
        build_timeline(make_plan("anger"), START_E, np.zeros(2))
    bad = make_plan("anger")
    bad.anchors[0].expression = np.full(E, np.nan, np.float32)
    with pytest.raises(TransitionError, match="NaN"):
        build_timeline(bad, START_E, START_P)
    with pytest.raises(TransitionError, match=r"neutral_expression must be \(53,\)"):
        build_timeline(
            FakePlan("x", make_plan("anger").anchors, np.zeros(10, np.float32)), START_E, START_P
        )
    for kwargs in ({"fps": 0}, {"onset_s": 0}, {"easing": "bouncy"}, {"blink_rate_hz": -1}):
        with pytest.raises(ValueError):
            TransitionConfig(**kwargs)


def test_idle_motion_blinks_and_sways_deterministically() -> None:
    config = TransitionConfig(seed=5)
    idle = IdleMotion(config)
    times = np.arange(0, 60, 1 / 30)
    blink = idle.blink_amount(times)
    closed = blink > 0.9
    starts = np.flatnonzero(closed[1:] & ~closed[:-1])
    assert 8 <= len(starts) <= 25  # ~15 blinks a minute
    assert np.diff(times[starts]).min() >= config.min_blink_interval_s - 0.2
    head = idle.head_offset(times)
    assert 0 < np.abs(head).max() <= 2 * config.idle_head_amplitude_rad
    # pure in t: same answer in any order, and from another instance with the same seed
    again = IdleMotion(config).blink_amount(times[::-1])[::-1]
    np.testing.assert_array_equal(blink, again)
    other = IdleMotion(config, seed=6).blink_amount(times)
    assert not np.array_equal(blink, other)
    expression, pose = idle.apply(float(times[np.argmax(blink)]), np.zeros(E), np.zeros(3))
    assert expression[BLINK].min() > 0.9 and np.abs(pose).max() > 0
    assert expression.dtype == np.float32


def test_idle_frames_stay_smooth_and_in_range() -> None:
    timeline = build_timeline(make_plan("surprise", "anger"), START_E, START_P)
    expressions, poses = timeline.frames(IdleMotion(TransitionConfig(blink_rate_hz=1.0)))
    assert expressions.shape == timeline.expressions.shape
    assert expressions.min() >= 0 and expressions.max() <= 1
    wide = [EXPRESSION_NAMES.index("eyeWide_L"), EXPRESSION_NAMES.index("eyeWide_R")]
    # a blink takes >= 3 frames to close: no single-frame jump of the lid
    assert np.abs(np.diff(expressions[:, BLINK], axis=0)).max() < 0.6
    untouched = np.delete(np.arange(E), BLINK + wide)
    np.testing.assert_allclose(expressions[:, untouched], timeline.expressions[:, untouched])
    assert np.abs(np.diff(poses, axis=0)).max() < 0.05
    no_blinks = IdleMotion(TransitionConfig(blink_rate_hz=0.0))
    assert not no_blinks.blink_amount(np.arange(0, 30, 0.1)).any()


def test_speed_words_in_the_text_scale_the_transitions() -> None:
    plan = make_plan("happiness")
    normal = build_timeline(plan, START_E, START_P)
    plan.text = "slowly smile"
    slow = build_timeline(plan, START_E, START_P)
    plan.text = "suddenly smile"
    sudden = build_timeline(plan, START_E, START_P)
    onset = [t.segments[0].duration for t in (sudden, normal, slow)]
    assert onset[0] < onset[1] < onset[2]
    assert onset[2] == pytest.approx(2 * onset[1])
    assert slow.meta["speed_factor"] == pytest.approx(2.0)
    ignored = build_timeline(plan, START_E, START_P, TransitionConfig(speed_from_text=False))
    assert ignored.segments[0].duration == pytest.approx(onset[1])
    faster = build_timeline(
        plan, START_E, START_P, TransitionConfig(speed=0.5, speed_from_text=False)
    )
    assert faster.segments[0].duration == pytest.approx(onset[1] / 2)
    # holds are not scaled; the sudden onset is still smooth (min-jerk over >= 6 frames)
    assert sudden.segments[-1].duration == pytest.approx(normal.segments[-1].duration)


def test_idle_apply_matches_the_batch_path() -> None:
    idle = IdleMotion(TransitionConfig(seed=2, blink_rate_hz=0.8))
    times = np.concatenate([np.arange(-1, 40, 0.0137), [1e4, 123456.789]])
    rng = np.random.default_rng(0)
    expressions = rng.uniform(0, 1, (len(times), E)).astype(np.float32)
    poses = rng.normal(0, 0.1, (len(times), 3)).astype(np.float32)
    batch_e, batch_p = idle.apply_batch(times, expressions, poses)
    for i in range(0, len(times), 7):
        e, p = idle.apply(float(times[i]), expressions[i], poses[i])
        np.testing.assert_allclose(e, batch_e[i], atol=1e-5)
        np.testing.assert_allclose(p, batch_p[i], atol=1e-6)
    with pytest.raises(ValueError, match="expression must be"):
        idle.apply(0.0, np.zeros(10), np.zeros(3))
    e, p = idle.apply(float("nan"), expressions[0], poses[0])
    assert np.all(np.isfinite(e)) and np.all(np.isfinite(p))


def test_emotion_timing_surprise_fast_sadness_slow() -> None:
    surprise = build_timeline(make_plan("surprise"), START_E, START_P)
    happy = build_timeline(make_plan("happiness"), START_E, START_P)
    sad = build_timeline(make_plan("sadness"), START_E, START_P)
    onsets = [t.segments[0].duration for t in (surprise, happy, sad)]
    assert onsets[0] < onsets[1] < onsets[2]
    assert onsets[1] == pytest.approx(TransitionConfig().onset_s)
    plain = build_timeline(
        make_plan("surprise"), START_E, START_P, TransitionConfig(emotion_timing=False)
    )
    assert plain.segments[0].duration == pytest.approx(onsets[1])


def test_responsive_start_moves_on_the_first_frame_and_stays_continuous() -> None:
    u = np.linspace(0.0, 1.0, 1001)
    curve = ease("responsive", u)
    assert curve[0] == 0.0 and abs(curve[-1] - 1.0) < 1e-12
    assert np.all(np.diff(curve) >= 0.0)  # monotonic
    assert abs(np.gradient(curve, u)[-1]) < 1e-2  # lands at rest
    plan = make_plan("happiness", "sadness")
    start = np.zeros(53, np.float32)
    slow = build_timeline(plan, start, np.zeros(3, np.float32), TransitionConfig(fps=30))
    live = build_timeline(
        plan, start, np.zeros(3, np.float32), TransitionConfig(fps=30, start_easing="responsive")
    )
    np.testing.assert_allclose(live.expressions[0], start, atol=1e-6)
    moved_slow = np.abs(slow.expressions[2] - start).max()
    moved_live = np.abs(live.expressions[2] - start).max()
    assert moved_live > 5 * moved_slow  # visible two frames in, where min-jerk barely moved
    steps = np.abs(np.diff(live.expressions, axis=0)).max()
    assert steps < 0.12  # never jumps between frames
    # only the first movement changes: the rest of the chain keeps min-jerk
    assert [s.easing for s in live.segments][1:] == [s.easing for s in slow.segments][1:]
    with pytest.raises(ValueError, match="unknown easing"):
        TransitionConfig(start_easing="bouncy")
