"""Errors of the fidelity evaluation."""

from __future__ import annotations

__all__ = ["FidelityError", "NoPhotosError"]


class FidelityError(Exception):
    """Base class of ``evaluation.fidelity`` errors."""


class NoPhotosError(FidelityError):
    """The photo folder holds no readable image, or none in which a face was fitted."""
