"""Errors raised by ``engines.avatar``."""

from __future__ import annotations

__all__ = ["AvatarError", "AvatarFormatError"]


class AvatarError(Exception):
    """Base class of avatar errors."""


class AvatarFormatError(AvatarError):
    """An avatar file is unreadable, of an unknown version, or inconsistent."""
