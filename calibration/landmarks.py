"""Face detection and the 478 mediapipe face-mesh landmarks (models ship in the wheel).

Two stages, both mediapipe 0.10.21 solutions: the full-range face detector (faces up to ~5 m,
so small faces in large or group photos are found) gives boxes; the face mesh then runs on a
square crop around each box (1.8x its size, resized to :data:`CROP_SIDE` px), and the landmarks
are mapped back to the image. When the detector finds nothing, the face mesh runs on the
whole image once (its own short-range detector) as a fallback, and then the detector runs on
overlapping tiles (:data:`TILE_SIDE` px or half the shorter side, half-tile stride) so that
small faces in large frames (a face ~90 px wide in a 1920x1080 frame) are still found.

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
CROP_SIDE = 512
CROP_FACTOR = 1.8
TILE_SIDE = 640
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
        self._closed = False
        self._detector: Any = mp.solutions.face_detection.FaceDetection(
            model_selection=1, min_detection_confidence=self.config.min_detection_confidence
        )
        self._mesh: Any = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True,
            max_num_faces=1,
            refine_landmarks=self.config.refine_landmarks,
            min_detection_confidence=self.config.min_detection_confidence,
        )
        self._full_mesh: Any = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True,
            max_num_faces=self.config.max_faces,
            refine_landmarks=self.config.refine_landmarks,
            min_detection_confidence=self.config.min_detection_confidence,
        )

    def close(self) -> None:
        """Release mediapipe's graphs (idempotent; detecting afterwards raises)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._detector.close()
            self._mesh.close()
            self._full_mesh.close()

    def _boxes(self, rgb: NDArray[np.uint8]) -> list[tuple[float, float, float, float]]:
        """Detector boxes ``(u0, w0, u1, w1)`` in pixels, largest first."""
        height, width = rgb.shape[:2]
        result = self._detector.process(rgb)
        boxes = []
        for detection in result.detections or []:
            rel = detection.location_data.relative_bounding_box
            u0, w0 = rel.xmin * width, rel.ymin * height
            boxes.append((u0, w0, u0 + rel.width * width, w0 + rel.height * height))
        boxes.sort(key=_box_area, reverse=True)
        return boxes[: self.config.max_faces]

    def _tiled_boxes(self, rgb: NDArray[np.uint8]) -> list[tuple[float, float, float, float]]:
        """Detector boxes found on overlapping tiles (for small faces in large frames)."""
        height, width = rgb.shape[:2]
        tile = max(TILE_SIDE, min(height, width) // 2)
        if max(height, width) <= tile * 1.25:
            return []
        stride = tile // 2

        def starts(length: int) -> list[int]:
            if length <= tile:
                return [0]
            return sorted({*range(0, length - tile, stride), length - tile})

        boxes: list[tuple[float, float, float, float]] = []
        for y0 in starts(height):
            for x0 in starts(width):
                crop = np.ascontiguousarray(rgb[y0 : y0 + tile, x0 : x0 + tile])
                for u0, w0, u1, w1 in self._boxes(crop):
                    boxes.append((u0 + x0, w0 + y0, u1 + x0, w1 + y0))
        kept: list[tuple[float, float, float, float]] = []
        for box in sorted(boxes, key=_box_area, reverse=True):
            if all(_iou(box, other) < 0.3 for other in kept):
                kept.append(box)
        return kept[: self.config.max_faces]

    def _mesh_in_box(
        self, rgb: NDArray[np.uint8], box: tuple[float, float, float, float]
    ) -> DetectedFace | None:
        """Run the face mesh on a square crop around a detector box."""
        import cv2

        height, width = rgb.shape[:2]
        side = CROP_FACTOR * max(box[2] - box[0], box[3] - box[1])
        cu, cw = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        x0, y0 = round(cu - side / 2), round(cw - side / 2)
        size = max(round(side), 8)
        crop = np.zeros((size, size, 3), np.uint8)
        sx0, sy0 = max(x0, 0), max(y0, 0)
        sx1, sy1 = min(x0 + size, width), min(y0 + size, height)
        if sx1 <= sx0 or sy1 <= sy0:
            return None
        crop[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = rgb[sy0:sy1, sx0:sx1]
        zoom = CROP_SIDE / size
        interpolation = cv2.INTER_AREA if zoom < 1 else cv2.INTER_LINEAR
        resized = np.ascontiguousarray(
            cv2.resize(crop, (CROP_SIDE, CROP_SIDE), interpolation=interpolation), np.uint8
        )
        faces = self._to_faces(self._mesh.process(resized), CROP_SIDE, CROP_SIDE)
        if not faces:
            return None
        face = faces[0]
        points = face.points / zoom + np.array([x0, y0], np.float32)
        return _make_face(points.astype(np.float32), (face.depth / zoom).astype(np.float32))

    @staticmethod
    def _to_faces(result: Any, width: int, height: int) -> list[DetectedFace]:
        faces: list[DetectedFace] = []
        for face in result.multi_face_landmarks or []:
            coords = np.array([(p.x, p.y, p.z) for p in face.landmark], np.float64)
            if coords.shape[0] != NUM_LANDMARKS:
                logger.warning("mediapipe returned %d landmarks, skipping", coords.shape[0])
                continue
            points = np.stack([coords[:, 0] * width, coords[:, 1] * height], 1).astype(np.float32)
            faces.append(_make_face(points, (coords[:, 2] * width).astype(np.float32)))
        return faces

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
            if self._closed:
                raise RuntimeError("this LandmarkDetector is closed")
            faces = [f for f in (self._mesh_in_box(rgb, b) for b in self._boxes(rgb)) if f]
            if not faces:
                faces = self._to_faces(self._full_mesh.process(rgb), width, height)
            if not faces:
                tiled = (self._mesh_in_box(rgb, b) for b in self._tiled_boxes(rgb))
                faces = [f for f in tiled if f]
        faces.sort(key=lambda f: f.area, reverse=True)
        return faces


def _box_area(box: tuple[float, float, float, float]) -> float:
    return max(box[2] - box[0], 0.0) * max(box[3] - box[1], 0.0)


def _iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    inter = _box_area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))
    union = _box_area(a) + _box_area(b) - inter
    return inter / union if union > 0 else 0.0


def _make_face(points: NDArray[np.float32], depth: NDArray[np.float32]) -> DetectedFace:
    lo, hi = points.min(0), points.max(0)
    box = (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))
    return DetectedFace(points=points, depth=depth, box=box)
