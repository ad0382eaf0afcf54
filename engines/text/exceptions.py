"""Errors raised by ``engines.text``: one small hierarchy."""

from __future__ import annotations

__all__ = ["EncoderUnavailableError", "TextEncoderError", "TextInputError"]


class TextEncoderError(Exception):
    """Base class of every text-encoder error."""


class EncoderUnavailableError(TextEncoderError):
    """The requested encoder cannot be built here (unknown name, weights or package missing)."""


class TextInputError(TextEncoderError, ValueError):
    """The texts given to ``encode`` are not a sequence of strings."""
