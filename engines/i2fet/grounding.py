"""Vocabulary grounding: append the emotions the lexicon reads in a text, in order.

``"look livid"`` → ``"look livid || anger"``. The I2FET model is trained with the grounding
suffix on half of its samples and without it on the other half, so it reads both: with a
suffix (the planner adds one whenever the vocabulary recognises an emotion word) the slots
follow the vocabulary's reading; without one (words the vocabulary does not know) the model
reads the raw text. ``facecast eval`` reports both ("grounded" and "text_only").
"""

from __future__ import annotations

import logging
import re

__all__ = [
    "GROUNDING_SEPARATOR",
    "ground_text",
    "lexicon_mentions",
    "lexicon_reading",
    "mask_mentions",
]

logger = logging.getLogger(__name__)

GROUNDING_SEPARATOR = " || "


def lexicon_reading(text: str) -> tuple[list[str], list[str]]:
    """(emotion labels in text order, unknown words) from the vocabulary's lexicon analysis."""
    try:
        from engines.instructions import analyze_text
    except ImportError:  # pragma: no cover - the vocabulary ships with the project
        logger.warning("engines.instructions unavailable: no lexicon reading")
        return [], []
    analysis = analyze_text(text)
    return [m.label for m in analysis.emotion_mentions], list(analysis.unknown_words)


def lexicon_mentions(text: str) -> list[tuple[str, str]]:
    """(phrase, label) of every emotion mention the vocabulary finds, in text order."""
    try:
        from engines.instructions import analyze_text
    except ImportError:  # pragma: no cover
        return []
    return [(m.word, m.label) for m in analyze_text(text).emotion_mentions]


def mask_mentions(text: str, phrases: list[str], replacement: str) -> str:
    """Replace each emotion phrase (case-insensitive, first occurrence each) by ``replacement``.

    Used in training so that a grounded text's emotions are readable from the suffix only:
    the model learns to trust the vocabulary's reading over words it cannot place.
    """
    for phrase in phrases:
        pattern = r"\b" + r"\W+".join(re.escape(w) for w in phrase.split()) + r"\b"
        text = re.sub(pattern, replacement, text, count=1, flags=re.IGNORECASE)
    return text


def ground_text(text: str, labels: list[str] | tuple[str, ...]) -> str:
    """``text`` plus the suffix naming ``labels`` in order (unchanged when ``labels`` is empty)."""
    if not labels:
        return text
    words = " then ".join(label.replace("_", " ") for label in labels)
    return f"{text}{GROUNDING_SEPARATOR}{words}"
