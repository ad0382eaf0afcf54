"""The frame a session shows before it has an avatar (so the video plays from the start)."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

__all__ = ["placeholder_frame"]


def placeholder_frame(size: int, message: str = "Capture or upload a face") -> NDArray[np.uint8]:
    """(size, size, 3) uint8 RGB: a dark gradient with a face outline and ``message``."""
    ramp = np.linspace(24, 56, size, dtype=np.float32)
    image = np.empty((size, size, 3), np.uint8)
    image[...] = np.stack([ramp * 0.8, ramp * 0.9, ramp * 1.3], axis=-1)[:, None, :].astype(
        np.uint8
    )
    center = (size // 2, int(size * 0.42))
    axes = (int(size * 0.17), int(size * 0.23))
    cv2.ellipse(image, center, axes, 0, 0, 360, (120, 140, 190), max(1, size // 128), cv2.LINE_AA)
    scale = size / 640
    thickness = max(1, round(size / 320))
    (width, _), _ = cv2.getTextSize(message, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    origin = (max(4, (size - width) // 2), int(size * 0.8))
    cv2.putText(
        image,
        message,
        origin,
        cv2.FONT_HERSHEY_SIMPLEX,
        scale,
        (220, 225, 240),
        thickness,
        cv2.LINE_AA,
    )
    return image
