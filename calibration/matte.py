"""The person in the source frame (face, hair, neck, shoulders) as a soft matte.

mediapipe 0.10.21's selfie segmentation (the "general" 256×256 model, shipped in the wheel)
gives each pixel the probability that it shows a person. The renderer carries this matte
with the head like the photo (``engines.render.matte``), so that a chroma-key or transparent
output (the OBS overlay) keys out the photo's own background and keeps the hair that lies
beyond the face model's outline.

mediapipe's graphs are not thread-safe: :class:`PersonSegmenter` serialises calls with a lock.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["PersonSegmenter"]


class PersonSegmenter:
    """mediapipe selfie segmentation behind a lock; the graph is created on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._graph: Any = None
        self._closed = False

    def matte(self, image: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """(H, W) uint8 matte (255 = person, 0 = background, soft in between) of an
        (H, W, 3) uint8 RGB frame."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {image.shape}")
        with self._lock:
            if self._closed:
                raise RuntimeError("the person segmenter is closed")
            if self._graph is None:
                import mediapipe as mp

                self._graph = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)
            result = self._graph.process(np.ascontiguousarray(image))
        mask = np.asarray(result.segmentation_mask, np.float32)
        return np.asarray(np.clip(mask * 255.0 + 0.5, 0, 255), np.uint8)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._graph is not None:
                self._graph.close()
                self._graph = None
