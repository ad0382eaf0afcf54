"""Errors raised by ``calibration``: one small hierarchy.

Third-party errors (OpenCV decoding, mediapipe) are translated into these at the boundary.
"""

from __future__ import annotations

__all__ = [
    "CalibrationError",
    "ImageDecodeError",
    "ImageError",
    "ImageTooLargeError",
    "NoFaceError",
]


class CalibrationError(Exception):
    """Base class of every calibration error."""


class ImageError(CalibrationError):
    """The input image cannot be used."""


class ImageDecodeError(ImageError):
    """The bytes are not a decodable image (empty, random bytes, text, truncated file)."""


class ImageTooLargeError(ImageError):
    """The image has more pixels than allowed (checked from the header before decoding)."""


class NoFaceError(CalibrationError):
    """No face was found in the image (or in any of the frames)."""
