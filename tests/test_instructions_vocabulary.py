"""Vocabulary, FACS prototypes and the lexicon analysis of engines.instructions."""

from __future__ import annotations

import numpy as np
import pytest

import engines.instructions as instructions
from engines.face_model.ict import EXPRESSION_NAMES
from engines.instructions import (
    AU_TO_SHAPES,
    COMPOUND_EMOTIONS,
    EMOTION_AUS,
    EMOTIONS,
    LEXICON,
    UnknownEmotionError,
    analyze_text,
    emotion_pose_prior,
    emotion_prototype,
    prototype_matrix,
)


def test_public_api_is_pinned() -> None:
    for name in instructions.__all__:
        assert hasattr(instructions, name), name
    assert {"EMOTIONS", "emotion_prototype", "analyze_text", "generate_corpus"} <= set(
        instructions.__all__
    )


def test_emotion_labels() -> None:
    assert EMOTIONS[:8] == (
        "neutral", "happiness", "sadness", "surprise", "fear", "anger", "disgust", "contempt",
    )  # fmt: skip
    assert len(COMPOUND_EMOTIONS) == 15
    assert {"happily_surprised", "sadly_angry", "fearfully_surprised", "awed"} <= set(EMOTIONS)
    assert len(set(EMOTIONS)) == len(EMOTIONS)


def test_every_au_maps_to_existing_ict_shapes() -> None:
    for au, shapes in AU_TO_SHAPES.items():
        for shape in shapes:
            assert shape in EXPRESSION_NAMES, (au, shape)
    for label, aus in EMOTION_AUS.items():
        for au in aus:
            assert au in AU_TO_SHAPES, (label, au)


def test_emfacs_prototypes() -> None:
    def active(label: str, **kw: str) -> set[str]:
        p = emotion_prototype(label, EXPRESSION_NAMES, **kw)  # type: ignore[arg-type]
        return {EXPRESSION_NAMES[i] for i in np.flatnonzero(p > 0.5)}

    assert {"mouthSmile_L", "mouthSmile_R", "cheekSquint_L"} <= active("happiness")
    assert {"browInnerUp_L", "mouthFrown_R"} <= active("sadness")
    assert {"browOuterUp_L", "eyeWide_R"} <= active("surprise")
    assert {"browDown_L", "eyeSquint_R", "mouthShrugUpper"} <= active("anger")
    assert {"noseSneer_L", "noseSneer_R"} <= active("disgust")
    # contempt is unilateral, on either side
    right, left = active("contempt"), active("contempt", side="left")
    assert right == {"mouthDimple_R", "mouthSmile_R"}
    assert left == {"mouthDimple_L", "mouthSmile_L"}
    assert not emotion_prototype("neutral", EXPRESSION_NAMES).any()


def test_prototypes_are_bounded_and_distinct() -> None:
    matrix = prototype_matrix(EXPRESSION_NAMES)
    assert matrix.shape == (len(EMOTIONS), 53)
    assert matrix.min() >= 0.0 and matrix.max() <= 1.0
    distances = np.linalg.norm(matrix[:, None] - matrix[None], axis=-1)
    np.fill_diagonal(distances, np.inf)
    assert distances.min() > 0.3  # no two emotions share a prototype


def test_prototype_follows_the_model_shape_order() -> None:
    names = ("mouthSmile_R", "unknown_shape", "mouthSmile_L")
    proto = emotion_prototype("happiness", names)
    assert proto.tolist() == [1.0, 0.0, 1.0]


def test_unknown_label_is_a_clear_error() -> None:
    with pytest.raises(UnknownEmotionError, match="valid: neutral"):
        emotion_prototype("joyish", EXPRESSION_NAMES)
    with pytest.raises(ValueError, match="side"):
        emotion_prototype("contempt", EXPRESSION_NAMES, side="up")  # type: ignore[arg-type]


def test_pose_priors() -> None:
    assert emotion_pose_prior("sadness")[0] > 0.05  # head down
    assert np.all(np.abs(emotion_pose_prior("awed")) < 0.2)
    assert not emotion_pose_prior("neutral").any()


def test_lexicon_is_consistent() -> None:
    labels_of: dict[str, set[str]] = {}
    for entry in LEXICON:
        labels_of.setdefault(entry.text, set()).add(entry.label)
        assert entry.label in EMOTIONS
        assert 0 < entry.intensity <= 1
        assert entry.text == entry.text.lower().strip()
    assert all(len(labels) == 1 for labels in labels_of.values())
    for label in EMOTIONS:  # every label can fill every slot form
        for form in ("adj", "noun", "verb"):
            assert any(e.label == label and e.form == form and not e.heldout for e in LEXICON)
    for word in ("joy", "happy", "cheerful", "furious", "scared", "grossed out"):
        assert word in labels_of


@pytest.mark.parametrize(
    ("text", "labels"),
    [
        ("Turn this face from very angry to slightly happy", ("anger", "happiness")),
        ("look surprised, then angry, then burst out laughing", ("surprise", "anger", "happiness")),
        ("I'm totally GROSSED OUT!!", ("disgust",)),
        ("make her smile", ("happiness",)),
        ("calm down", ("neutral",)),
        ("relax your face", ("neutral",)),
        ("she looks happily surprised", ("happily_surprised",)),
    ],
)
def test_analyze_text_labels(text: str, labels: tuple[str, ...]) -> None:
    assert analyze_text(text).labels == labels


def test_analyze_text_intensity_and_unknown_words() -> None:
    analysis = analyze_text("from very angry to a bit blorfy smile")
    angry, smile = analysis.emotion_mentions
    assert (angry.word, angry.label) == ("angry", "anger")
    word, label, position = smile
    assert (word, label, position) == ("smile", "happiness", 7)
    assert analysis.intensity_for(angry) == 0.9
    assert analysis.intensity_for(smile) is None  # "a bit" is not next to "smile"
    assert analysis.unknown_words == ["blorfy"]


@pytest.mark.parametrize(
    "text", ["", "   ", "!!!", "blorf zork", "not happy", "😀 ünïcode", "a" * 5000]
)
def test_analyze_text_never_crashes(text: str) -> None:
    analysis = analyze_text(text)
    assert isinstance(analysis.labels, tuple)


def test_speed_words() -> None:
    analysis = analyze_text("slowly turn very happy, then suddenly angry")
    assert [w.word for w in analysis.speed_words] == ["slowly", "suddenly"]
    assert analysis.unknown_words == []
    assert analysis.speed_factor == pytest.approx((2.0 * 0.35) ** 0.5)
    assert analyze_text("smile").speed_factor == 1.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("smile with joy", ["happiness"]),
        ("frown in anger, then laugh with delight", ["anger", "happiness"]),
        ("cry out of sadness", ["sadness"]),
        ("look angry and furious", ["anger"]),
        ("sneer with contempt, then grin", ["contempt", "happiness"]),
        ("be happy, then happy again", ["happiness", "happiness"]),  # 'then': two anchors
        ("from sad to sad", ["sadness", "sadness"]),
        ("happy, happy and sad", ["happiness", "happiness", "sadness"]),  # a list
    ],
)
def test_one_emotion_named_twice_in_one_phrase_is_one_expression(
    text: str, expected: list[str]
) -> None:
    assert [m.label for m in analyze_text(text).emotion_mentions] == expected
