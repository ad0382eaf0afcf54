"""Errors raised by ``engines.i2fet``: one small hierarchy."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "CheckpointError",
    "I2FETError",
    "InstructionError",
    "InstructionNotUnderstoodError",
    "TrainingDataError",
]


class I2FETError(Exception):
    """Base class of every ``engines.i2fet`` error."""


class CheckpointError(I2FETError):
    """A checkpoint is missing, unreadable, or was made for another configuration."""


class TrainingDataError(I2FETError, ValueError):
    """The training samples are empty or malformed."""


class InstructionError(I2FETError, ValueError):
    """An instruction cannot be turned into a plan (bad type, empty, too long, ...)."""


class InstructionNotUnderstoodError(InstructionError):
    """The instruction names no emotion the planner understands.

    Attributes:
        understood: what was recognised anyway (emotion labels, possibly empty).
        unknown_words: words that are not in the vocabulary.
        examples: instructions that do work, to show the user.
    """

    def __init__(
        self,
        text: str,
        *,
        understood: Sequence[str] = (),
        unknown_words: Sequence[str] = (),
        examples: Sequence[str] = (),
    ) -> None:
        self.text = text
        self.understood = tuple(understood)
        self.unknown_words = tuple(unknown_words)
        self.examples = list(examples)
        parts = [f"no emotion understood in {text!r}"]
        if self.understood:
            parts.append(f"understood: {', '.join(self.understood)}")
        if self.unknown_words:
            parts.append("unknown words: " + ", ".join(repr(w) for w in self.unknown_words))
        if self.examples:
            parts.append("try e.g. " + "; ".join(repr(e) for e in self.examples))
        super().__init__(". ".join(parts))
