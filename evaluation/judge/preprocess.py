"""fer's own face detection and crop preprocessing, reproduced from ``fer/fer.py`` (25.10.3).

What ``FER(use_tflite=False).detect_emotions(bgr)`` does, step by step, and the function here
that does the same for an RGB image:

1. grey = ``cv2.cvtColor(bgr, COLOR_BGR2GRAY)`` -> :func:`to_gray` (``COLOR_RGB2GRAY`` on RGB
   gives the identical uint8 image: the same weights applied to the same channels).
2. boxes = Haar ``detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5,
   flags=CASCADE_SCALE_IMAGE, minSize=(50, 50))``, the cascade file being
   ``cv2.data.haarcascades + "haarcascade_frontalface_default.xml"`` when none is given ->
   :class:`FaceDetector`.
3. grey is padded by 40 px on every side with one constant: the mean of its *bottom two rows*
   (``FER.pad``) -> :func:`pad_gray`.
4. per box (x, y, w, h): ``tosquare`` grows the shorter side to the longer one, centred
   (floor division: an odd difference puts the extra pixel right/below) -> :func:`square_box`;
   ``__apply_offsets`` widens it by (10, 10) on each side; the 40 px padding is added to the
   coordinates; only x1 and y1 are clamped at 0 (the far edges are clamped by numpy slicing)
   -> :func:`crop_box`; the crop is ``cv2.resize``-d (bilinear) to 64 x 64 -> :func:`crop_face`.
5. scaled = ``(crop / 255.0 - 0.5) * 2.0`` in float32, i.e. [-1, 1] (``__preprocess_input``
   with v2=True) -> :func:`scale_face`.

The box fer reports is the detector's box (x, y, w, h), not the squared/offset crop.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from .exceptions import OPENCV_INSTALL_HINT, JudgeError, JudgeInputError, JudgeUnavailableError

__all__ = [
    "CASCADE_FILE",
    "FER_PADDING",
    "FaceDetector",
    "crop_box",
    "crop_face",
    "default_cascade_path",
    "pad_gray",
    "scale_face",
    "square_box",
    "to_gray",
    "validate_rgb",
]

logger = logging.getLogger(__name__)

CASCADE_FILE = "haarcascade_frontalface_default.xml"
FER_PADDING = 40  # fer.fer.PADDING

Box = tuple[int, int, int, int]


def _cv2() -> Any:
    """The cv2 module, checked for the Haar cascade API (OpenCV 4.x)."""
    try:
        import cv2
    except ImportError as error:
        raise JudgeUnavailableError(f"OpenCV is not installed; {OPENCV_INSTALL_HINT}") from error
    if not hasattr(cv2, "CascadeClassifier"):
        raise JudgeUnavailableError(
            f"this cv2 ({getattr(cv2, '__version__', '?')}) has no CascadeClassifier; "
            f"{OPENCV_INSTALL_HINT}"
        )
    return cv2


def validate_rgb(image_rgb: Any) -> np.ndarray:
    """Check an RGB image: (H, W, 3) uint8 ndarray; returns it C-contiguous.

    Raises:
        JudgeInputError: any other type, dtype or shape.
    """
    if not isinstance(image_rgb, np.ndarray):
        raise JudgeInputError(
            f"expected an RGB image as a numpy array, got {type(image_rgb).__name__}"
        )
    if image_rgb.dtype != np.uint8:
        raise JudgeInputError(f"expected a uint8 RGB image, got dtype {image_rgb.dtype}")
    if (
        image_rgb.ndim != 3
        or image_rgb.shape[2] != 3
        or image_rgb.shape[0] < 1
        or image_rgb.shape[1] < 1
    ):
        raise JudgeInputError(f"expected an (H, W, 3) RGB image, got shape {image_rgb.shape}")
    return np.ascontiguousarray(image_rgb)


def to_gray(image_rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (H, W) uint8 grey, exactly fer's BGR2GRAY on the same pixels."""
    cv2 = _cv2()
    return np.asarray(cv2.cvtColor(validate_rgb(image_rgb), cv2.COLOR_RGB2GRAY))


def default_cascade_path() -> Path:
    """The frontal-face Haar cascade fer uses by default: OpenCV's own copy (cv2.data).

    Falls back to the (same cascade, older XML format) copy in fer's wheel when this OpenCV
    build has no cv2.data.

    Raises:
        JudgeUnavailableError: neither file exists.
    """
    cv2 = _cv2()
    candidates = []
    haarcascades = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if haarcascades:
        candidates.append(Path(haarcascades) / CASCADE_FILE)
    try:
        from .weights import fer_data_dir

        candidates.append(fer_data_dir() / CASCADE_FILE)
    except JudgeUnavailableError:
        pass
    for path in candidates:
        if path.is_file():
            return path
    raise JudgeUnavailableError(
        f"no {CASCADE_FILE} found (looked at {[str(p) for p in candidates]}); {OPENCV_INSTALL_HINT}"
    )


class FaceDetector:
    """OpenCV's Haar frontal-face cascade with fer's parameters.

    Args:
        cascade_path: the cascade XML; ``None`` -> :func:`default_cascade_path`.
        scale_factor, min_neighbors, min_face_size: ``detectMultiScale`` parameters
            (fer: 1.1, 5, 50).

    Raises:
        JudgeUnavailableError: OpenCV without CascadeClassifier, or no cascade file.
        JudgeError: the cascade file does not load.
    """

    def __init__(
        self,
        cascade_path: str | Path | None = None,
        *,
        scale_factor: float = 1.1,
        min_neighbors: int = 5,
        min_face_size: int = 50,
    ) -> None:
        cv2 = _cv2()
        path = default_cascade_path() if cascade_path is None else Path(cascade_path)
        classifier = cv2.CascadeClassifier(str(path))
        if classifier.empty():
            raise JudgeError(f"OpenCV could not load the Haar cascade {path}")
        self._cv2 = cv2
        self._classifier = classifier
        self._scale_factor = scale_factor
        self._min_neighbors = min_neighbors
        self._min_face_size = min_face_size
        self.cascade_path = path

    def detect(self, gray: np.ndarray) -> list[Box]:
        """Face boxes (x, y, w, h) in a (H, W) uint8 grey image, in OpenCV's order."""
        faces = self._classifier.detectMultiScale(
            gray,
            scaleFactor=self._scale_factor,
            minNeighbors=self._min_neighbors,
            flags=self._cv2.CASCADE_SCALE_IMAGE,
            minSize=(self._min_face_size, self._min_face_size),
        )
        return [(int(x), int(y), int(w), int(h)) for x, y, w, h in np.reshape(faces, (-1, 4))]


def pad_gray(gray: np.ndarray, padding: int = FER_PADDING) -> np.ndarray:
    """fer's ``pad``: (H, W) -> (H + 2p, W + 2p), filled with the mean of the bottom 2 rows.

    The fill is a float handed to ``cv2.copyMakeBorder``, which rounds it to uint8.
    """
    cv2 = _cv2()
    rows = gray.shape[0]
    mean = cv2.mean(gray[rows - 2 : rows, :])[0]
    return np.asarray(
        cv2.copyMakeBorder(
            gray,
            top=padding,
            bottom=padding,
            left=padding,
            right=padding,
            borderType=cv2.BORDER_CONSTANT,
            value=[mean, mean, mean],
        )
    )


def square_box(box: Box) -> Box:
    """fer's ``tosquare``: grow the shorter side to the longer, shifting x/y by diff // 2."""
    x, y, w, h = box
    if h > w:
        diff = h - w
        x, w = x - diff // 2, w + diff
    elif w > h:
        diff = w - h
        y, h = y - diff // 2, h + diff
    return (x, y, w, h)


def crop_box(box: Box, offsets: tuple[int, int] = (10, 10), padding: int = FER_PADDING) -> Box:
    """The slice (x1, y1, x2, y2) fer takes from the *padded* grey image for a detector box.

    ``tosquare``, then ``__apply_offsets`` (x1 = x - ox, x2 = x + w + ox, same for y), then
    shifted by ``padding``; x1 and y1 (only) are clamped at 0, as in fer.
    """
    x, y, w, h = square_box(box)
    x_off, y_off = offsets
    x1, x2 = x - x_off + padding, x + w + x_off + padding
    y1, y2 = y - y_off + padding, y + h + y_off + padding
    return (max(0, x1), max(0, y1), x2, y2)


def crop_face(
    padded_gray: np.ndarray,
    box: Box,
    offsets: tuple[int, int] = (10, 10),
    size: tuple[int, int] = (64, 64),
    padding: int = FER_PADDING,
) -> np.ndarray | None:
    """fer's crop of one detector box from :func:`pad_gray`'s output, resized (bilinear).

    Returns:
        (size[1], size[0]) uint8 grey face, or None when the crop is empty (fer skips it).
    """
    cv2 = _cv2()
    x1, y1, x2, y2 = crop_box(box, offsets, padding)
    region = padded_gray[y1:y2, x1:x2]
    if region.size == 0:
        logger.debug("empty crop for box %s", box)
        return None
    return np.asarray(cv2.resize(region, size))


def scale_face(gray_faces: np.ndarray) -> np.ndarray:
    """uint8 grey faces (..., H, W) -> float32 in [-1, 1]: ``(x / 255 - 0.5) * 2`` as fer."""
    faces = np.asarray(gray_faces, dtype=np.float32) / np.float32(255.0)
    return (faces - np.float32(0.5)) * np.float32(2.0)
