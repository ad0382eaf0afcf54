"""Errors raised by ``engines.dynamics``: one small hierarchy."""

from __future__ import annotations

__all__ = [
    "CheckpointError",
    "DynamicsError",
    "HierarchyError",
    "MotionLabelError",
]


class DynamicsError(Exception):
    """Base class of every ``engines.dynamics`` error."""


class HierarchyError(DynamicsError):
    """The mesh hierarchy cannot be built or its cache does not match the face model."""


class CheckpointError(DynamicsError):
    """A dynamics checkpoint is missing, unreadable, or made for another mesh hierarchy."""


class MotionLabelError(DynamicsError, ValueError):
    """A motion label request the model cannot take (unknown label, bad durations, ...)."""
