"""Errors raised by the instruction vocabulary and corpus generator."""

from __future__ import annotations

__all__ = ["InstructionsError", "UnknownEmotionError"]


class InstructionsError(Exception):
    """Base class of every error raised by ``engines.instructions``."""


class UnknownEmotionError(InstructionsError, ValueError):
    """An emotion label that is not one of :data:`engines.instructions.EMOTIONS`."""
