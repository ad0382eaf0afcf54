"""Errors of the VTuber outputs (VMC, iFacialMocap)."""

from __future__ import annotations

__all__ = ["BadTargetError", "VtuberConfigError", "VtuberError"]


class VtuberError(Exception):
    """Base class of the VTuber output errors."""


class VtuberConfigError(VtuberError, ValueError):
    """A bad setting (name style, neck share, ...): the message says what is valid."""


class BadTargetError(VtuberConfigError):
    """A ``HOST[:PORT]`` receiver address that is malformed or does not resolve."""
