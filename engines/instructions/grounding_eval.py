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
  substitution): ``typo_accuracy``;
- in context: training-split instructions of the corpus with one random non-emotional
  WordNet word inserted at a random position: ``inserted_changed`` is the share whose
  reading (the emotion labels) changes.

With a sentence-similarity fallback (:mod:`.similarity`, ``similarity=``), words WordNet
leaves unknown are tried on it too (in the leave-one-out part, with the word's own
vocabulary phrases excluded); ``loo_similar_right`` / ``loo_similar_wrong`` count what it
added. Single-word lookups use the analysis' own path for the in-context part.

Run it with ``facecast eval grounding [--json]``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from engines.instructions.analysis import analyze_text
from engines.instructions.corpus import CorpusConfig, generate_corpus
from engines.instructions.knowledge import EmotionKnowledge, KnowledgeConfig, _entry_lemma
from engines.instructions.similarity import PhraseSimilarity
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
        inserted: training instructions with an inserted random word.
        seed: seed of all draws.
    """

    random_words: int = 1000
    made_up_words: int = 300
    typos: int = 300
    inserted: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        if min(self.random_words, self.made_up_words, self.typos, self.inserted) < 1:
            raise ValueError("every development set needs at least one word")


def _training_entries() -> list[LexicalEntry]:
    return [entry for entry in LEXICON if not entry.heldout]


def _leave_one_out(
    wordnet: WordNet,
    entries: list[LexicalEntry],
    config: KnowledgeConfig,
    similarity: PhraseSimilarity | None,
) -> dict[str, float]:
    right = wrong = unknown = 0
    left: list[tuple[str, set[str]]] = []
    for lemma in sorted({_entry_lemma(e) for e in entries}):
        if " " in lemma and not wordnet.synsets(lemma):
            continue  # a multi-word phrase WordNet lacks: analysis composes those
        labels = {e.label for e in entries if _entry_lemma(e) == lemma}
        rest = [e for e in entries if _entry_lemma(e) != lemma]
        match = EmotionKnowledge(wordnet, rest, config).lookup(lemma)
        if match is None:
            left.append((lemma, labels))
        elif match.label in labels:
            right += 1
        else:
            wrong += 1
    similar_right = similar_wrong = 0
    for lemma, labels in left:
        found = similarity.lookup_many([lemma], exclude=lemma)[0] if similarity else None
        if found is None:
            unknown += 1
        elif found.label in labels:
            similar_right += 1
        else:
            similar_wrong += 1
    right += similar_right
    wrong += similar_wrong
    count = right + wrong + unknown
    return {
        "loo_words": count,
        "loo_accuracy": round(right / count, 4),
        "loo_wrong": round(wrong / count, 4),
        "loo_unknown": round(unknown / count, 4),
        "loo_similar_right": similar_right,
        "loo_similar_wrong": similar_wrong,
    }


def _inserted_changed(
    knowledge: EmotionKnowledge, words: list[str], count: int, rng: random.Random
) -> tuple[float, dict[str, str]]:
    """Share of training instructions whose labels change when one of ``words`` is inserted
    at a random word position, and up to 10 examples (text → new labels)."""
    corpus = generate_corpus(
        CorpusConfig(seed=rng.randrange(1 << 30), num_train=count, num_val=0, num_test=0,
                     num_heldout=0)
    )  # fmt: skip
    changed = 0
    examples: dict[str, str] = {}
    for sample in corpus.train:
        before = analyze_text(sample.text, include_heldout=False, knowledge=knowledge).labels
        tokens = sample.text.split()
        tokens.insert(rng.randint(0, len(tokens)), rng.choice(words))
        text = " ".join(tokens)
        after = analyze_text(text, include_heldout=False, knowledge=knowledge).labels
        if after != before:
            changed += 1
            if len(examples) < 10:
                examples[text] = " then ".join(after)
    return round(changed / max(len(corpus.train), 1), 4), examples


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
    similarity: PhraseSimilarity | None = None,
) -> dict[str, object]:
    """The development metrics of grounding with ``knowledge_config`` and, when given, the
    ``similarity`` fallback over the training entries (see the module)."""
    wordnet = wordnet or WordNet()
    knowledge_config = knowledge_config or KnowledgeConfig()
    config = config or GroundingEvalConfig()
    entries = _training_entries()
    result: dict[str, object] = dict(_leave_one_out(wordnet, entries, knowledge_config, similarity))
    knowledge = EmotionKnowledge(wordnet, entries, knowledge_config, similarity=similarity)
    rng = random.Random(config.seed)
    random_words = _random_words(wordnet, config.random_words, rng)
    grounded = {w: label for w in random_words if (label := _single(knowledge, w))}
    result["random_words"] = len(random_words)
    result["random_word_grounded"] = round(len(grounded) / max(len(random_words), 1), 4)
    result["random_word_examples"] = dict(sorted(grounded.items())[:10])
    made_up = _made_up_words(wordnet, config.made_up_words, rng)
    fooled = {w: label for w in made_up if (label := _single(knowledge, w))}
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
        right += _single(knowledge, typo) == label
    result["typos"] = tried
    result["typo_accuracy"] = round(right / max(tried, 1), 4)
    share, examples = _inserted_changed(knowledge, random_words, config.inserted, rng)
    result["inserted"] = config.inserted
    result["inserted_changed"] = share
    result["inserted_examples"] = examples
    return result


def _single(knowledge: EmotionKnowledge, word: str) -> str:
    """The label the analysis reads in ``word`` alone ("" for none)."""
    labels = analyze_text(word, include_heldout=False, knowledge=knowledge).labels
    return labels[0] if labels else ""
