"""Vocabulary grounding: name the emotions the lexicon reads in a text, in order.

``"look extremely livid, then smile"`` → ``"look extremely something, then something ||
anger then happiness"``: each emotion phrase the vocabulary recognises is replaced by a
placeholder word and the canonical labels are appended. The I2FET model is trained on grounded
texts part of the time (``TrainConfig.grounding_prob``; some of them grounded only in part, see
``partial_grounding_prob``) and on raw texts otherwise, so it reads both: grounded (the
planner's default whenever 1..4 emotion phrases are recognised), the labels come from the
vocabulary and the model supplies count, intensity (from the words around the placeholders),
expression and pose; raw, the model reads the text alone.

Words the vocabulary does not know are grounded through WordNet when it is installed
(``use_knowledge``, see ``engines.instructions.knowledge``): third-party knowledge about
English words, never the corpus' held-out lists; unknown intensity words are replaced by a
known WordNet synonym. Two basic emotions joined by "and"/"but"/"in"/"with" name their
compound; negated emotions ("not angry") are removed before grounding (see
``engines.instructions.analysis``).

``facecast eval`` reports the planner's grounding ("full" vocabulary, which contains the
corpus' held-out synonyms) and, to measure generalisation to unseen words honestly, grounding
with the training vocabulary only ("train_vocab", with and without WordNet), and text only.
"""

from __future__ import annotations

import logging
import re

__all__ = [
    "GROUNDING_SEPARATOR",
    "PLACEHOLDER",
    "ground_mentions",
    "ground_text",
    "grounded_reading",
    "grounded_text",
    "lexicon_mentions",
    "lexicon_reading",
    "mask_mentions",
    "split_at_mentions",
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
    from engines.instructions.knowledge import default_knowledge

    analysis = analyze_text(text, knowledge=default_knowledge(True))
    return [m.label for m in analysis.emotion_mentions], list(analysis.unknown_words)


def lexicon_mentions(
    text: str,
    include_heldout: bool = True,
    use_knowledge: bool = True,
    use_similarity: bool = True,
) -> list[tuple[str, str]]:
    """(phrase, label) of every emotion mention the vocabulary finds, in text order.

    ``include_heldout=False`` uses the training vocabulary only (the corpus' held-out synonyms
    are unknown words then), so held-out phrasings must be read by the text encoder or
    grounded through WordNet (``use_knowledge``, when installed) and, for what WordNet
    cannot place, by sentence similarity (``use_similarity``, when installed).
    """
    return _mentions(text, include_heldout, use_knowledge, use_similarity)[0]


def _mentions(
    text: str, include_heldout: bool, use_knowledge: bool, use_similarity: bool = True
) -> tuple[list[tuple[str, str]], list[str], list[tuple[str, str]], list[float]]:
    """(mentions, negated phrases, (intensity word, known word to put instead), the apex
    intensity the vocabulary reads for each mention) of ``text``."""
    try:
        from engines.instructions import analyze_text
        from engines.instructions.knowledge import default_knowledge
    except ImportError:  # pragma: no cover
        return [], [], [], []
    knowledge = default_knowledge(include_heldout, use_similarity) if use_knowledge else None
    analysis = analyze_text(text, include_heldout=include_heldout, knowledge=knowledge)
    mentions = [(m.word, m.label) for m in analysis.emotion_mentions]
    intensities = [analysis.mention_intensity(m) for m in analysis.emotion_mentions]
    negated = [m.word for m in analysis.negated_mentions]
    if any(m.source == "negation" for m in analysis.emotion_mentions):
        negated = []  # the negated phrase itself stands for "neutral"
    swaps = []
    for found in analysis.intensity_words:
        if found.via:  # "exceedingly" → "extremely", "a trace of" → "a hint of"
            words = found.word.split()
            known = f"{words[0]} {found.via} {words[-1]}" if len(words) == 3 else found.via
            swaps.append((found.word, known))
    return mentions, negated, swaps, intensities


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
    text: str,
    max_mentions: int = 4,
    include_heldout: bool = True,
    use_knowledge: bool = True,
    use_similarity: bool = True,
) -> tuple[str, list[str]]:
    """The grounded form of ``text`` and the labels read (``text`` unchanged and [] when the
    vocabulary finds no emotion phrase or more than ``max_mentions``).

    ``include_heldout=False`` grounds with the training vocabulary only: phrases it does not
    know stay in the text unmasked and unnamed unless WordNet grounds them
    (``use_knowledge``; the honest held-out evaluation) or, failing WordNet, sentence
    similarity (``use_similarity``). With WordNet, unknown intensity words
    are replaced by the known intensity word they share a sense with ("exceedingly" →
    "extremely").
    """
    grounded, labels, _ = grounded_reading(
        text, max_mentions, include_heldout, use_knowledge, use_similarity
    )
    return grounded, labels


def grounded_reading(
    text: str,
    max_mentions: int = 4,
    include_heldout: bool = True,
    use_knowledge: bool = True,
    use_similarity: bool = True,
) -> tuple[str, list[str], list[float]]:
    """:func:`grounded_text` and the apex intensity the vocabulary reads for each label.

    Masking a phrase hides its own strength from the model ("annoyed", "angry" and
    "furious" all ground to "something || anger"); the intensities (the phrase's own, blended
    with its intensity word: ``TextAnalysis.mention_intensity``) let the planner give it
    back. Empty lists when nothing is grounded.
    """
    mentions, negated, swaps, intensities = _mentions(
        text, include_heldout, use_knowledge, use_similarity
    )
    if not mentions or len(mentions) > max_mentions:
        return text, [], []
    for phrase, known in swaps:
        text = mask_mentions(text, [phrase], known)
    labels = [label for _, label in mentions]
    return ground_mentions(text, mentions, negated), labels, intensities


def ground_mentions(
    text: str, mentions: list[tuple[str, str]], negated: list[str] | tuple[str, ...] = ()
) -> str:
    """``text`` with the ``mentions`` (phrase, label) masked and named in the suffix and the
    ``negated`` phrases removed; mentions left out stay in the text as they are (training
    with partial grounding passes a subset)."""
    if negated:
        text = mask_mentions(text, list(negated), "")
    masked = mask_mentions(text, [phrase for phrase, _ in mentions], PLACEHOLDER)
    return ground_text(masked, [label for _, label in mentions])


def ground_text(text: str, labels: list[str] | tuple[str, ...]) -> str:
    """``text`` plus the suffix naming ``labels`` in order (unchanged when ``labels`` is empty)."""
    if not labels:
        return text
    words = " then ".join(label.replace("_", " ") for label in labels)
    return f"{text}{GROUNDING_SEPARATOR}{words}"


def split_at_mentions(text: str, max_mentions: int) -> list[str]:
    """``text`` cut into consecutive pieces that each name at most ``max_mentions`` emotion
    phrases (whole lexicon and WordNet), each cut made just before a phrase; ``[text]`` when it
    names no more than that. "happy then sad then happy then sad then happy" with 4 →
    ["happy then sad then happy then sad ", "then happy"] — I2FET reads at most
    ``max_anchors`` emotions at once, so a longer chain is planned piece by piece."""
    if max_mentions < 1:
        raise ValueError(f"max_mentions must be >= 1, got {max_mentions}")
    from engines.instructions import analyze_text
    from engines.instructions.analysis import WORD_PATTERN
    from engines.instructions.knowledge import default_knowledge

    mentions = analyze_text(text, knowledge=default_knowledge(True)).emotion_mentions
    if len(mentions) <= max_mentions:
        return [text]
    starts = [match.start() for match in WORD_PATTERN.finditer(text.lower())]
    pieces, begin = [], 0
    for index in range(max_mentions, len(mentions), max_mentions):
        # cut after the last word of the previous piece's last phrase, before the connector
        last = mentions[index - 1]
        end_token = last.position + last.length
        cut = starts[end_token] if end_token < len(starts) else len(text)
        pieces.append(text[begin:cut])
        begin = cut
    pieces.append(text[begin:])
    return [piece for piece in pieces if piece.strip()]
