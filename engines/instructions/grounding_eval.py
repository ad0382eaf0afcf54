"""A development measure of WordNet grounding that never looks at the held-out synonyms.

Choices in :mod:`.knowledge` (relations, thresholds, fallbacks) are made on this measure, so
the held-out evaluation of I2FET (``facecast eval i2fet --grounding train-vocab``) stays
honest. Three parts, all from the *training* vocabulary:

- recall, leave one out: every single word (or WordNet phrase) of the training vocabulary is
  removed from it in turn and looked up in the rest: ``loo_accuracy`` (its own label),
  ``loo_wrong`` (another label), ``loo_unknown`` (no label);
- false positives on real words: random WordNet lemmas all of whose senses sit in
  non-emotional lexicographer files (plants, artifacts, food, motion verbs, ...):
  ``random_word_grounded`` is the share grounded to any label;
- false positives on made-up words (pronounceable strings WordNet does not hold):
  ``made_up_grounded``; and typos of training words (one transposition, deletion or
  substitution): ``typo_accuracy``.

Run it with ``facecast eval grounding [--json]``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from engines.instructions.knowledge import EmotionKnowledge, KnowledgeConfig, _entry_lemma
from engines.instructions.vocabulary import LEXICON, LexicalEntry
from engines.instructions.wordnet import WordNet

__all__ = ["GroundingEvalConfig", "evaluate_grounding"]

_NON_EMOTIONAL_LEXNAMES: frozenset[str] = frozenset(
    {
        "noun.artifact", "noun.plant", "noun.animal", "noun.food", "noun.location",
        "noun.object", "noun.substance", "noun.body", "noun.time", "noun.quantity",
        "noun.shape", "verb.contact", "verb.motion", "verb.consumption", "verb.weather",
        "adj.pert",
    }
)  # fmt: skip
_CONSONANTS = "bcdfghjklmnprstvwz"
_VOWELS = "aeiou"
_ENDINGS = ("", "b", "le", "ck", "rf", "x", "sh")


@dataclass(frozen=True)
class GroundingEvalConfig:
    """Sizes and seeds of the development sets.

    Attributes:
        random_words: non-emotional WordNet lemmas drawn.
        made_up_words: made-up words drawn.
        typos: typos of training words drawn.
        seed: seed of all draws.
    """

    random_words: int = 1000
    made_up_words: int = 300
    typos: int = 300
    seed: int = 0

    def __post_init__(self) -> None:
        if min(self.random_words, self.made_up_words, self.typos) < 1:
            raise ValueError("every development set needs at least one word")


def _training_entries() -> list[LexicalEntry]:
    return [entry for entry in LEXICON if not entry.heldout]


def _leave_one_out(
    wordnet: WordNet, entries: list[LexicalEntry], config: KnowledgeConfig
) -> dict[str, float]:
    right = wrong = unknown = 0
    for lemma in sorted({_entry_lemma(e) for e in entries}):
        if " " in lemma and not wordnet.synsets(lemma):
            continue  # a multi-word phrase WordNet lacks: analysis composes those
        labels = {e.label for e in entries if _entry_lemma(e) == lemma}
        rest = [e for e in entries if _entry_lemma(e) != lemma]
        match = EmotionKnowledge(wordnet, rest, config).lookup(lemma)
        if match is None:
            unknown += 1
        elif match.label in labels:
            right += 1
        else:
            wrong += 1
    count = right + wrong + unknown
    return {
        "loo_words": count,
        "loo_accuracy": round(right / count, 4),
        "loo_wrong": round(wrong / count, 4),
        "loo_unknown": round(unknown / count, 4),
    }


def _random_words(wordnet: WordNet, count: int, rng: random.Random) -> list[str]:
    pool: set[str] = set()
    for pos in ("n", "v", "a"):
        for lemma in wordnet.lemmas(pos):
            if not lemma.isalpha():
                continue
            senses = wordnet.synsets(lemma)
            if senses and all(s.lexname in _NON_EMOTIONAL_LEXNAMES for s, _ in senses):
                pool.add(lemma)
    words = sorted(pool)
    rng.shuffle(words)
    return words[:count]


def _made_up_words(wordnet: WordNet, count: int, rng: random.Random) -> list[str]:
    words: list[str] = []
    while len(words) < count:
        syllables = rng.randint(2, 3)
        word = "".join(rng.choice(_CONSONANTS) + rng.choice(_VOWELS) for _ in range(syllables))
        word += rng.choice(_ENDINGS)
        if not wordnet.synsets(word) and word not in words:
            words.append(word)
    return words


def _typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(len(word) - 1)
    kind = rng.randrange(3)
    if kind == 0:  # transposition
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == 1:  # deletion
        return word[:i] + word[i + 1 :]
    letter = rng.choice([c for c in "abcdefghijklmnopqrstuvwxyz" if c != word[i]])
    return word[:i] + letter + word[i + 1 :]  # substitution


def evaluate_grounding(
    wordnet: WordNet | None = None,
    knowledge_config: KnowledgeConfig | None = None,
    config: GroundingEvalConfig | None = None,
) -> dict[str, object]:
    """The development metrics of grounding with ``knowledge_config`` (see the module)."""
    wordnet = wordnet or WordNet()
    knowledge_config = knowledge_config or KnowledgeConfig()
    config = config or GroundingEvalConfig()
    entries = _training_entries()
    result: dict[str, object] = dict(_leave_one_out(wordnet, entries, knowledge_config))
    knowledge = EmotionKnowledge(wordnet, entries, knowledge_config)
    rng = random.Random(config.seed)
    random_words = _random_words(wordnet, config.random_words, rng)
    grounded = {w: m.label for w in random_words if (m := knowledge.lookup(w)) is not None}
    result["random_words"] = len(random_words)
    result["random_word_grounded"] = round(len(grounded) / max(len(random_words), 1), 4)
    result["random_word_examples"] = dict(sorted(grounded.items())[:10])
    made_up = _made_up_words(wordnet, config.made_up_words, rng)
    fooled = {w: m.label for w in made_up if (m := knowledge.lookup(w)) is not None}
    result["made_up_words"] = len(made_up)
    result["made_up_grounded"] = round(len(fooled) / len(made_up), 4)
    result["made_up_examples"] = dict(sorted(fooled.items())[:10])
    singles = sorted({(_entry_lemma(e), e.label) for e in entries
                      if " " not in _entry_lemma(e) and len(_entry_lemma(e)) >= 5})  # fmt: skip
    right = tried = 0
    for _ in range(config.typos):
        word, label = rng.choice(singles)
        typo = _typo(word, rng)
        if wordnet.synsets(typo):
            continue  # a real word (e.g. "mad" -> "sad"): not a typo to correct
        tried += 1
        match = knowledge.lookup(typo)
        right += match is not None and match.label == label
    result["typos"] = tried
    result["typo_accuracy"] = round(right / max(tried, 1), 4)
    return result
