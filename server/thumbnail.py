"""Small JPEG previews sent to clients (e.g. the webcam frame chosen as the source)."""

from __future__ import annotations

import base64

import cv2
import numpy as np
from numpy.typing import NDArray

__all__ = ["jpeg_data_url"]


def jpeg_data_url(image: NDArray[np.uint8], max_side: int = 160, quality: int = 80) -> str:
    """``data:image/jpeg;base64,...`` of (H, W, 3) uint8 RGB ``image`` scaled to ``max_side``."""
    height, width = image.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(
        ".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    if not ok:
        raise ValueError("cannot encode the preview")
    return "data:image/jpeg;base64," + base64.b64encode(encoded.tobytes()).decode("ascii")
