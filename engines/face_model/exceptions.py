"""Errors raised by ``engines.face_model``: one small hierarchy."""

from __future__ import annotations

__all__ = [
    "ChecksumMismatchError",
    "FaceModelError",
    "ModelDownloadError",
    "ModelFilesNotFoundError",
    "ModelFormatError",
]


class FaceModelError(Exception):
    """Base class of every face-model error."""


class ModelFilesNotFoundError(FaceModelError):
    """The model files are not in any of the places searched and could not be downloaded."""


class ModelDownloadError(FaceModelError):
    """Downloading the model files failed (network, HTTP status, interrupted transfer)."""


class ChecksumMismatchError(FaceModelError):
    """A model file's SHA-256 differs from the pinned one."""


class ModelFormatError(FaceModelError):
    """A model file is malformed (OBJ with the wrong vertex count, bad FLAME pickle, ...)."""
