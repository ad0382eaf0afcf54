"""Vocabulary grounding: append the emotions the lexicon reads in a text, in order.

``"look livid"`` → ``"look livid || anger"``. The I2FET model is trained with the grounding
suffix on half of its samples and without it on the other half, so it reads both: with a
suffix (the planner adds one whenever the vocabulary recognises an emotion word) the slots
follow the vocabulary's reading; without one (words the vocabulary does not know) the model
reads the raw text. ``facecast eval`` reports both ("grounded" and "text_only").
"""

from __future__ import annotations

import logging

__all__ = ["GROUNDING_SEPARATOR", "ground_text", "lexicon_reading"]

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


def ground_text(text: str, labels: list[str] | tuple[str, ...]) -> str:
    """``text`` plus the suffix naming ``labels`` in order (unchanged when ``labels`` is empty)."""
    if not labels:
        return text
    words = " then ".join(label.replace("_", " ") for label in labels)
    return f"{text}{GROUNDING_SEPARATOR}{words}"
