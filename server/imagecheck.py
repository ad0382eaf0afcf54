"""How many pixels an uploaded image will decode to, read from its header without decoding it.

A small file can hold a huge image (a 155 KB PNG of 40 Mpx decodes to 120 MB of RGB). The server
asks this module before any decode: PIL's ``Image.open`` reads the header only; for a JPEG the
size is the one after DCT scaling (``draft``), which is how JPEGs are decoded (a 48 Mpx phone
JPEG decodes at half or a quarter of its side, like calibration.load_image does).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from server.exceptions import EngineInputError

__all__ = ["ImageHeader", "read_header"]


@dataclass(frozen=True)
class ImageHeader:
    """What an image file says about itself.

    Attributes:
        format: PIL's format name ("JPEG", "PNG", ...).
        width, height: the stored size, pixels.
        decoded_pixels: pixels a decode produces (after DCT scaling for a JPEG).
    """

    format: str
    width: int
    height: int
    decoded_pixels: int


def read_header(data: bytes, max_side: int) -> ImageHeader:
    """The header of the encoded image ``data`` (no pixel is decoded).

    Args:
        data: the file's bytes.
        max_side: the longer side the server scales images to (a JPEG is decoded at the
            smallest DCT scale that still covers it).

    Raises:
        EngineInputError: ``bad_image`` when ``data`` is not an image PIL can identify.
    """
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise EngineInputError("the uploaded file is empty (0 bytes)", "bad_image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                file_format = str(image.format or "unknown")
                decoded = width * height
                if file_format == "JPEG" and max(width, height) > max_side:
                    image.draft("RGB", (max_side, max_side))  # sets the size, decodes nothing
                    decoded = image.size[0] * image.size[1]
    except Image.DecompressionBombError as error:  # over twice PIL's own 89 Mpx limit
        raise EngineInputError(f"the image is far too large: {error}", "image_too_large") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise EngineInputError(
            f"the uploaded file is not an image this server reads (PNG or JPEG expected): {error}",
            "bad_image",
        ) from None
    if width <= 0 or height <= 0:
        raise EngineInputError(f"the image has no pixels ({width}x{height})", "bad_image")
    return ImageHeader(file_format, int(width), int(height), int(decoded))
