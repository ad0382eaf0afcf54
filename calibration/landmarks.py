"""Face detection and the 478 mediapipe face-mesh landmarks (models ship in the wheel).

mediapipe's ``FaceMesh`` objects are not thread-safe: :class:`LandmarkDetector` serialises
calls with a lock, so one detector may be shared by threads (calls then run one at a time).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["NUM_LANDMARKS", "DetectedFace", "LandmarkDetector", "LandmarkDetectorConfig"]

logger = logging.getLogger(__name__)

NUM_LANDMARKS = 478
_MIN_SIDE = 16


@dataclass(frozen=True)
class LandmarkDetectorConfig:
    """mediapipe face-mesh settings.

    Attributes:
        max_faces: how many faces mediapipe looks for (the largest is used for fitting).
        min_detection_confidence: face detector threshold in [0, 1].
        refine_landmarks: 478 landmarks (with irises) instead of 468.
    """

    max_faces: int = 4
    min_detection_confidence: float = 0.5
    refine_landmarks: bool = True

    def __post_init__(self) -> None:
        if self.max_faces < 1:
            raise ValueError(f"max_faces must be >= 1, got {self.max_faces}")
        if not 0.0 <= self.min_detection_confidence <= 1.0:
            raise ValueError(
                f"min_detection_confidence must be in [0, 1], got {self.min_detection_confidence}"
            )
        if not self.refine_landmarks:
            raise ValueError("refine_landmarks must be True: the fit uses all 478 landmarks")


@dataclass(frozen=True)
class DetectedFace:
    """One face found by mediapipe.

    Attributes:
        points: (478, 2) float32 landmark pixels ``(u, w)`` (column, row).
        depth: (478,) float32 mediapipe's relative depth in pixels (smaller is closer).
        box: ``(u0, w0, u1, w1)`` landmark bounding box in pixels.
    """

    points: NDArray[np.float32]
    depth: NDArray[np.float32]
    box: tuple[float, float, float, float]

    @property
    def area(self) -> float:
        u0, w0, u1, w1 = self.box
        return max(u1 - u0, 0.0) * max(w1 - w0, 0.0)


class LandmarkDetector:
    """mediapipe face mesh in static-image mode behind a lock."""

    def __init__(self, config: LandmarkDetectorConfig | None = None) -> None:
        import mediapipe as mp

        self.config = config or LandmarkDetectorConfig()
        self._lock = threading.Lock()
        self._mesh: Any = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True,
            max_num_faces=self.config.max_faces,
            refine_landmarks=self.config.refine_landmarks,
            min_detection_confidence=self.config.min_detection_confidence,
        )

    def close(self) -> None:
        """Release mediapipe's graph."""
        with self._lock:
            self._mesh.close()

    def detect(self, image: NDArray[np.uint8]) -> list[DetectedFace]:
        """All faces in ``image``, largest first (an empty list when there is none).

        Args:
            image: (H, W, 3) uint8 RGB.
        """
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(
                f"expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}"
            )
        height, width = image.shape[:2]
        if min(height, width) < _MIN_SIDE:
            return []
        rgb = np.ascontiguousarray(image)
        with self._lock:
            result = self._mesh.process(rgb)
        faces: list[DetectedFace] = []
        for face in result.multi_face_landmarks or []:
            coords = np.array([(p.x, p.y, p.z) for p in face.landmark], np.float64)
            if coords.shape[0] != NUM_LANDMARKS:
                logger.warning("mediapipe returned %d landmarks, skipping", coords.shape[0])
                continue
            points = np.stack([coords[:, 0] * width, coords[:, 1] * height], 1).astype(np.float32)
            depth = (coords[:, 2] * width).astype(np.float32)
            lo, hi = points.min(0), points.max(0)
            box = (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))
            faces.append(DetectedFace(points=points, depth=depth, box=box))
        faces.sort(key=lambda f: f.area, reverse=True)
        return faces
