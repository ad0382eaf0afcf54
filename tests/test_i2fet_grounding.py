"""Grounding with the whole vocabulary vs the training vocabulary only (honest held-out eval)."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from engines.i2fet.config import TrainConfig
from engines.i2fet.evaluate import VOCABULARIES, predict
from engines.i2fet.grounding import (
    GROUNDING_SEPARATOR,
    PLACEHOLDER,
    ground_mentions,
    grounded_text,
    lexicon_mentions,
)
from engines.i2fet.train import ground_for_training, perturb_connectors, perturb_template
from engines.instructions.wordnet import find_wordnet_dir


def test_train_vocab_forgets_heldout_synonyms() -> None:
    text = "look elated, then angry"
    full, full_labels = grounded_text(text)
    assert full_labels == ["happiness", "anger"]
    assert "elated" not in full and full.count(PLACEHOLDER) == 2
    honest, honest_labels = grounded_text(text, include_heldout=False, use_knowledge=False)
    assert honest_labels == ["anger"]
    assert honest.startswith("look elated, then " + PLACEHOLDER)
    assert honest.endswith(GROUNDING_SEPARATOR + "anger")
    # a phrasing made only of held-out words is not grounded at all
    bare = grounded_text("be merry", include_heldout=False, use_knowledge=False)
    assert bare == ("be merry", [])
    assert grounded_text("be happy", include_heldout=False)[1] == ["happiness"]


@pytest.mark.skipif(find_wordnet_dir() is None, reason="WordNet not installed")
def test_train_vocab_plus_wordnet_grounds_unseen_words() -> None:
    honest, labels = grounded_text("look elated, then angry", include_heldout=False)
    assert labels == ["happiness", "anger"] and "elated" not in honest
    assert grounded_text("be merry", include_heldout=False)[1] == ["happiness"]


def test_negated_emotions_are_removed_before_grounding() -> None:
    text, labels = grounded_text("not angry, just calm")
    assert labels == ["neutral"] and "angry" not in text
    assert text.endswith(GROUNDING_SEPARATOR + "neutral")
    assert grounded_text("don't be sad")[1] == ["neutral"]


def test_training_grounding_partial_and_connector_noise() -> None:
    text = "look sad, then angry, and finally smile"
    always = TrainConfig(grounding_prob=1.0, partial_grounding_prob=0.0, connector_noise_prob=0.0)
    full = ground_for_training(text, 4, always, random.Random(0))
    assert full == ground_mentions(text, lexicon_mentions(text))
    assert full.count(PLACEHOLDER) == 3
    never = TrainConfig(grounding_prob=0.0)
    assert ground_for_training(text, 4, never, random.Random(0)) == text
    partial = TrainConfig(grounding_prob=1.0, partial_grounding_prob=1.0, connector_noise_prob=0)
    seen = {ground_for_training(text, 4, partial, random.Random(i)) for i in range(40)}
    counts = {t.count(PLACEHOLDER) for t in seen}
    assert counts == {0, 1, 2, 3}  # every subset size occurs
    for grounded in seen:  # the suffix names exactly the masked phrases
        head, _, tail = grounded.partition(GROUNDING_SEPARATOR)
        assert head.count(PLACEHOLDER) == (len(tail.split(" then ")) if tail else 0)
    noisy = perturb_connectors(full, random.Random(0))
    head, _, tail = noisy.partition(GROUNDING_SEPARATOR)
    assert "then" not in head and "finally" not in head
    assert tail == "sadness then anger then happiness"


def test_template_noise_replaces_only_template_words() -> None:
    from engines.i2fet.train import _template_noise_words

    words = _template_noise_words()
    assert {"make", "look", "change", "expression"} <= words
    assert not {"from", "to", "then", "and", "not", "slightly", PLACEHOLDER} & words
    text = "make her look something, then change the expression to something || sadness then fear"
    pool = ("zorp",)
    noisy = {perturb_template(text, random.Random(i), pool, words) for i in range(20)}
    assert len(noisy) > 1 and any("zorp" in out for out in noisy)
    for out in noisy:
        head, _, tail = out.partition(GROUNDING_SEPARATOR)
        assert tail == "sadness then fear" and head.count(PLACEHOLDER) == 2
        assert ", then" in head and " to something" in head  # order words kept
    assert perturb_template(text, random.Random(0), (), words) == text
    # off by default: the random stream and the text are as before
    base = TrainConfig(grounding_prob=1.0)
    assert base.template_noise_prob == 0.0
    with_noise = TrainConfig(grounding_prob=1.0, connector_noise_prob=0.0, template_noise_prob=1.0)
    out = ground_for_training("make her look sad", 4, with_noise, random.Random(3), pool)
    assert out.endswith("|| sadness")


def test_unknown_vocabulary_is_rejected() -> None:
    assert VOCABULARIES == ("full", "train")
    with pytest.raises(ValueError, match="vocabulary must be one of"):
        predict(None, None, None, grounded=True, vocabulary="heldout")  # type: ignore[arg-type]


def test_eval_cli_train_vocab_grounding(capsys: pytest.CaptureFixture[str]) -> None:
    from server.cli.main import main

    assert main(["eval", "i2fet", "--json", "--eval-size", "40", "--grounding", "train-vocab"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["grounding"] == "train-vocab"
    for block in (result, result["heldout"]):
        assert {"acc1", "acc2", "gmean", "confusion", "text_only", "full_vocab"} <= set(block)
        assert {"train_vocab_no_wordnet"} <= set(block)
        assert block["grounding_vocabulary"] == "train"
        assert np.array(block["confusion"]["matrix"]).sum() == block["anchors"]
    by_kind = result["heldout"]["train_vocab_by_kind"]
    assert sum(by_kind[k]["samples"] for k in ("synonym", "structure_only")) == 40
    assert result["encoder"] == "wordllama"  # read from the checkpoint


def test_eval_cli_bad_grounding() -> None:
    from server.cli.main import main

    with pytest.raises(SystemExit) as info:
        main(["eval", "i2fet", "--grounding", "everything"])
    assert info.value.code == 2


@pytest.mark.skipif(find_wordnet_dir() is None, reason="WordNet not installed")
def test_unknown_word_pool_never_holds_heldout_or_emotion_words() -> None:
    import re

    from engines.i2fet.train import augment_texts, unknown_word_pool
    from engines.instructions import HELDOUT_INTENSITY_WORDS, HELDOUT_SYNONYMS
    from engines.instructions import templates as T

    pool = unknown_word_pool(300, seed=0)
    assert len(pool) == 300 and pool == unknown_word_pool(300, seed=0)
    heldout = {w for phrase in HELDOUT_SYNONYMS + HELDOUT_INTENSITY_WORDS for w in phrase.split()}
    for template in (
        *T.HELDOUT_PAIR_TEMPLATES, *T.HELDOUT_SINGLE_TEMPLATES, *T.HELDOUT_CHAIN_CONNECTORS,
        *T.HELDOUT_CHAIN_FINAL_CONNECTORS, *T.HELDOUT_CHAIN_STATE_TEMPLATES, *T.HELDOUT_COPULAS,
        *T.HELDOUT_NOUN_VERBS,
    ):  # fmt: skip
        heldout.update(re.findall("[a-z]+", re.sub(r"\{[^}]*\}", " ", template.lower())))
    assert not heldout & set(pool)
    # the pool is filtered by WordNet grounding (the committed checkpoint was trained on it);
    # the similarity fallback reads about 1 % of such words as emotions ("hatefully")
    assert all(lexicon_mentions(word, use_similarity=False) == [] for word in pool[:50])
    texts = augment_texts(["look sad"] * 50, 1.0, random.Random(0), pool)
    assert any(set(t.split()) & set(pool) for t in texts)
    assert unknown_word_pool(0, seed=0) == ()
