"""Vocabulary grounding: name the emotions the lexicon reads in a text, in order.

``"look extremely livid, then smile"`` → ``"look extremely something, then something ||
anger then happiness"``: each emotion phrase the vocabulary recognises is replaced by a
placeholder word and the canonical labels are appended. The I2FET model is trained on grounded
texts half of the time and on raw texts otherwise, so it reads both: grounded (the planner's
default whenever the vocabulary recognises 1..4 emotion phrases), the labels come from the
vocabulary and the model supplies count, intensity (from the words around the placeholders),
expression and pose; raw (words the vocabulary does not know), the model reads the text alone.
``facecast eval`` reports both ("grounded" and "text_only") and, to measure generalisation to
unseen words, grounding with the training vocabulary only ("train_vocab"): the vocabulary
contains the corpus' held-out synonyms, so full-vocabulary grounding does not.
"""

from __future__ import annotations

import logging
import re

__all__ = [
    "GROUNDING_SEPARATOR",
    "PLACEHOLDER",
    "ground_text",
    "grounded_text",
    "lexicon_mentions",
    "lexicon_reading",
    "mask_mentions",
]

logger = logging.getLogger(__name__)

GROUNDING_SEPARATOR = " || "
PLACEHOLDER = "something"


def lexicon_reading(text: str) -> tuple[list[str], list[str]]:
    """(emotion labels in text order, unknown words) from the vocabulary's lexicon analysis."""
    try:
        from engines.instructions import analyze_text
    except ImportError:  # pragma: no cover - the vocabulary ships with the project
        logger.warning("engines.instructions unavailable: no lexicon reading")
        return [], []
    analysis = analyze_text(text)
    return [m.label for m in analysis.emotion_mentions], list(analysis.unknown_words)


def lexicon_mentions(text: str, include_heldout: bool = True) -> list[tuple[str, str]]:
    """(phrase, label) of every emotion mention the vocabulary finds, in text order.

    ``include_heldout=False`` uses the training vocabulary only (the corpus' held-out synonyms
    are unknown words then), so held-out phrasings must be read by the text encoder.
    """
    try:
        from engines.instructions import analyze_text
    except ImportError:  # pragma: no cover
        return []
    analysis = analyze_text(text, include_heldout=include_heldout)
    return [(m.word, m.label) for m in analysis.emotion_mentions]


def mask_mentions(text: str, phrases: list[str], replacement: str) -> str:
    """Replace each emotion phrase (case-insensitive, first occurrence each) by ``replacement``.

    Used in training so that a grounded text's emotions are readable from the suffix only:
    the model learns to trust the vocabulary's reading over words it cannot place.
    """
    for phrase in phrases:
        pattern = r"\b" + r"\W+".join(re.escape(w) for w in phrase.split()) + r"\b"
        text = re.sub(pattern, replacement, text, count=1, flags=re.IGNORECASE)
    return text


def grounded_text(
    text: str, max_mentions: int = 4, include_heldout: bool = True
) -> tuple[str, list[str]]:
    """The grounded form of ``text`` and the labels read (``text`` unchanged and [] when the
    vocabulary finds no emotion phrase or more than ``max_mentions``).

    ``include_heldout=False`` grounds with the training vocabulary only: phrases it does not
    know stay in the text unmasked and unnamed (the honest held-out evaluation).
    """
    mentions = lexicon_mentions(text, include_heldout)
    if not mentions or len(mentions) > max_mentions:
        return text, []
    labels = [label for _, label in mentions]
    masked = mask_mentions(text, [phrase for phrase, _ in mentions], PLACEHOLDER)
    return ground_text(masked, labels), labels


def ground_text(text: str, labels: list[str] | tuple[str, ...]) -> str:
    """``text`` plus the suffix naming ``labels`` in order (unchanged when ``labels`` is empty)."""
    if not labels:
        return text
    words = " then ".join(label.replace("_", " ") for label in labels)
    return f"{text}{GROUNDING_SEPARATOR}{words}"
