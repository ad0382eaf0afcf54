"""Errors raised by the instruction vocabulary and corpus generator."""

from __future__ import annotations

__all__ = ["InstructionsError", "NotUnderstoodError", "UnknownEmotionError"]


class InstructionsError(Exception):
    """Base class of every error raised by ``engines.instructions``."""


class UnknownEmotionError(InstructionsError, ValueError):
    """An emotion label that is not one of :data:`engines.instructions.EMOTIONS`."""


class NotUnderstoodError(InstructionsError, ValueError):
    """The text names no emotion the lexicon knows.

    Attributes:
        understood: what was understood (emotion labels; empty here, kept for symmetry
            with ``engines.i2fet.InstructionNotUnderstoodError``).
        unknown_words: words the lexicon does not know.
        examples: instructions that work, to show the user.
    """

    def __init__(
        self,
        message: str,
        *,
        understood: tuple[str, ...] = (),
        unknown_words: tuple[str, ...] = (),
        examples: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.understood = understood
        self.unknown_words = unknown_words
        self.examples = list(examples)
