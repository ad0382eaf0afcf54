"""Lexicon analysis of an instruction: which emotions it names, with which intensity words.

This is a transparent word-level reading used for user-facing messages ("understood:
anger, then happiness; unknown words: 'blorf'"), for grounding the I2FET model's input and as
a rule-based baseline planner. It lower-cases the text, splits it into words and matches the
longest known phrase at each position ("burst out laughing" before "laughing"). Then:

- Knowledge (optional, ``knowledge=``): words the lexicon does not know are looked up in
  WordNet (:mod:`.knowledge`): "livid" reads as anger through "angry". A word WordNet cannot
  place either is tried, alone and with up to two glue or unknown words on each side (so an
  idiom is tried whole: "over the moon"), by sentence similarity to the vocabulary
  (:mod:`.similarity`, when the knowledge carries it): "teary" reads as sadness through
  "tearful". A word right next to an emotion is taken to modify it and is not tried
  ("crazy happy", "smile like crazy"), nor is a common word with many WordNet senses ("see").
- Composition: two different basic emotions joined by nothing, "and", "but", "in" or "with"
  (articles allowed) name the compound with those two parents ("joyful surprise",
  "angry and scared", "despair in fear"), as the lexicon's own compound phrases do; a
  comma or other punctuation between them, or a list ("happy, sad and angry"), keeps them
  apart. Only the twelve two-emotion compounds are composed.
- Merging: two neighbouring mentions of the *same* emotion joined the same way, or by "of"
  ("smile with joy", "frown in anger", "cry out of sadness", "happy and joyful") are one
  expression, not two anchors.
- Negation: an emotion right after "not", "no", "never", "don't", "stop", "without" or
  "isn't"-style words (at most one word between, no punctuation) is negated: it is listed in
  ``negated_mentions``, not in ``emotion_mentions``. An instruction whose only emotions are
  negated ("don't be sad") reads as "neutral"; otherwise negated emotions are dropped
  ("not angry, just calm" → neutral).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engines.instructions.knowledge import EmotionKnowledge

from engines.instructions.templates import template_words
from engines.instructions.vocabulary import (
    _EXTRA_VERB_ADVERBS,
    BASIC_EMOTIONS,
    COMPOUND_PARENTS,
    HELDOUT_INTENSITY_WORDS,
    INTENSITY_ADVERBS,
    INTENSITY_NOUN_MODIFIERS,
    LEXICON,
    PLAIN_INTENSITY,
    SPEED_WORDS,
    blended_intensity,
)

__all__ = [
    "STOPWORDS",
    "WORD_PATTERN",
    "EmotionMention",
    "IntensityWord",
    "SpeedWord",
    "TextAnalysis",
    "analyze_text",
    "tokenize",
]

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
WORD_PATTERN = _WORD  # the words of an instruction (lower-cased text); tokens are its matches
_MAX_PHRASE = 8
_MAX_KNOWLEDGE_PHRASE = 3
_NEGATORS: frozenset[str] = frozenset(
    [
        "not",
        "no",
        "never",
        "don't",
        "dont",
        "doesn't",
        "didn't",
        "isn't",
        "aren't",
        "wasn't",
        "stop",
        "quit",
        "without",
        "nor",
        "neither",
    ]
)
_COMPOSE_LINKS: frozenset[tuple[str, ...]] = frozenset({(), ("and",), ("but",), ("in",), ("with",)})
_MERGE_LINKS: frozenset[tuple[str, ...]] = _COMPOSE_LINKS | {("of",), ("out", "of")}
_ARTICLES: frozenset[str] = frozenset({"a", "an", "the"})
# Known words a phrase grounded by similarity may span besides unknown words: articles,
# particles, prepositions and possessives ("over the moon", "drop your jaw", "poker face").
_SPAN_GLUE: frozenset[str] = frozenset(
    [
        "a",
        "an",
        "the",
        "over",
        "of",
        "in",
        "on",
        "at",
        "up",
        "out",
        "off",
        "down",
        "back",
        "away",
        "your",
        "my",
        "her",
        "his",
        "their",
        "our",
        "face",
    ]
)
_MAX_SIMILAR_SIDE = 2  # glue or unknown words a similarity phrase reaches on each side

_STOPWORD_TEXT = """
a an the and or but then to from into of in on at with for by as is are was be been this
that these those it its her his him them their they she he you your me my i we our us
please now just can could would will should do does make let lets let's want like face
expression look looks looking go goes going get gets become becomes turn turns show
shows some more less very not no don't dont also again still while after before first
second third next finally last lastly end start begin little bit back up over avatar
person girl boy woman man guy lady someone somebody okay ok hey hi so really am i'm im
feel feels feeling seem seems kind sort bit lot way when what how
about above across against along among around behind below beneath beside besides between
beyond during except inside near onto outside past since through throughout toward towards
under underneath until upon within where here there once twice one two three four five six
seven eight nine ten times
"""
# The last three lines are closed-class words (prepositions, place adverbs, numbers): they
# never name an emotion themselves, so WordNet must not ground them ("look behind you in
# fear" grounded "behind" → sadness through {behind, down}; "down" stays: "feeling down").
STOPWORDS: frozenset[str] = frozenset(_STOPWORD_TEXT.split())


@dataclass(frozen=True)
class EmotionMention:
    """A phrase naming an emotion: ``word`` (the phrase), ``label``, token ``position``;
    ``source`` says how it was read: "lexicon", "wordnet" (``via`` = the vocabulary word
    WordNet related it to), "similar" (``via`` = the nearest vocabulary phrase in a
    sentence-embedding space, see :mod:`.similarity`), "composed" (two mentions naming a
    compound) or "merged" (two mentions of one emotion: "smile with joy")."""

    word: str
    label: str
    position: int
    source: str = "lexicon"
    via: str = ""

    @property
    def length(self) -> int:
        """Number of tokens the phrase spans."""
        return len(self.word.split())

    def __iter__(self) -> Iterator[object]:
        # allows ``word, label, position = mention`` (the contract's tuple form)
        return iter((self.word, self.label, self.position))


@dataclass(frozen=True)
class IntensityWord:
    """An intensity phrase (``word``), the apex ``value`` it asks for, token ``position``;
    ``via`` is the known intensity word WordNet related it to (empty for lexicon words)."""

    word: str
    value: float
    position: int
    via: str = ""

    def __iter__(self) -> Iterator[object]:
        return iter((self.word, self.value, self.position))


@dataclass(frozen=True)
class SpeedWord:
    """A speed phrase (``word``), its duration ``factor`` (> 1 slower), token ``position``."""

    word: str
    factor: float
    position: int


@dataclass(frozen=True)
class TextAnalysis:
    """Result of :func:`analyze_text`.

    Attributes:
        tokens: the lower-case words of the text.
        emotion_mentions: emotion phrases in text order.
        intensity_words: intensity phrases in text order.
        unknown_words: words that are neither emotion, intensity, speed, template nor stop words.
        speed_words: speed phrases ("slowly", "suddenly") in text order.
        negated_mentions: emotion phrases under a negation ("not angry"), with the negator
            included in ``word`` — not in ``emotion_mentions``.
    """

    tokens: tuple[str, ...]
    emotion_mentions: list[EmotionMention] = field(default_factory=list)
    intensity_words: list[IntensityWord] = field(default_factory=list)
    unknown_words: list[str] = field(default_factory=list)
    speed_words: list[SpeedWord] = field(default_factory=list)
    negated_mentions: list[EmotionMention] = field(default_factory=list)

    @property
    def speed_factor(self) -> float:
        """Duration factor asked for by the speed words (geometric mean; 1.0 if none)."""
        if not self.speed_words:
            return 1.0
        logs = [math.log(w.factor) for w in self.speed_words]
        return math.exp(sum(logs) / len(logs))

    @property
    def labels(self) -> tuple[str, ...]:
        """Emotion labels in order, consecutive repeats merged."""
        out: list[str] = []
        for mention in self.emotion_mentions:
            if not out or out[-1] != mention.label:
                out.append(mention.label)
        return tuple(out)

    def mention_intensity(self, mention: EmotionMention) -> float:
        """The apex intensity the vocabulary reads for ``mention``: the phrase's own (for a
        WordNet or similarity reading, that of the vocabulary phrase it was related to;
        :data:`PLAIN_INTENSITY` when the lexicon gives none) blended with its intensity word
        (:func:`blended_intensity`): "furious" 0.95, "annoyed" 0.45, "a bit annoyed" 0.415."""
        intrinsic = _intrinsic_intensities()
        base = intrinsic.get(mention.word, intrinsic.get(mention.via, PLAIN_INTENSITY))
        return blended_intensity(base, self.intensity_for(mention))

    def intensity_for(self, mention: EmotionMention) -> float | None:
        """The intensity word right before (or right after, for verbs) a mention, if any."""
        for word in self.intensity_words:
            if word.position + len(word.word.split()) == mention.position:
                return word.value
            if word.position == mention.position + mention.length:
                return word.value
        return None


@lru_cache(maxsize=1)
def _intrinsic_intensities() -> dict[str, float]:
    """Phrase -> its lexicon entry's intrinsic intensity (held-out entries included)."""
    return {entry.text: entry.intensity for entry in LEXICON}


def tokenize(text: str) -> tuple[str, ...]:
    """Lower-case words of ``text`` (letters and inner apostrophes)."""
    return tuple(_WORD.findall(text.lower()))


@lru_cache(maxsize=2)
def _phrase_tables(
    include_heldout: bool = True,
) -> tuple[
    dict[tuple[str, ...], str],
    dict[tuple[str, ...], float],
    dict[tuple[str, ...], float],
    frozenset[str],
]:
    emotions: dict[tuple[str, ...], str] = {}
    for entry in LEXICON:
        if include_heldout or not entry.heldout:
            emotions[tuple(entry.text.split())] = entry.label
    intensities: dict[tuple[str, ...], float] = {}
    for table in (INTENSITY_NOUN_MODIFIERS, INTENSITY_ADVERBS, _EXTRA_VERB_ADVERBS):
        for word, value in table.items():
            if include_heldout or word not in HELDOUT_INTENSITY_WORDS:
                intensities[tuple(word.split())] = value
    speeds = {tuple(word.split()): factor for word, factor in SPEED_WORDS.items()}
    known = STOPWORDS | template_words(include_heldout)
    return emotions, intensities, speeds, known


@lru_cache(maxsize=1)
def _compounds() -> dict[frozenset[str], str]:
    """{two basic labels} → the compound of exactly those parents (the twelve pairs)."""
    basic = set(BASIC_EMOTIONS) - {"neutral"}
    out: dict[frozenset[str], str] = {}
    for label, parents in COMPOUND_PARENTS.items():
        key = frozenset(parents)
        if len(key) == 2 and key <= basic and "_" in label:
            out.setdefault(key, label)
    return out


def _compose(
    tokens: tuple[str, ...], spans: list[tuple[int, int]], text: str,
    mentions: list[EmotionMention],
) -> list[EmotionMention]:  # fmt: skip
    """Merge neighbouring mentions of two basic emotions into their compound, and of one
    emotion into one mention (see module)."""
    compounds = _compounds()
    out: list[EmotionMention] = []
    i = 0
    while i < len(mentions):
        first = mentions[i]
        if i + 1 < len(mentions):
            second = mentions[i + 1]
            end = first.position + first.length
            between = tuple(t for t in tokens[end : second.position] if t not in _ARTICLES)
            gap = text[spans[end - 1][1] : spans[second.position][0]]
            key = frozenset((first.label, second.label))
            # "A, B and C" is a list: B directly after "A," is not composed with C
            in_list = (
                bool(out)
                and out[-1].position + out[-1].length == first.position
                and (text[spans[first.position - 1][1] : spans[first.position][0]].strip() == ",")
            )
            joined = not any(c in gap for c in ",;.!?:") and not in_list
            word = " ".join(tokens[first.position : second.position + second.length])
            if joined and key in compounds and between in _COMPOSE_LINKS:
                out.append(EmotionMention(word, compounds[key], first.position, "composed"))
                i += 2
                continue
            if joined and first.label == second.label and between in _MERGE_LINKS:
                out.append(EmotionMention(word, first.label, first.position, "merged"))
                i += 2
                continue
        out.append(first)
        i += 1
    return out


def _negated(
    tokens: tuple[str, ...], spans: list[tuple[int, int]], text: str, mention: EmotionMention
) -> int | None:
    """Token index of the negator governing ``mention`` ("not angry", "don't be sad")."""
    for back in (1, 2):
        j = mention.position - back
        if j < 0:
            break
        gap = text[spans[j][1] : spans[mention.position][0]]
        if any(c in gap for c in ",;.!?:"):
            break
        if tokens[j] in _NEGATORS:
            return j
    return None


def analyze_text(
    text: str, *, include_heldout: bool = True, knowledge: EmotionKnowledge | None = None
) -> TextAnalysis:
    """Find emotion and intensity phrases in ``text`` (any string; never raises on content).

    ``include_heldout=False`` forgets the corpus' held-out synonyms, intensity words and
    template words: the lexicon then knows exactly what a model trained on the train split
    has seen. ``knowledge`` (e.g. :func:`engines.instructions.knowledge.default_knowledge`)
    grounds words the lexicon does not know through WordNet.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    emotions, intensities, speeds, known = _phrase_tables(include_heldout)
    lowered = text.lower()
    matches = list(_WORD.finditer(lowered))
    tokens = tuple(m.group() for m in matches)
    spans = [m.span() for m in matches]
    mentions: list[EmotionMention] = []
    intensity_words: list[IntensityWord] = []
    unknown: list[str] = []
    speed_words: list[SpeedWord] = []
    consumed = 0  # tokens before this index belong to a phrase already read
    i = 0
    while i < len(tokens):
        matched = False
        for length in range(min(_MAX_PHRASE, len(tokens) - i), 0, -1):
            phrase = tokens[i : i + length]
            if phrase in emotions:
                joined = _joined_phrase(tokens, i, length, emotions, knowledge)
                if joined is not None:  # "settle" + "down" → WordNet's "settle down"
                    mentions.append(joined)
                    length = joined.length
                else:
                    mentions.append(EmotionMention(" ".join(phrase), emotions[phrase], i))
            elif phrase in intensities:
                intensity_words.append(IntensityWord(" ".join(phrase), intensities[phrase], i))
            elif phrase in speeds:
                speed_words.append(SpeedWord(" ".join(phrase), speeds[phrase], i))
            else:
                continue
            i += length
            consumed = i
            matched = True
            break
        if matched:
            continue
        if knowledge is not None and tokens[i] not in known:
            found = _knowledge_mention(tokens, i, known, emotions, knowledge)
            if found is not None:
                mentions.append(found)
                i += found.length
                consumed = i
                continue
            degree = knowledge.lookup_intensity(tokens[i])
            if degree is not None:
                start, stop = i, i + 1  # "a trace of": the article and "of" belong to it
                if i > 0 and tokens[i - 1] in ("a", "an") and tokens[i + 1 : i + 2] == ("of",):
                    start, stop = i - 1, i + 2
                words = " ".join(tokens[start:stop])
                intensity_words.append(IntensityWord(words, degree[1], start, degree[0]))
                i = consumed = stop
                continue
            after = mentions[-1].position + mentions[-1].length if mentions else -1
            similar = _similar_mention(
                tokens, spans, lowered, i, consumed, after, knowledge, include_heldout
            )
            if similar is not None:
                mentions.append(similar)
                covered = set(tokens[similar.position : similar.position + similar.length])
                unknown = [word for word in unknown if word not in covered]
                i = consumed = similar.position + similar.length
                continue
        if tokens[i] not in known and tokens[i] not in unknown:
            unknown.append(tokens[i])
        i += 1
    mentions = _compose(tokens, spans, lowered, mentions)
    kept: list[EmotionMention] = []
    negated: list[EmotionMention] = []
    for mention in mentions:
        negator = _negated(tokens, spans, lowered, mention)
        if negator is None:
            kept.append(mention)
        else:
            word = " ".join(tokens[negator : mention.position + mention.length])
            negated.append(replace(mention, word=word, position=negator))
    if negated and not kept:
        only = negated[0]
        kept = [EmotionMention(only.word, "neutral", only.position, "negation")]
    return TextAnalysis(tokens, kept, intensity_words, unknown, speed_words, negated)


def _joined_phrase(
    tokens: tuple[str, ...],
    start: int,
    length: int,
    emotions: dict[tuple[str, ...], str],
    knowledge: EmotionKnowledge | None,
) -> EmotionMention | None:
    """A lexicon phrase and the one-word lexicon phrase right after it, when together they are
    one WordNet phrase that knowledge grounds ("settle down" is not "settle" then "down")."""
    end = start + length
    if knowledge is None or end >= len(tokens) or (tokens[end],) not in emotions:
        return None
    phrase = " ".join(tokens[start : end + 1])
    if not knowledge.wordnet.synsets(phrase):
        return None
    match = knowledge.lookup(phrase)
    if match is None:
        return None
    return EmotionMention(phrase, match.label, start, "wordnet", match.via)


def _knowledge_mention(
    tokens: tuple[str, ...],
    start: int,
    known: frozenset[str],
    emotions: dict[tuple[str, ...], str],
    knowledge: EmotionKnowledge,
) -> EmotionMention | None:
    """The longest phrase from ``start`` (an unknown word and up to two more, not running into
    a lexicon phrase: "poker face") that WordNet grounds to an emotion."""
    limit = min(_MAX_KNOWLEDGE_PHRASE, len(tokens) - start)
    for length in range(limit, 0, -1):
        phrase = tokens[start : start + length]
        if (length == 1 and phrase[-1] in known) or any(
            tokens[start + k : start + k + 1] and (tokens[start + k],) in emotions
            for k in range(1, length)
        ):
            continue
        match = knowledge.lookup(" ".join(phrase))
        if match is not None:
            return EmotionMention(" ".join(phrase), match.label, start, "wordnet", match.via)
    return None


def _similar_mention(
    tokens: tuple[str, ...],
    spans: list[tuple[int, int]],
    text: str,
    index: int,
    consumed: int,
    mention_end: int,
    knowledge: EmotionKnowledge,
    include_heldout: bool,
) -> EmotionMention | None:
    """The phrase around the unknown word ``tokens[index]`` (it and up to two glue or
    unknown words on each side, within one clause, not reaching back before ``consumed``)
    that sentence similarity grounds best (see :mod:`.similarity`); None without it, and
    for a word that modifies an emotion next to it: right before one ("crazy happy") or
    right after one (``mention_end``: the end of the last mention), "like"/"as" allowed
    between ("smile like crazy")."""
    if knowledge.similarity is None or tokens[index] in _SPAN_GLUE:
        return None
    if len(knowledge.wordnet.synsets(tokens[index])) > knowledge.similarity.config.max_senses:
        return None  # a common word ("see"): see SimilarityConfig.max_senses
    emotions, intensities, speeds, known = _phrase_tables(include_heldout)

    def starts(j: int, *tables: Mapping[tuple[str, ...], object]) -> bool:
        """A phrase of one of ``tables`` begins at token ``j``."""
        return any(
            tokens[j : j + length] in table
            for length in range(1, min(_MAX_PHRASE, len(tokens) - j) + 1)
            for table in tables
        )

    def free(j: int) -> bool:  # glue or unknown, and no known phrase starts here
        if starts(j, emotions, intensities, speeds):
            return False
        return tokens[j] in _SPAN_GLUE or tokens[j] not in known

    def joined(a: int, b: int) -> bool:  # no punctuation between tokens a and b
        return not any(c in text[spans[a][1] : spans[b][0]] for c in ",;.!?:")

    following = index + 1
    if following < len(tokens) and joined(index, following) and starts(following, emotions):
        return None  # a word right before an emotion modifies it: "crazy happy"
    start = index - 1 if index > 0 and tokens[index - 1] in ("like", "as") else index
    if mention_end == start and start > 0 and joined(start - 1, index):
        return None  # ... and so does a word right after one: "smile like crazy"
    first = index
    while first > max(consumed, index - _MAX_SIMILAR_SIDE) and free(first - 1):
        if not joined(first - 1, first):
            break
        first -= 1
    last = index
    while last < min(len(tokens) - 1, index + _MAX_SIMILAR_SIDE) and free(last + 1):
        if not joined(last, last + 1):
            break
        last += 1
    candidates = [(a, b) for a in range(first, index + 1) for b in range(index + 1, last + 2)]
    phrases = [" ".join(tokens[a:b]) for a, b in candidates]
    matches = knowledge.similarity.lookup_many(phrases)
    found = [(match.score, a - b, a, phrase, match)  # most similar first, then shortest
             for (a, b), phrase, match in zip(candidates, phrases, matches, strict=True)
             if match is not None]  # fmt: skip
    if not found:
        return None
    _, _, a, phrase, match = max(found, key=lambda item: item[:2])
    return EmotionMention(phrase, match.label, a, "similar", match.via)
