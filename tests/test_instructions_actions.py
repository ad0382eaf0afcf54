"""engines.instructions.actions and the planner's facial actions ("wink", "close your eyes")."""

from __future__ import annotations

import numpy as np
import pytest

from engines.face_model import EXPRESSION_NAMES
from engines.instructions.actions import ACTIONS, apply_action, find_actions


def _names(text: str) -> list[tuple[str, bool]]:
    return [(m.action.name, m.joined) for m in find_actions(text)]


def test_actions_are_found_in_order_with_their_links() -> None:
    assert _names("wink") == [("wink", False)]
    assert _names("smile and wink") == [("wink", True)]
    assert _names("close your eyes, then raise her eyebrows") == [
        ("close_eyes", False),
        ("raise_eyebrows", False),
    ]
    assert _names("wink your right eye") == [("wink_right", False)]  # the longest phrase wins
    assert _names("puff out the cheeks while you look left") == [
        ("puff_cheeks", False),
        ("look_left", False),
    ]


def test_a_look_goes_on_without_repeating_the_verb() -> None:
    """ "look up, then down" looks down (was: "down" read as the sad word)."""
    assert _names("look up, then down") == [("look_up", False), ("look_down", False)]
    assert _names("look left and right") == [("look_left", False), ("look_right", False)]
    assert _names("look up then down then to the left") == [
        ("look_up", False), ("look_down", False), ("look_left", False)]  # fmt: skip
    assert _names("look up in surprise") == []  # an emotion phrase, as before
    assert _names("smile, then down") == []  # no look before it


def test_sleepy_droops_the_lids_without_shutting_them() -> None:
    (mention,) = find_actions("look sleepy")
    blink = mention.action.shapes["eyeBlink_L"]
    assert 0.2 < blink < 0.5 and mention.action.pose_degrees[0] > 0  # the head sinks a little
    assert [m.action.name for m in find_actions("I am so tired of this, look angry")] == []


def test_intensity_words_next_to_an_action_scale_it() -> None:
    def intensities(text: str) -> list[float]:
        return [m.intensity for m in find_actions(text)]

    assert intensities("slightly open your mouth") == [0.3]
    assert intensities("open your mouth a little") == [0.4]
    assert intensities("open your mouth, slightly sad") == [1.0]  # the comma: not the mouth's
    assert intensities("wink") == [1.0]


def test_no_action_inside_emotion_phrases_or_negations() -> None:
    assert _names("look up in surprise") == []  # a lexicon phrase of surprise
    assert _names("look down on someone") == []  # contempt
    assert _names("don't wink") == [] and _names("never close your eyes") == []
    assert _names("the winkle is blinky") == []
    # an emotion word inside the action's own phrase is the action's ("down" is sad)
    assert _names("look down") == [("look_down", False)]


def test_motions_the_avatar_cannot_do_are_recognised_as_such() -> None:
    found = find_actions("shake your head, nod, then stick out your tongue")
    assert [m.action.name for m in found] == ["shake_head", "nod", "tongue"]
    assert all(m.action.unsupported for m in found)
    assert not any(a.unsupported for a in ACTIONS if a.shapes or any(a.pose_degrees))


def test_every_action_drives_real_ict_shapes() -> None:
    neutral = np.zeros(len(EXPRESSION_NAMES), np.float32)
    for action in (a for a in ACTIONS if not a.unsupported):
        assert set(action.shapes) <= set(EXPRESSION_NAMES), action.name
        face = apply_action(neutral, action, EXPRESSION_NAMES)
        assert face.dtype == np.float32 and face.min() >= 0.0 and face.max() <= 1.0
        assert face.any() or any(action.pose_degrees), action.name


def test_apply_action_keeps_the_base_face() -> None:
    names = EXPRESSION_NAMES
    base = np.zeros(len(names), np.float32)
    base[names.index("mouthSmile_L")] = 0.8
    base[names.index("eyeWide_L")] = 0.5
    wink = next(a for a in ACTIONS if a.name == "wink")
    face = apply_action(base, wink, names)
    assert face[names.index("eyeBlink_L")] == 1.0 and face[names.index("eyeBlink_R")] == 0.0
    assert face[names.index("mouthSmile_L")] == pytest.approx(0.8)  # max, never lower
    assert face[names.index("eyeWide_L")] == 0.0  # a shut lid is not wide open
    assert base[names.index("eyeBlink_L")] == 0.0  # the caller's array is untouched


@pytest.fixture(scope="module")
def planner():  # type: ignore[no-untyped-def]
    from engines.i2fet import CHECKPOINT_DIR, InstructionPlanner

    if not (CHECKPOINT_DIR / "i2fet.pt").is_file():
        pytest.skip("no committed I2FET checkpoint")
    return InstructionPlanner.load()


def _shape(anchor, name: str) -> float:  # type: ignore[no-untyped-def]
    return float(anchor.expression[EXPRESSION_NAMES.index(name)])


def test_planner_plans_actions_alone_and_with_emotions(planner) -> None:  # type: ignore[no-untyped-def]
    wink = planner.plan("wink")
    assert wink.understood == ("wink",) and len(wink.anchors) == 1
    assert _shape(wink.anchors[0], "eyeBlink_L") == 1.0
    assert _shape(wink.anchors[0], "eyeBlink_R") < 0.2
    both = planner.plan("smile and wink")
    assert both.understood == ("happiness + wink",)
    assert _shape(both.anchors[0], "mouthSmile_L") > 0.5
    assert _shape(both.anchors[0], "eyeBlink_L") == 1.0
    assert planner.plan("wink and smile").understood == ("happiness + wink",)
    chain = planner.plan("close your eyes, then look surprised, then raise your eyebrows")
    assert chain.understood == ("close_eyes", "surprise", "raise_eyebrows")
    assert planner.plan("raise your eyebrows in surprise").understood == (
        "surprise + raise_eyebrows",
    )
    small = planner.plan("slightly open your mouth").anchors[0]
    assert small.intensity == pytest.approx(0.3)
    assert 0.1 < _shape(small, "jawOpen") < 0.4  # 0.3 of the way to the action's 0.7
    left = planner.plan("look left")
    assert left.anchors[0].pose[1] > np.radians(8)  # the head turns too
    assert planner.plan("look up in surprise").understood == ("surprise",)
    assert planner.plan("look up, then down").understood == ("look_up", "look_down")
    assert planner.plan("look sleepy").understood == ("sleepy",)
    assert planner.plan("look down, then smile").understood == ("look_down", "happiness")


def test_planner_actions_keep_unknown_words_and_refusals(planner) -> None:  # type: ignore[no-untyped-def]
    from engines.i2fet import InstructionNotUnderstoodError

    plan = planner.plan("wink at the blorf")
    assert plan.understood == ("wink",) and "blorf" in plan.unknown_words
    for text in ("stick out your tongue", "shake your head", "nod"):
        with pytest.raises(InstructionNotUnderstoodError) as info:
            planner.plan(text)  # "shake" alone read as excitement through WordNet before
        assert info.value.unknown_words == (text,)
    nodding = planner.plan("smile and nod")
    assert nodding.understood == ("happiness",) and nodding.unknown_words == ("nod",)


def test_an_action_animates_and_ends_held(planner) -> None:  # type: ignore[no-untyped-def]
    from engines.transition import build_timeline

    plan = planner.plan("smile, then wink")
    timeline = build_timeline(plan, plan.neutral_expression, plan.neutral_pose)
    last = timeline.state_at(timeline.duration)
    assert last.label == "wink"
    assert last.expression[EXPRESSION_NAMES.index("eyeBlink_L")] > 0.9


def test_lexicon_planner_reads_actions_the_same_way() -> None:
    from engines.instructions.planner import LexiconPlanner

    planner = LexiconPlanner()
    assert planner.plan("smile and wink").understood == ("happiness + wink",)
    chain = planner.plan("close your eyes, then look surprised")
    assert chain.understood == ("close_eyes", "surprise")
    assert _shape(chain.anchors[0], "eyeBlink_R") == 1.0
    plan = planner.plan("wink at the blorf")
    assert plan.understood == ("wink",) and plan.unknown_words == ("blorf",)
