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

:func:`repeated_pieces` cuts the same way for a count: a clause that says how many times
("frown three times in a row", "smile twice", "blink 4 times") becomes that many copies of
itself without the count, planned one after another like any chain (each relaxing through
the neutral midpoint); at most :data:`MAX_REPEATS` times.
"""

from __future__ import annotations

import re

__all__ = ["MAX_REPEATS", "repeated_pieces", "split_long_text"]

_SENTENCE_BREAK = re.compile(r"(?<=[.!?…;])\s+|\s*\n\s*")
_CLAUSE_BREAK = re.compile(
    r"(?<=[,:—–])\s+|\s+(?=(?:and then|then|after that|afterwards|and finally|finally|"
    r"next|later|until|before)\b)",
    re.IGNORECASE,
)


# A count of repetitions ends a clause: "twice", "three times", "4 times", optionally "in a
# row" / "in succession" / "running" / "over"; "twice as long" is a duration, not a count.
_NUMBERS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
            "nine": 9, "ten": 10}  # fmt: skip
_REPEAT = re.compile(
    r"\b(?:(twice|thrice)|(\d{1,4}|" + "|".join(_NUMBERS) + r")\s+times)"
    r"(?:\s+(?:in\s+a\s+row|in\s+succession|running|over))?\b(?!\s+as\b)",
    re.IGNORECASE,
)
MAX_REPEATS = 5  # "smile 100 times" smiles five times: a chain is planned piece by piece


def repeated_pieces(text: str) -> list[str] | None:
    """``text`` as pieces with every counted clause repeated, or None when no clause counts.

    "frown three times in a row" → ["frown", "frown", "frown"]; "look surprised, then smile
    twice" → ["look surprised,", "then smile", "then smile"]; "smile, twice" repeats the clause
    before the count. A count above :data:`MAX_REPEATS` gives that many; "once", "one time"
    and "0 times" are not repetitions.
    """
    pieces: list[str] = []
    counted = False
    for sentence in _parts(_SENTENCE_BREAK, text.strip()):
        for clause in _parts(_CLAUSE_BREAK, sentence):
            match = _REPEAT.search(clause)
            if match is None:
                pieces.append(clause)
                continue
            word, number = match.group(1), match.group(2)
            if word:
                count = 2 if word.lower() == "twice" else 3
            else:
                count = int(number) if number.isdigit() else _NUMBERS[number.lower()]
            count = min(count, MAX_REPEATS)
            # every count of the clause goes ("smile 5 times 5 times" is five smiles)
            rest = re.sub(r"\s+", " ", _REPEAT.sub(" ", clause))
            rest = re.sub(r"\s+([,.!?;:…])", r"\1", rest).strip()
            if count < 2:
                pieces.append(rest or clause)
                continue
            counted = True
            if any(ch.isalpha() for ch in rest):
                pieces.extend([rest] * count)
            elif pieces:  # "smile, twice": the clause before
                pieces.extend([pieces[-1]] * (count - 1))
    return pieces if counted else None


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
