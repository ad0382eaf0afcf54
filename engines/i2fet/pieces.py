"""Cut a long instruction into pieces I2FET reads at once: sentences, then clauses, then words.

I2FET was trained on instructions of at most 135 characters (33 wordllama tokens) and its text
encoder cuts a text at 64 tokens, so a long text would lose its end, and with it the emotions it
names there (and the grounded labels appended after it). ``InstructionPlanner`` plans a text
longer than ``PlannerConfig.piece_chars`` piece by piece instead, each piece from where the
previous one ends, the way it plans a chain longer than the model reads.

Cuts fall after a sentence's end (``. ! ? … ;`` or a line break); a sentence still too long is
cut at its clause breaks (after ``, : — –``, before "then", "after that", "finally", ...) and
its clauses packed back together up to the limit; a clause still too long is cut between words.
Nothing is left out: the pieces, in order, hold every word of the text.
"""

from __future__ import annotations

import re

__all__ = ["split_long_text"]

_SENTENCE_BREAK = re.compile(r"(?<=[.!?…;])\s+|\s*\n\s*")
_CLAUSE_BREAK = re.compile(
    r"(?<=[,:—–])\s+|\s+(?=(?:and then|then|after that|afterwards|and finally|finally|"
    r"next|later|until|before)\b)",
    re.IGNORECASE,
)


def split_long_text(text: str, max_chars: int) -> list[str]:
    """``text`` as consecutive pieces of at most ``max_chars`` characters each (white space at
    the cuts dropped), ``[text.strip()]`` when it is not longer than that.

    "Good morning. Please look surprised, then smile." with 30 → ["Good morning.",
    "Please look surprised,", "then smile."].

    Raises:
        ValueError: ``max_chars`` < 1.
    """
    if max_chars < 1:
        raise ValueError(f"max_chars must be >= 1, got {max_chars}")
    text = text.strip()
    if len(text) <= max_chars:
        return [text] if text else []
    pieces: list[str] = []
    for sentence in _parts(_SENTENCE_BREAK, text):
        if len(sentence) <= max_chars:
            pieces.append(sentence)
            continue
        clauses: list[str] = []
        for clause in _parts(_CLAUSE_BREAK, sentence):
            clauses.extend([clause] if len(clause) <= max_chars else _words(clause, max_chars))
        pieces.extend(_packed(clauses, max_chars))
    return pieces


def _parts(pattern: re.Pattern[str], text: str) -> list[str]:
    return [part.strip() for part in pattern.split(text) if part and part.strip()]


def _packed(parts: list[str], max_chars: int) -> list[str]:
    """Consecutive ``parts`` joined by spaces into as few pieces of at most ``max_chars``."""
    pieces: list[str] = []
    for part in parts:
        if pieces and len(pieces[-1]) + 1 + len(part) <= max_chars:
            pieces[-1] = f"{pieces[-1]} {part}"
        else:
            pieces.append(part)
    return pieces


def _words(clause: str, max_chars: int) -> list[str]:
    """A clause cut between words (a word longer than ``max_chars`` is cut inside)."""
    words: list[str] = []
    for word in clause.split():
        words.extend(word[i : i + max_chars] for i in range(0, len(word), max_chars))
    return _packed(words, max_chars)
