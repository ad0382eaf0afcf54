"""Errors raised by ``engines.runtime``."""

from __future__ import annotations

__all__ = ["BackendUnavailableError", "InputSpecError", "RuntimeBackendError"]


class RuntimeBackendError(Exception):
    """Base class of inference-backend errors."""


class BackendUnavailableError(RuntimeBackendError):
    """The backend (or its execution provider / GPU) is not installed or not usable here."""


class InputSpecError(RuntimeBackendError, ValueError):
    """Inputs do not match the predictor's input spec (names, rank, fixed sizes, dtype)."""
