"""Errors raised by the renderer (one small hierarchy)."""

from __future__ import annotations

__all__ = ["AvatarMismatchError", "RenderError", "RenderInputError"]


class RenderError(Exception):
    """Base class of every renderer error."""


class AvatarMismatchError(RenderError, ValueError):
    """The avatar does not fit the face model (vertex count, identity modes, missing extras)."""


class RenderInputError(RenderError, ValueError):
    """A per-frame input (expression, pose) has the wrong shape or is not finite."""
