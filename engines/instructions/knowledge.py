"""Ground emotion words the vocabulary does not know through WordNet (third-party knowledge).

Our lexicon (:mod:`.vocabulary`) names each emotion with a few hundred words; users write
others ("livid", "elated", "glum"). A learned text encoder trained on our corpus cannot know
what an unseen word means — that needs world knowledge about words, which the paper takes
from CLIP. Here it comes from WordNet 3.0 (see :mod:`.wordnet`): an unknown phrase's synsets
are expanded along WordNet's relations (similar-to, also-see, derivation, pertainym,
hypernym, verb group, attribute) for up to ``max_depth`` steps, and every synset reached that
holds a *known* vocabulary word in an emotional sense votes for that word's label:

    score(label) = Σ over the phrase's senses s of  w(rank(s)) · decay ** depth(s, label)

with ``w(rank) = 1 / (1 + rank)`` (WordNet orders senses by frequency) and ``depth`` the
fewest relation steps from sense ``s`` to a synset of the label. The best label wins when its
score reaches ``min_score`` and beats the runner-up by ``margin`` (a ratio); otherwise the
phrase stays unknown (the model reads the text itself). A single word WordNet does not know
at all may be a typo: it takes the label of the vocabulary words one edit away ("anrgy",
"supprised"; see ``KnowledgeConfig.max_typos``) when they all share one label. Nothing else
guesses: a word WordNet knows but cannot relate to an emotion ("wheelchair") and a made-up
word ("zibble") stay unknown, so the planner can say it did not understand them.

Which senses of a known word are emotional is decided from the vocabulary alone: a synset of
a vocabulary word counts for its label when the word has no other sense in its part of
speech, when the synset also holds another word of that label, when a
synset one relation away does, or when WordNet files it under ``noun.feeling`` /
``verb.emotion``. So "mad" counts through {huffy, mad, sore} (→ "angry" one step away) but not
through {brainsick, crazy, demented, mad}, and "insanely" does not read as anger.

Intensity words work the same way, more strictly: an unknown word whose most frequent sense
shares a synset with a known intensity word takes its value ("exceedingly" → "extremely").

The vocabulary used is a parameter: the planner uses the whole lexicon; the honest held-out
evaluation uses the training vocabulary only (``include_heldout=False``).
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from engines.instructions.vocabulary import (
    _EXTRA_VERB_ADVERBS,
    HELDOUT_INTENSITY_WORDS,
    INTENSITY_ADVERBS,
    INTENSITY_NOUN_MODIFIERS,
    LEXICON,
    LexicalEntry,
)
from engines.instructions.wordnet import Synset, WordNet, WordNetUnavailableError

if TYPE_CHECKING:
    from engines.instructions.similarity import PhraseSimilarity

__all__ = [
    "EmotionKnowledge",
    "KnowledgeConfig",
    "KnowledgeMatch",
    "default_knowledge",
    "edit_distance",
]

logger = logging.getLogger(__name__)

_FORM_POS: dict[str, str] = {"adj": "a", "noun": "n", "verb": "v"}
# Relations that keep a word's sense (derivations do not: "mad" (insane) → "madness" → "rage").
_SENSE_RELATIONS: tuple[str, ...] = ("&", "^", "@", "$")
_GLOSS_NEGATORS: frozenset[str] = frozenset(
    {"not", "no", "without", "free", "lacking", "less", "never", "absence", "lack", "devoid"}
)
# WordNet files facial expressions (smile, frown, weep) under verb.body.
_EMOTION_LEXNAMES: frozenset[str] = frozenset({"noun.feeling", "verb.emotion", "verb.body"})


@dataclass(frozen=True)
class KnowledgeConfig:
    """How far and how strictly WordNet grounding reaches.

    Attributes:
        relations: WordNet pointer symbols followed ("&" similar-to, "^" also-see,
            "+" derivation, "\\\\" pertainym, "@" hypernym, "$" verb group). Not "="
            (attribute): it links an adjective to a noun shared with its antonym
            (happy → happiness ← unhappy).
        max_depth: relation steps from the phrase's own synsets (0 = synonyms only).
        decay: score factor per step.
        min_score: least score of the winning label.
        margin: the winner's score must be at least ``margin`` times the runner-up's.
        max_senses: senses of the phrase considered (most frequent first).
        use_glosses: also read the definitions of the phrase's own senses: a vocabulary word
            whose most frequent sense is emotional ("furiously angry" → "angry") counts as one
            relation step.
        max_typos: a single word of at least ``min_typo_length`` letters that WordNet does not
            know takes the label of the vocabulary words within this many edits (Damerau:
            insertion, deletion, substitution, transposition) when exactly one label is that
            near; 0 disables. (This replaced a nearest-phrase fallback in wordllama space,
            which grounded 4.5 % of random non-emotional WordNet words and 8.3 % of made-up
            words: ``facecast eval grounding``.)
        min_typo_length: shortest word the typo fallback considers.
    """

    relations: tuple[str, ...] = ("&", "^", "+", "\\", "@", "$")
    max_depth: int = 2
    decay: float = 0.5
    min_score: float = 0.2
    margin: float = 1.2
    max_senses: int = 12
    use_glosses: bool = True
    max_typos: int = 1
    min_typo_length: int = 4

    def __post_init__(self) -> None:
        if self.max_depth < 0:
            raise ValueError(f"max_depth must be >= 0, got {self.max_depth}")
        if not 0.0 < self.decay <= 1.0:
            raise ValueError(f"decay must be in (0, 1], got {self.decay}")
        if self.min_score < 0.0 or self.margin < 1.0:
            raise ValueError("min_score must be >= 0 and margin >= 1")
        if self.max_senses < 1:
            raise ValueError(f"max_senses must be >= 1, got {self.max_senses}")
        if self.max_typos < 0 or self.min_typo_length < 1:
            raise ValueError("max_typos must be >= 0 and min_typo_length >= 1")


@dataclass(frozen=True)
class KnowledgeMatch:
    """A phrase grounded through WordNet.

    Attributes:
        phrase: the words looked up.
        label: the emotion label chosen.
        score: its score; ``runner_up`` the second-best label's score.
        via: the vocabulary word whose synset was reached ("livid" → "angry").
        depth: relation steps to that synset.
    """

    phrase: str
    label: str
    score: float
    runner_up: float
    via: str
    depth: int


def _entry_lemma(entry: LexicalEntry) -> str:
    text = entry.text
    for article in ("a ", "an "):
        if entry.form == "noun" and text.startswith(article):
            text = text[len(article) :]
    return text


class EmotionKnowledge:
    """Maps unknown phrases to emotion labels through WordNet and a vocabulary.

    Args:
        wordnet: the database.
        entries: the vocabulary whose words anchor the labels (e.g. the training entries).
        config: reach and thresholds.
        intensity_words: known intensity phrases and their values.
        similarity: the sentence-embedding fallback for phrases WordNet cannot place
            (:mod:`.similarity`), consulted by the analysis; None: WordNet only.
    """

    def __init__(
        self,
        wordnet: WordNet,
        entries: Iterable[LexicalEntry],
        config: KnowledgeConfig | None = None,
        intensity_words: Mapping[str, float] | None = None,
        similarity: PhraseSimilarity | None = None,
    ) -> None:
        self.wordnet = wordnet
        self.similarity = similarity
        self.config = config or KnowledgeConfig()
        self.entries = tuple(entries)
        self.known_phrases = frozenset(e.text for e in self.entries)
        self._targets = self._build_targets()
        self._gloss_words = self._build_gloss_words()
        self._cache: dict[str, KnowledgeMatch | None] = {}
        # intensity phrase → (the word to put in its place, value): "a hint of" → ("hint", 0.3)
        self._intensity: dict[str, tuple[str, float]] = {}
        for phrase, value in (intensity_words or {}).items():
            words = phrase.split()
            if len(words) == 3 and words[0] in ("a", "an") and words[2] == "of":
                self._intensity.setdefault(words[1], (words[1], value))  # "a hint of"
            elif len(words) == 1:
                self._intensity.setdefault(phrase, (phrase, value))

    def lookup_intensity(self, word: str) -> tuple[str, float] | None:
        """(known intensity word, value) sharing the most frequent sense of ``word``
        ("exceedingly" → ("extremely", 1.0), "trace" → ("hint", 0.3)); None otherwise."""
        word = word.lower().strip()
        if not word or word in self._intensity:
            return None
        for synset, rank in self.wordnet.synsets(word):
            if rank != 0 or synset.key[0] not in ("r", "a", "n"):
                continue
            hits = [self._intensity[w] for w in synset.lemmas if w in self._intensity]
            if hits:
                return hits[0][0], sum(v for _, v in hits) / len(hits)
        return None

    # ------------------------------------------------------------------------------ targets
    def _neighbours(self, synset: Synset, relations: tuple[str, ...] | None = None) -> list[Synset]:
        relations = self.config.relations if relations is None else relations
        return [self.wordnet.synset(key) for symbol, key, _, _ in synset.pointers
                if symbol in relations]  # fmt: skip

    def _build_targets(self) -> dict[tuple[str, int], dict[str, str]]:
        """synset key → {label: vocabulary word} for every emotional sense of every entry."""
        words_of_label: dict[str, set[str]] = {}
        for entry in self.entries:
            words_of_label.setdefault(entry.label, set()).add(_entry_lemma(entry))
        targets: dict[tuple[str, int], dict[str, str]] = {}
        for entry in self.entries:
            lemma = _entry_lemma(entry)
            same = words_of_label[entry.label] - {lemma}
            senses = self.wordnet.synsets(lemma, _FORM_POS[entry.form])
            single = len(senses) == 1
            if entry.form == "adj":  # participles: "disgusted" also anchors the verb "disgust"
                senses += [(s, r) for s, r in self.wordnet.synsets(lemma, "v")
                           if s.lexname in _EMOTION_LEXNAMES]  # fmt: skip
            for synset, _ in senses:
                emotional = (
                    (single and synset.key == senses[0][0].key)  # one sense: no other meaning
                    or synset.lexname in _EMOTION_LEXNAMES
                    or any(word in same for word in synset.lemmas)
                    or any(
                        word in same
                        for neighbour in self._neighbours(synset, _SENSE_RELATIONS)
                        for word in neighbour.lemmas
                    )
                )
                if emotional:
                    targets.setdefault(synset.key, {}).setdefault(entry.label, lemma)
        return targets

    def _build_gloss_words(self) -> dict[str, tuple[str, str]]:
        """Single vocabulary words whose most frequent sense is emotional → (label, word)."""
        out: dict[str, tuple[str, str]] = {}
        for entry in self.entries:
            lemma = _entry_lemma(entry)
            if " " in lemma:
                continue
            senses = self.wordnet.synsets(lemma)
            first = min(senses, key=lambda item: item[1], default=None)
            top = [s for s, rank in senses if rank == 0]
            if first is not None and all(entry.label in self._targets.get(s.key, {}) for s in top):
                out.setdefault(lemma, (entry.label, lemma))
        return out

    def _gloss_labels(self, synset: Synset) -> dict[str, str]:
        """label → vocabulary word named in the definition of ``synset``."""
        definition = synset.gloss.split(";")[0].strip("() ").lower()
        found: dict[str, str] = {}
        for word in re.findall(r"[a-z]+", definition):
            if word in _GLOSS_NEGATORS:
                break  # "not easily irritated", "free from anxiety": nothing after counts
            hit = self._gloss_words.get(word)
            if hit is not None:
                found.setdefault(hit[0], hit[1])
        return found

    # ------------------------------------------------------------------------------- lookup
    def lookup(self, phrase: str) -> KnowledgeMatch | None:
        """The label WordNet relates ``phrase`` to, or None (unknown, or ambiguous)."""
        phrase = " ".join(phrase.lower().split())
        if phrase in self._cache:
            return self._cache[phrase]
        match = self._lookup(phrase) if phrase else None
        self._cache[phrase] = match
        return match

    def _misspelt(self, word: str) -> KnowledgeMatch | None:
        """The typo fallback (see ``KnowledgeConfig.max_typos``): a word WordNet lacks, near
        the vocabulary words of exactly one label."""
        cfg = self.config
        if cfg.max_typos == 0 or " " in word or len(word) < cfg.min_typo_length:
            return None
        best: dict[str, tuple[int, str]] = {}
        for entry in self.entries:
            lemma = _entry_lemma(entry)
            if " " in lemma or abs(len(lemma) - len(word)) > cfg.max_typos:
                continue
            distance = edit_distance(word, lemma, cfg.max_typos)
            if distance <= cfg.max_typos and (
                entry.label not in best or distance < best[entry.label][0]
            ):
                best[entry.label] = (distance, lemma)
        if not best:
            return None
        nearest = min(distance for distance, _ in best.values())
        labels = [label for label, (distance, _) in best.items() if distance == nearest]
        if len(labels) != 1:
            return None
        return KnowledgeMatch(word, labels[0], 1.0, 0.0, best[labels[0]][1], -1)

    def _lookup(self, phrase: str) -> KnowledgeMatch | None:
        cfg = self.config
        senses = self.wordnet.synsets(phrase)
        if not senses:
            return self._misspelt(phrase)
        senses = sorted(senses, key=lambda item: item[1])[: cfg.max_senses]
        scores: dict[str, float] = {}
        best_path: dict[str, tuple[int, float, str]] = {}
        for synset, rank in senses:
            weight = 1.0 / (1.0 + rank)
            reached = self._reach(synset)  # label -> (depth, via)
            for label, (depth, via) in reached.items():
                value = weight * cfg.decay**depth
                scores[label] = scores.get(label, 0.0) + value
                if label not in best_path or value > best_path[label][1]:
                    best_path[label] = (depth, value, via)
        if not scores:
            return None
        ranked = sorted(scores.items(), key=lambda item: -item[1])
        label, score = ranked[0]
        runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
        if score < cfg.min_score or score < cfg.margin * runner_up:
            logger.debug("wordnet: %r ambiguous or weak: %s", phrase, ranked[:3])
            return None
        depth, _, via = best_path[label]
        return KnowledgeMatch(phrase, label, round(score, 4), round(runner_up, 4), via, depth)

    def _reach(self, start: Synset) -> dict[str, tuple[int, str]]:
        """label → (fewest steps, vocabulary word) of the labels reachable from ``start``."""
        found: dict[str, tuple[int, str]] = {}
        if self.config.use_glosses and self.config.max_depth >= 1:
            for label, word in self._gloss_labels(start).items():
                found[label] = (1, word)
        frontier = [start]
        seen = {start.key}
        for depth in range(self.config.max_depth + 1):
            following: list[Synset] = []
            for synset in frontier:
                for label, word in self._targets.get(synset.key, {}).items():
                    if label not in found or found[label][0] > depth:
                        found[label] = (depth, word)
                if depth < self.config.max_depth:
                    for neighbour in self._neighbours(synset):
                        if neighbour.key not in seen:
                            seen.add(neighbour.key)
                            following.append(neighbour)
            frontier = following
        return found


def default_knowledge(
    include_heldout: bool = True, use_similarity: bool = True
) -> EmotionKnowledge | None:
    """WordNet grounding over the lexicon (the training entries only when
    ``include_heldout`` is False), with the sentence-similarity fallback when
    ``use_similarity`` and its model is installed; None when no WordNet database is
    installed. One object per argument pair and process, however the arguments are passed."""
    return _default_knowledge(bool(include_heldout), bool(use_similarity))


@lru_cache(maxsize=4)
def _default_knowledge(include_heldout: bool, use_similarity: bool) -> EmotionKnowledge | None:
    if use_similarity:  # the WordNet part is shared with the plain one (loaded once)
        base = _default_knowledge(include_heldout, False)
        if base is None:
            return None
        from engines.instructions.similarity import default_similarity

        with_similarity = copy.copy(base)
        with_similarity.similarity = default_similarity(base.entries)
        return with_similarity
    try:
        wordnet = WordNet()
    except WordNetUnavailableError as error:
        logger.info("no WordNet grounding: %s", error)
        return None
    entries = [e for e in LEXICON if include_heldout or not e.heldout]
    intensity = {
        word: value
        for table in (INTENSITY_ADVERBS, INTENSITY_NOUN_MODIFIERS, _EXTRA_VERB_ADVERBS)
        for word, value in table.items()
        if include_heldout or word not in HELDOUT_INTENSITY_WORDS
    }
    return EmotionKnowledge(wordnet, entries, intensity_words=intensity)


def edit_distance(a: str, b: str, limit: int) -> int:
    """Damerau (optimal string alignment) edit distance of ``a`` and ``b``; any value above
    ``limit`` is returned as ``limit + 1`` (rows stop early)."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, char_b in enumerate(b, 1):
            cost = 0 if char_a == char_b else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return min(previous[-1], limit + 1)
