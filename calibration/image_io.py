"""Read an image file (or bytes) safely: size checked from the header, bad files rejected clearly.

* Empty input, random bytes, text and truncated files raise :class:`ImageDecodeError`.
* The pixel count is read from the header before any decoding. A JPEG larger than
  ``max_pixels`` is decoded directly at 1/2, 1/4 or 1/8 scale (libjpeg's DCT scaling, so the
  full-size bitmap never exists in memory); any other format over ``max_pixels`` (and a JPEG
  still over it at 1/8 scale) raises :class:`ImageTooLargeError`.
* EXIF orientation is applied, every mode becomes RGB, and the result is downscaled so that
  its longer side is at most ``max_side``.
"""

from __future__ import annotations

import io
import logging
import os
import warnings
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from calibration.exceptions import ImageDecodeError, ImageTooLargeError

__all__ = ["load_image", "resize_longer_side"]

logger = logging.getLogger(__name__)

_JPEG_DRAFT_FACTOR = 8


def resize_longer_side(image: NDArray[np.uint8], max_side: int) -> NDArray[np.uint8]:
    """Downscale (area filter) so that the longer side is at most ``max_side``; never upscale."""
    height, width = image.shape[:2]
    longer = max(height, width)
    if longer <= max_side:
        return image
    factor = max_side / longer
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return np.ascontiguousarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA))


def _read_bytes(source: str | os.PathLike[str] | bytes) -> tuple[bytes, str]:
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source), "<bytes>"
    path = Path(source)
    try:
        return path.read_bytes(), str(path)
    except FileNotFoundError:
        raise ImageDecodeError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageDecodeError(f"{path} is a directory, not an image") from None
    except OSError as error:
        raise ImageDecodeError(f"cannot read {path}: {error}") from error


def load_image(
    source: str | os.PathLike[str] | bytes,
    *,
    max_pixels: int = 40_000_000,
    max_side: int = 2048,
) -> NDArray[np.uint8]:
    """Decode an image into (H, W, 3) uint8 RGB with the longer side at most ``max_side``.

    Args:
        source: a file path or the encoded bytes (JPEG, PNG, WebP, BMP, TIFF, ...).
        max_pixels: largest pixel count accepted (from the header, before decoding).
        max_side: the result is downscaled so that its longer side is at most this.

    Raises:
        ImageDecodeError: empty, not an image, or corrupt/truncated.
        ImageTooLargeError: more than ``max_pixels`` pixels (see the module docstring).
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    if max_pixels <= 0 or max_side <= 0:
        raise ValueError("max_pixels and max_side must be positive")
    data, name = _read_bytes(source)
    if not data:
        raise ImageDecodeError(f"{name} is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            previous_limit = Image.MAX_IMAGE_PIXELS
            try:
                Image.MAX_IMAGE_PIXELS = None  # our own limit below, from the header
                image = Image.open(io.BytesIO(data))
                width, height = image.size
                pixels = width * height
                if width <= 0 or height <= 0:
                    raise ImageDecodeError(f"{name}: image has no pixels ({width}x{height})")
                if pixels > max_pixels:
                    fits_at_eighth = pixels / _JPEG_DRAFT_FACTOR**2 <= max_pixels
                    if image.format != "JPEG" or not fits_at_eighth:
                        raise ImageTooLargeError(
                            f"{name}: {width}x{height} = {pixels / 1e6:.0f} Mpx exceeds the "
                            f"limit of {max_pixels / 1e6:.0f} Mpx; downscale it first (e.g. to "
                            f"{max_side} px on the longer side)"
                        )
                if image.format == "JPEG" and max(width, height) > max_side:
                    # Decode at the smallest DCT scale that still covers max_side.
                    image.draft("RGB", (max_side, max_side))
                    logger.info("decoding %s at reduced scale %s", name, image.size)
                image.load()
            finally:
                Image.MAX_IMAGE_PIXELS = previous_limit
            upright: Image.Image = ImageOps.exif_transpose(image)
            if upright.mode != "RGB":
                if upright.mode in ("RGBA", "LA", "PA") or (
                    upright.mode == "P" and "transparency" in upright.info
                ):
                    upright = upright.convert("RGBA")
                    background = Image.new("RGBA", upright.size, (255, 255, 255, 255))
                    upright = Image.alpha_composite(background, upright)
                upright = upright.convert("RGB")
            array = np.asarray(upright, dtype=np.uint8)
    except (ImageDecodeError, ImageTooLargeError):
        raise
    except UnidentifiedImageError:
        raise ImageDecodeError(
            f"{name} is not an image file this program can read (JPEG, PNG, WebP, BMP, TIFF, ...)"
        ) from None
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        raise ImageDecodeError(f"{name}: corrupt or truncated image ({error})") from error
    except Image.DecompressionBombError as error:
        raise ImageTooLargeError(f"{name}: {error}") from error
    if array.ndim != 3 or array.shape[2] != 3:
        raise ImageDecodeError(f"{name}: unexpected decoded shape {array.shape}")
    return resize_longer_side(np.ascontiguousarray(array), max_side)
