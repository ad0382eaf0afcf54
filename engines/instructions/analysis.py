"""Lexicon analysis of an instruction: which emotions it names, with which intensity words.

This is a transparent word-level reading used for user-facing messages ("understood:
anger, then happiness; unknown words: 'blorf'") and as a rule-based baseline planner. It
lower-cases the text, splits it into words and matches the longest known phrase at each
position ("burst out laughing" before "laughing"). Negation is out of scope: "not happy"
reads as a mention of happiness.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from engines.instructions.templates import template_words
from engines.instructions.vocabulary import (
    _EXTRA_VERB_ADVERBS,
    HELDOUT_INTENSITY_WORDS,
    INTENSITY_ADVERBS,
    INTENSITY_NOUN_MODIFIERS,
    LEXICON,
    SPEED_WORDS,
)

__all__ = [
    "STOPWORDS",
    "EmotionMention",
    "IntensityWord",
    "SpeedWord",
    "TextAnalysis",
    "analyze_text",
    "tokenize",
]

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_MAX_PHRASE = 8

_STOPWORD_TEXT = """
a an the and or but then to from into of in on at with for by as is are was be been this
that these those it its her his him them their they she he you your me my i we our us
please now just can could would will should do does make let lets let's want like face
expression look looks looking go goes going get gets become becomes turn turns show
shows some more less very not no don't dont also again still while after before first
second third next finally last lastly end start begin little bit back up over avatar
person girl boy woman man guy lady someone somebody okay ok hey hi so really am i'm im
feel feels feeling seem seems kind sort bit lot way when what how
"""
STOPWORDS: frozenset[str] = frozenset(_STOPWORD_TEXT.split())


@dataclass(frozen=True)
class EmotionMention:
    """A phrase naming an emotion: ``word`` (the phrase), ``label``, token ``position``."""

    word: str
    label: str
    position: int

    def __iter__(self) -> Iterator[object]:
        # allows ``word, label, position = mention`` (the contract's tuple form)
        return iter((self.word, self.label, self.position))


@dataclass(frozen=True)
class IntensityWord:
    """An intensity phrase (``word``), the apex ``value`` it asks for, token ``position``."""

    word: str
    value: float
    position: int

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
    """

    tokens: tuple[str, ...]
    emotion_mentions: list[EmotionMention] = field(default_factory=list)
    intensity_words: list[IntensityWord] = field(default_factory=list)
    unknown_words: list[str] = field(default_factory=list)
    speed_words: list[SpeedWord] = field(default_factory=list)

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

    def intensity_for(self, mention: EmotionMention) -> float | None:
        """The intensity word right before (or right after, for verbs) a mention, if any."""
        for word in self.intensity_words:
            if word.position + len(word.word.split()) == mention.position:
                return word.value
            if word.position == mention.position + len(mention.word.split()):
                return word.value
        return None


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
    known = STOPWORDS | template_words()
    return emotions, intensities, speeds, known


def analyze_text(text: str, *, include_heldout: bool = True) -> TextAnalysis:
    """Find emotion and intensity phrases in ``text`` (any string; never raises on content).

    ``include_heldout=False`` forgets the corpus' held-out synonyms and intensity words: the
    lexicon then knows exactly what a model trained on the train split has seen.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    emotions, intensities, speeds, known = _phrase_tables(include_heldout)
    tokens = tokenize(text)
    mentions: list[EmotionMention] = []
    intensity_words: list[IntensityWord] = []
    unknown: list[str] = []
    speed_words: list[SpeedWord] = []
    i = 0
    while i < len(tokens):
        matched = False
        for length in range(min(_MAX_PHRASE, len(tokens) - i), 0, -1):
            phrase = tokens[i : i + length]
            if phrase in emotions:
                mentions.append(EmotionMention(" ".join(phrase), emotions[phrase], i))
            elif phrase in intensities:
                intensity_words.append(IntensityWord(" ".join(phrase), intensities[phrase], i))
            elif phrase in speeds:
                speed_words.append(SpeedWord(" ".join(phrase), speeds[phrase], i))
            else:
                continue
            i += length
            matched = True
            break
        if not matched:
            if tokens[i] not in known and tokens[i] not in unknown:
                unknown.append(tokens[i])
            i += 1
    return TextAnalysis(tokens, mentions, intensity_words, unknown, speed_words)
