"""Errors raised by ``engines.transition``."""

from __future__ import annotations

__all__ = ["TransitionError"]


class TransitionError(ValueError):
    """A plan or start state the transition builder cannot turn into a timeline."""
