"""The generated instruction corpus: determinism, distribution, held-out phrasings."""

from __future__ import annotations

import re

import numpy as np
import pytest

from engines.face_model.ict import EXPRESSION_NAMES
from engines.instructions import (
    EMOTIONS,
    HELDOUT_INTENSITY_WORDS,
    HELDOUT_SYNONYMS,
    PAPER_TEMPLATES,
    Corpus,
    CorpusConfig,
    analyze_text,
    generate_corpus,
)
from engines.instructions import templates as T

SMALL = CorpusConfig(seed=3, num_train=3000, num_val=300, num_test=300, num_heldout=600)


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return generate_corpus(SMALL)


def test_deterministic_from_seed(corpus: Corpus) -> None:
    again = generate_corpus(SMALL)
    for a, b in zip(corpus.train[:200], again.train[:200], strict=True):
        assert a.text == b.text and a.labels == b.labels
        np.testing.assert_array_equal(a.expressions, b.expressions)
    other = generate_corpus(
        CorpusConfig(seed=4, num_train=200, num_val=0, num_test=0, num_heldout=0)
    )
    assert [s.text for s in other.train] != [s.text for s in corpus.train[:200]]


def test_split_sizes_and_shapes(corpus: Corpus) -> None:
    assert (len(corpus.train), len(corpus.val), len(corpus.test), len(corpus.heldout)) == (
        3000, 300, 300, 600,
    )  # fmt: skip
    for sample in corpus.train[:500] + corpus.heldout[:100]:
        k = len(sample.labels)
        assert 1 <= k <= 4 and len(sample.intensities) == k
        assert sample.expressions.shape == (k, 53) and sample.expressions.dtype == np.float32
        assert sample.poses.shape == (k, 3) and sample.poses.dtype == np.float32
        assert sample.neutral_expression.shape == (53,) and sample.neutral_pose.shape == (3,)
        assert sample.source_expression.shape == (53,)
        assert sample.expressions.min() >= 0 and sample.expressions.max() <= 1
        assert np.all(np.abs(sample.poses) < np.radians(25))
        assert all(label in EMOTIONS for label in sample.labels)
        assert sample.source_pose.shape == (3,)
        if k > 1:
            np.testing.assert_array_equal(sample.source_expression, sample.expressions[0])
            np.testing.assert_array_equal(sample.source_pose, sample.poses[0])


def test_every_label_and_form_of_instruction_occurs(corpus: Corpus) -> None:
    counts = corpus.label_counts("train")
    assert set(counts) == set(EMOTIONS)
    lengths = {len(s.labels) for s in corpus.train}
    assert lengths == {1, 2, 3, 4}
    texts = [s.text.lower() for s in corpus.train]
    for template in PAPER_TEMPLATES:
        prefix = template.split("{")[0].lower()
        assert any(t.startswith(prefix) for t in texts), template
    singles = [s for s in corpus.train if len(s.labels) == 1]
    assert any(s.labels == ("neutral",) for s in singles)
    # single targets start from the resting face or from another expression
    at_rest = [np.array_equal(s.source_expression, s.neutral_expression) for s in singles]
    assert 0.3 < np.mean(at_rest) < 0.7
    for s in singles:
        if s.labels == ("neutral",):
            assert not np.array_equal(s.source_expression, s.neutral_expression)


def test_anchors_form_a_distribution(corpus: Corpus) -> None:
    happy = [
        s.expressions[i]
        for s in corpus.train
        for i, label in enumerate(s.labels)
        if label == "happiness"
    ]
    happy_arr = np.stack(happy)
    assert len(np.unique(happy_arr.round(4), axis=0)) == len(happy)  # no lookup table
    assert happy_arr.std(axis=0).max() > 0.1  # intensity and style vary
    smile_l, smile_r = (
        EXPRESSION_NAMES.index("mouthSmile_L"),
        EXPRESSION_NAMES.index("mouthSmile_R"),
    )
    asymmetry = happy_arr[:, smile_l] - happy_arr[:, smile_r]
    assert asymmetry.std() > 0.02
    assert len({s.subject_id for s in corpus.train}) > 100
    poses = np.concatenate([s.poses for s in corpus.train])
    assert 0.01 < poses.std() < 0.15


def test_intensity_words_scale_the_apex(corpus: Corpus) -> None:
    slight, strong = [], []
    for sample in corpus.train:
        analysis = analyze_text(sample.text)
        if len(analysis.emotion_mentions) != len(sample.labels):
            continue
        for mention, value in zip(analysis.emotion_mentions, sample.intensities, strict=True):
            word = analysis.intensity_for(mention)
            if word is not None and word <= 0.35:
                slight.append(value)
            elif word is not None and word >= 0.95:
                strong.append(value)
    assert len(slight) > 20 and len(strong) > 20
    assert np.mean(strong) > np.mean(slight) + 0.4


def test_heldout_phrasings_never_in_train(corpus: Corpus) -> None:
    train_text = " || ".join(s.text.lower() for s in corpus.train + corpus.val + corpus.test)
    for template in T.HELDOUT_PAIR_TEMPLATES + T.HELDOUT_SINGLE_TEMPLATES:
        fixed = template.split("{")[0].strip().lower()
        if len(fixed) > 5:
            assert not re.search(rf"\b{re.escape(fixed)}\b", train_text), template
    train_tokens = {tuple(analyze_text(s.text).tokens) for s in corpus.train}
    train_words = {w for tokens in train_tokens for w in tokens}
    for synonym in HELDOUT_SYNONYMS:
        if " " not in synonym:
            assert synonym not in train_words, synonym
    for word in HELDOUT_INTENSITY_WORDS:
        if " " not in word:
            assert word not in train_words, word
    # the held-out split uses them
    heldout_words = {w for s in corpus.heldout for w in analyze_text(s.text).tokens}
    assert len(heldout_words - train_words) > 30
    assert not {s.text for s in corpus.heldout} & {s.text for s in corpus.train}
    kinds = {kind for s in corpus.heldout for kind in s.heldout_kinds}
    assert kinds == {"template", "synonym", "intensity", "copula"}
    assert all(s.heldout_kinds for s in corpus.heldout)
    assert not any(s.heldout_kinds for s in corpus.train + corpus.val + corpus.test)


def test_the_lexicon_reads_generated_text(corpus: Corpus) -> None:
    agree = [analyze_text(s.text).labels == s.labels for s in corpus.train[:1000]]
    assert np.mean(agree) > 0.98
    heldout = [analyze_text(s.text).labels == s.labels for s in corpus.heldout]
    assert np.mean(heldout) > 0.98
    # with only the training vocabulary, a lookup fails on many held-out samples: they
    # really contain words never seen in training
    unseen = [
        analyze_text(s.text, include_heldout=False).labels == s.labels for s in corpus.heldout
    ]
    assert np.mean(unseen) < 0.75


def test_bad_config_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="num_train"):
        CorpusConfig(num_train=-1)
    with pytest.raises(ValueError, match="single_fraction"):
        CorpusConfig(single_fraction=0.8, chain_fraction=0.5)
    with pytest.raises(ValueError, match="split"):
        generate_corpus(CorpusConfig(num_train=1, num_val=0, num_test=0, num_heldout=0)).split("x")
