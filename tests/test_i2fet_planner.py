"""InstructionPlanner with the committed checkpoints: anchors, order, errors; eval CLI keys."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator

import numpy as np
import pytest

from engines.i2fet import (
    CHECKPOINT_DIR,
    Anchor,
    CheckpointError,
    InstructionError,
    InstructionNotUnderstoodError,
    InstructionPlanner,
    Plan,
    load_classifier,
)

pytestmark = pytest.mark.skipif(
    not (CHECKPOINT_DIR / "i2fet.pt").is_file(), reason="no committed I2FET checkpoint"
)


@pytest.fixture(scope="module")
def planner() -> Iterator[InstructionPlanner]:
    # one torch thread, as the server runs it (InstructionPlanner's docstring): on a busy CPU
    # intra-op threads make a long text's many small runs 100x slower
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield InstructionPlanner.load()
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def judge():
    return load_classifier(CHECKPOINT_DIR / "classifier.pt")


def _judged(judge, plan: Plan) -> list[str]:
    import torch

    expressions = torch.from_numpy(np.stack([a.expression for a in plan.anchors]))
    return [judge.config.labels[int(i)] for i in judge.predict(expressions)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("smile", ("happiness",)),
        ("from anger to joy", ("anger", "happiness")),
        ("look very sad", ("sadness",)),
        ("be surprised, then get disgusted, then calm down", ("surprise", "disgust", "neutral")),
    ],
)
def test_plans_match_the_judge(planner, judge, text: str, expected: tuple[str, ...]) -> None:
    plan = planner.plan(text)
    assert isinstance(plan, Plan) and plan.text == text
    assert plan.understood == expected
    assert all(isinstance(a, Anchor) for a in plan.anchors)
    for anchor in plan.anchors:
        assert anchor.expression.shape == (53,) and anchor.expression.dtype == np.float32
        assert anchor.pose.shape == (3,) and 0.0 <= anchor.intensity <= 1.0
        assert anchor.expression.min() >= 0.0 and anchor.expression.max() <= 1.0
    assert _judged(judge, plan) == list(expected)
    assert plan.neutral_expression.shape == (53,) and plan.neutral_pose.shape == (3,)
    assert {"text", "i2fet", "ned", "total"} <= set(plan.timings_ms)


def test_word_order_changes_the_plan(planner) -> None:
    forward = planner.plan("from anger to joy")
    backward = planner.plan("from joy to anger")
    assert forward.understood == ("anger", "happiness")
    assert backward.understood == ("happiness", "anger")
    assert not np.allclose(forward.anchors[0].expression, backward.anchors[0].expression)


def test_intensity_words_and_scale(planner) -> None:
    weak = planner.plan("look slightly sad")
    strong = planner.plan("look extremely sad")
    assert weak.anchors[0].intensity < strong.anchors[0].intensity
    neutral = strong.neutral_expression
    weak_norm = np.abs(weak.anchors[0].expression - neutral).sum()
    strong_norm = np.abs(strong.anchors[0].expression - neutral).sum()
    assert weak_norm < strong_norm
    half = planner.plan("look extremely sad", intensity_scale=0.5)
    assert np.abs(half.anchors[0].expression - neutral).sum() < strong_norm


def test_a_grounded_word_keeps_its_own_strength(planner) -> None:
    """Grounding masks the word ("annoyed", "angry" and "furious" all read "something ||
    anger" to I2FET); the planner gives each its lexicon intensity back, and a plain word
    is the posed apex (engines/instructions/facs.py)."""
    from engines.face_model.ict import EXPRESSION_NAMES
    from engines.instructions.facs import emotion_prototype

    plans = {w: planner.plan(f"look {w}") for w in ("annoyed", "angry", "furious")}
    assert [plans[w].anchors[0].intensity for w in plans] == pytest.approx([0.45, 0.75, 0.95])
    norms = [
        np.abs(p.anchors[0].expression - p.neutral_expression).sum() for p in plans.values()
    ]
    assert norms[0] < 0.65 * norms[1] < 0.65 * norms[2]
    prototype = emotion_prototype("anger", EXPRESSION_NAMES)
    primary = prototype >= 0.8  # browDown, eyeSquint: 4E, 7D
    angry = plans["angry"].anchors[0].expression
    assert np.abs(angry[primary] - prototype[primary]).max() < 0.15
    # "sad" is the posed apex, not the mean strength of the corpus' sadness words (0.84)
    sad = planner.plan("look sad").anchors[0]
    assert sad.intensity == pytest.approx(0.75)
    prototype = emotion_prototype("sadness", EXPRESSION_NAMES)
    active = prototype > 0.05
    assert np.mean(sad.expression[active] / prototype[active]) < 1.15


def test_lexical_rescale() -> None:
    from engines.i2fet.strength import lexical_rescale

    assert lexical_rescale(0.75, 0.75) == pytest.approx(1.0)
    assert lexical_rescale(0.45, 0.75) == pytest.approx((0.45 / 0.75) ** 1.5, rel=1e-5)
    assert lexical_rescale(1.0, 0.05) == pytest.approx(2.5)  # bounded
    assert lexical_rescale(0.5, 0.0) == 1.0


def test_rescaled_anchor_knows_the_corpus_clips_at_one() -> None:
    """A corpus-like sad anchor drawn at 0.85 (its E shapes clipped at 1) brought back to the
    plain word's 0.75 is the prototype itself: E shapes stay E, the rest scale down."""
    from engines.face_model.ict import EXPRESSION_NAMES
    from engines.i2fet.strength import rescaled_anchor
    from engines.instructions.facs import apex_scale, emotion_prototype

    prototype = emotion_prototype("sadness", EXPRESSION_NAMES)
    neutral = np.zeros_like(prototype)
    generated = np.clip(prototype * apex_scale(0.85), 0, 1).astype(np.float32)
    assert generated.max() == 1.0 and (generated > prototype + 0.05).any()
    back = rescaled_anchor(generated, neutral, "sadness", 0.75, 0.85)
    np.testing.assert_allclose(back, prototype, atol=1e-5)
    # without clipped shapes it is the plain factor, and "slightly" is weaker than the apex
    weak = rescaled_anchor(prototype * 0.5, neutral, "sadness", 0.45, 0.75)
    np.testing.assert_allclose(weak, prototype * 0.5 * (0.45 / 0.75) ** 1.5, atol=1e-5)


def test_contempt_is_one_sided(planner) -> None:
    """R12 + R14 on one side at the prototype's strength, not both sides at half (the mean
    of the corpus' random sides)."""
    from engines.face_model.ict import EXPRESSION_NAMES

    expression = planner.plan("look contemptuous").anchors[0].expression
    dimple = [expression[EXPRESSION_NAMES.index(f"mouthDimple_{s}")] for s in "LR"]
    assert max(dimple) > 0.65 and min(dimple) < 0.1
    # a symmetric emotion is left as it is
    from engines.i2fet.strength import one_sided_anchor

    smile = planner.plan("smile").anchors[0].expression
    np.testing.assert_array_equal(one_sided_anchor(smile, np.zeros_like(smile), "happiness"),
                                  smile)  # fmt: skip


def test_sampling_is_seeded(planner) -> None:
    a = planner.plan("smile", seed=1)
    b = planner.plan("smile", seed=1)
    c = planner.plan("smile", seed=2)
    assert np.array_equal(a.anchors[0].expression, b.anchors[0].expression)
    assert not np.array_equal(a.anchors[0].expression, c.anchors[0].expression)


@pytest.mark.parametrize("text", ["what is the weather like today", "", "   ", "12345 ?!"])
def test_not_understood(planner, text: str) -> None:
    with pytest.raises(InstructionNotUnderstoodError) as info:
        planner.plan(text)
    assert info.value.examples and "try e.g." in str(info.value)
    assert info.value.understood == ()


def test_unknown_words_are_fine_with_an_emotion(planner) -> None:
    plan = planner.plan("blorf, look angry")
    assert plan.understood == ("anger",)
    assert "blorf" in plan.unknown_words


def test_bad_arguments(planner) -> None:
    with pytest.raises(InstructionError):
        planner.plan(42)  # type: ignore[arg-type]
    with pytest.raises(InstructionError, match="too long"):
        planner.plan("smile " * 200)
    with pytest.raises(InstructionError, match="53"):
        planner.plan("smile", current_expression=np.zeros(7))
    with pytest.raises(InstructionError, match="NaN"):
        planner.plan("smile", current_pose=np.array([np.nan, 0, 0]))
    with pytest.raises(InstructionError, match="intensity_scale"):
        planner.plan("smile", intensity_scale=-1)
    with pytest.raises(CheckpointError, match="not found"):
        InstructionPlanner.load("/nonexistent/dir")


def test_eval_cli_prints_the_keys(capsys) -> None:
    from server.cli.main import main

    assert main(["eval", "i2fet", "--json", "--eval-size", "60"]) == 0
    result = json.loads(capsys.readouterr().out)
    for block in (result, result["heldout"]):
        assert {"acc1", "acc2", "gmean", "confusion", "count_accuracy"} <= set(block)
        matrix = np.array(block["confusion"]["matrix"])
        assert matrix.shape == (len(block["confusion"]["labels"]),) * 2
        assert matrix.sum() == block["anchors"]
    assert result["classifier_accuracy_ground_truth"] > 0.9


def test_current_face_does_not_override_the_text(planner, judge) -> None:
    from engines.face_model.ict import EXPRESSION_NAMES
    from engines.instructions import emotion_prototype

    happy_face = 0.8 * emotion_prototype("happiness", EXPRESSION_NAMES)
    plan = planner.plan(
        "from anger to joy", current_expression=happy_face, current_pose=np.array([0.05, 0.1, 0])
    )
    assert plan.understood == ("anger", "happiness")
    assert _judged(judge, plan) == ["anger", "happiness"]


def test_a_chain_longer_than_the_model_reads_is_planned_in_pieces(planner) -> None:
    from engines.i2fet.grounding import split_at_mentions

    text = "happy then sad then happy then sad then happy"
    pieces = split_at_mentions(text, planner.model.config.max_anchors)
    assert "".join(pieces) == text and len(pieces) == 2
    plan = planner.plan(text)
    assert plan.understood == ("happiness", "sadness", "happiness", "sadness", "happiness")
    assert len(plan.anchors) == 5 and plan.text == text
    assert split_at_mentions("smile", 4) == ["smile"]
    with pytest.raises(ValueError, match="max_mentions"):
        split_at_mentions(text, 0)


def test_slots_that_contradict_the_grounding_are_planned_one_by_one(planner) -> None:
    # I2FET reads bare four-word chains poorly (its slots 3-4 repeat slot 2); the planner
    # notices that the slots contradict the named emotions and plans them one at a time
    for text, expected in (
        ("happy then sad then angry then calm", ("happiness", "sadness", "anger", "neutral")),
        ("angry then calm then angry then calm", ("anger", "neutral", "anger", "neutral")),
    ):
        plan = planner.plan(text)
        assert plan.understood == expected and len(plan.anchors) == 4


# Hand-written chains a user might type (none copied from the corpus): the labels I2FET
# produces must match the vocabulary's own reading for nearly all of them.
NATURAL_CHAINS = (
    "be surprised, then get disgusted, then calm down", "Turn this face from disgust to happiness",
    "look a bit annoyed, then burst out laughing", "from anger to joy", "from joy to anger",
    "look surprised, then very angry, then burst out laughing",
    "be sad, then happy, then surprised, then calm", "get scared and then relax",
    "frown, then smile", "look disgusted then surprised", "show fear, then anger",
    "look happy then sad then angry", "be angry, then get disgusted",
    "look surprised then disgusted", "sneer with contempt, then grin",
    "become fearful then surprised then happy", "look shocked, then sad", "be calm, then furious",
    "cry, then laugh", "look bored then amazed", "be in awe, then disgusted",
    "first surprise, then disgust, then neutral", "act surprised and then disgusted and then calm",
    "smile", "smile with joy",
)  # fmt: skip


def test_natural_chains_match_the_vocabulary_reading(planner) -> None:
    from engines.instructions import analyze_text
    from engines.instructions.knowledge import default_knowledge

    knowledge = default_knowledge(True)
    wrong = []
    for text in NATURAL_CHAINS:
        expected = tuple(m.label for m in analyze_text(text, knowledge=knowledge).emotion_mentions)
        got = planner.plan(text).understood
        if got != expected:
            wrong.append((text, expected, got))
    assert len(wrong) <= 2, wrong  # the shipped checkpoint: 1 of 25


LONG_TEXT = (
    "We are recording a short clip for the museum's new exhibition about faces, and I will "
    "tell you what to do now. To begin with, please look genuinely afraid, as if you heard a "
    "strange noise in the dark corridor. After a moment, smile broadly and happily. "
    "And at the very end, please look a bit sad, as if you were saying goodbye to friends."
)


def test_a_long_text_is_planned_in_pieces_every_emotion_in_order(planner) -> None:
    assert len(LONG_TEXT) > planner.config.piece_chars
    plan = planner.plan(LONG_TEXT)
    # every emotion it names, in order (read at once, the encoder would cut it at 64 tokens)
    named = [label for label, _ in itertools.groupby(plan.understood)]
    assert named == ["fear", "happiness", "sadness"], plan.understood
    assert len(plan.pieces) >= 3 and plan.text == LONG_TEXT
    # the opening sentence names nothing: skipped, and said so (never dropped silently)
    assert plan.skipped and plan.skipped[0].startswith("We are recording")
    assert all(piece in plan.pieces for piece in plan.skipped)
    assert len(plan.anchors) == len(plan.understood)
    # nothing named in any piece: not understood, as for a short text
    with pytest.raises(InstructionNotUnderstoodError):
        planner.plan("We are recording a clip for the museum. " * 6)


def test_a_long_text_at_the_limit_is_planned(planner) -> None:
    text = ("Be happy, then be sad. " * 60)[: planner.config.max_chars].strip()
    plan = planner.plan(text)
    assert plan.understood[:4] == ("happiness", "sadness", "happiness", "sadness")
    assert len(plan.understood) >= 80 and not plan.skipped


def test_a_count_repeats_the_emotion_through_neutral(planner) -> None:
    """ "frown three times in a row": three anger apexes, each relaxing to the neutral face
    before the next (before: two, the second from "row" read as a quarrel)."""
    from engines.transition import TransitionConfig, build_timeline

    plan = planner.plan("frown three times in a row")
    assert [a.label for a in plan.anchors] == ["anger"] * 3
    timeline = build_timeline(plan, np.zeros(53, np.float32), np.zeros(3, np.float32),
                              TransitionConfig(fps=30))  # fmt: skip
    phases = [(s.phase, s.label) for s in timeline.segments]
    assert phases.count(("apex", "anger")) == 2  # the last one is the held end
    assert phases.count(("neutral", "neutral")) == 2
    assert [a.label for a in planner.plan("look surprised, then smile twice").anchors] == [
        "surprise", "happiness", "happiness"]  # fmt: skip
    with pytest.raises(InstructionNotUnderstoodError, match="blink twice"):
        planner.plan("blink twice")
