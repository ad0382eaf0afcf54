"""The 4D corpus: identities split, published timing (staggered AUs, onset < offset),
per-subject style, and the PCA of its deformations."""

from __future__ import annotations

import numpy as np
import pytest

from engines.dynamics import RegionBasis, load_hierarchy
from engines.dynamics.research.corpus import DynamicsCorpusConfig, generate_corpus
from engines.dynamics.research.pca import corpus_pca
from engines.dynamics.research.unfolding import half_change_times


@pytest.fixture(scope="module")
def basis(ict):
    return RegionBasis(ict, load_hierarchy(ict).region_vertices)


@pytest.fixture(scope="module")
def corpus(ict, basis):
    return generate_corpus(ict, basis, DynamicsCorpusConfig(seed=3, train_subjects=3,
                                                            test_subjects=2))  # fmt: skip


def test_corpus_is_deterministic_and_splits_identities(ict, basis, corpus) -> None:
    again = generate_corpus(ict, basis, corpus.config)
    assert all(np.array_equal(a.weights, b.weights) for a, b in zip(corpus.test, again.test,
                                                                     strict=True))  # fmt: skip
    train_subjects = {s.subject for s in corpus.train}
    test_subjects = {s.subject for s in corpus.test}
    assert len(train_subjects) == 3 and len(test_subjects) == 2
    assert not train_subjects & test_subjects
    assert len(corpus.train) == 3 * (7 * 3 + 1)
    identities = np.stack([s.identity for s in corpus.subjects])
    assert np.linalg.matrix_rank(identities) == len(corpus.subjects)  # all different people
    assert {s.label for s in corpus.train} == set(corpus.references)


def test_timing_follows_the_published_dynamics(ict, corpus) -> None:
    names = ict.expression_names
    displacement = np.ones(53)
    onsets = {label: [] for label in corpus.references if label != "neutral"}
    for sequence in corpus.train:
        if sequence.label == "neutral":
            assert not sequence.weights.any() and sequence.intensity == 0.0
            continue
        phases = sequence.phases
        assert phases.offset_s > phases.onset_s  # offsets last longer than onsets
        if sequence.tempo == 1.0:  # at natural speed (the others at an instructed tempo)
            onsets[sequence.label].append(phases.onset_s)
        assert 0.3 < sequence.intensity < 2.0
    assert np.mean(onsets["surprise"]) < np.mean(onsets["happiness"]) < np.mean(onsets["sadness"])
    tempi = [s.tempo for s in corpus.train if s.label != "neutral"]
    assert 0.3 < np.mean(np.array(tempi) != 1.0) < 0.7
    assert min(tempi) >= 0.4 and max(tempi) <= 2.5
    surprises = [s for s in corpus.train if s.label == "surprise"]
    spreads, brows_first = [], []
    for sequence in surprises:
        unfolding = half_change_times(sequence.weights, sequence.times, sequence.phases, names,
                                      displacement, top=8)  # fmt: skip
        spreads.append(unfolding.spread)
        brow = np.mean([v for k, v in unfolding.shares.items() if k.startswith("brow")])
        brows_first.append(brow < unfolding.shares["jawOpen"])
    assert all(brows_first)  # brows lead, the jaw follows
    assert 0.2 <= np.mean(spreads) <= 0.45
    smile = next(s for s in corpus.train if s.label == "happiness")
    cheek = np.argmax(smile.weights[:, names.index("cheekSquint_L")] > 0.05)
    corner = np.argmax(smile.weights[:, names.index("mouthSmile_L")] > 0.05)
    assert corner < cheek  # the cheeks rise after the lip corners


def test_subjects_have_their_own_style(ict, corpus) -> None:
    names = ict.expression_names
    left, right = names.index("browInnerUp_L"), names.index("browInnerUp_R")
    ratios = {}
    for sequence in corpus.train:
        if sequence.label == "surprise":
            peak = sequence.weights.max(axis=0)
            ratios.setdefault(sequence.subject, []).append(peak[left] / peak[right])
    per_subject = [np.mean(v) for v in ratios.values()]
    assert np.ptp(per_subject) > 0.03  # asymmetry differs between people
    assert any(abs(r - 1.0) > 0.02 for r in per_subject)  # and no one is symmetric by force
    speeds = {s.index: s.style.speed for s in corpus.subjects}
    assert np.ptp(list(speeds.values())) > 0.05


def test_pca_of_the_deformations_is_exact_and_recomputable(basis, corpus) -> None:
    pca = corpus_pca(corpus.train, basis)
    assert 20 <= pca.rank <= 53 and abs(float(pca.explained.sum()) - 1.0) < 1e-4
    again = corpus_pca(corpus.train, basis)
    assert np.array_equal(pca.scaled_basis, again.scaled_basis)  # signs fixed: the same basis
    sequence = corpus.test[4]
    target = corpus.deformations(sequence, basis)
    z = pca.coefficients(target, 64)
    assert not z[:, pca.rank :].any()
    rebuilt = (pca.mean + z[:, : pca.rank] @ pca.scaled_basis).reshape(target.shape)
    assert np.abs(rebuilt - target).max() < 1e-3  # a linear corpus: PCA holds it exactly
    direct = pca.coefficients_of_weights(sequence.weights * sequence.face_scale, basis, 64)
    assert np.allclose(direct, z, atol=1e-3)
