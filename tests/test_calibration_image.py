"""load_image: bad files get clear errors; huge images are refused or decoded downscaled."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from calibration import ImageDecodeError, ImageTooLargeError, load_image


def _encode(array: np.ndarray, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (IDAT is tiny and wrong: never decoded)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0"))
        + chunk(b"IEND", b"")
    )  # fmt: skip


def test_reads_jpeg_png_and_converts_modes(astronaut, tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(_encode(astronaut, "PNG"))
    np.testing.assert_array_equal(load_image(path), astronaut)
    jpeg = load_image(_encode(astronaut, "JPEG", quality=95))
    assert jpeg.shape == astronaut.shape and jpeg.dtype == np.uint8
    assert np.abs(jpeg.astype(int) - astronaut).mean() < 4
    rgba = np.dstack([astronaut, np.full(astronaut.shape[:2], 255, np.uint8)])
    np.testing.assert_array_equal(load_image(_encode(rgba, "PNG")), astronaut)
    gray = load_image(_encode(astronaut[..., 0], "PNG"))
    assert gray.shape == astronaut.shape
    np.testing.assert_array_equal(gray[..., 1], astronaut[..., 0])


def test_downscales_to_max_side(astronaut):
    small = load_image(_encode(astronaut, "PNG"), max_side=200)
    assert small.shape == (200, 200, 3)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "empty"),
        (np.random.default_rng(0).bytes(5000), "not an image"),
        (b"name,value\n1,2\nhello world\n" * 20, "not an image"),
    ],
    ids=["empty", "random", "text"],
)
def test_bad_bytes(data, match):
    with pytest.raises(ImageDecodeError, match=match):
        load_image(data)


def test_truncated_jpeg(astronaut):
    data = _encode(astronaut, "JPEG", quality=90)
    with pytest.raises(ImageDecodeError, match=r"truncated|corrupt"):
        load_image(data[: len(data) // 2])


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ImageDecodeError, match="no such file"):
        load_image(tmp_path / "missing.jpg")
    with pytest.raises(ImageDecodeError, match="directory"):
        load_image(tmp_path)


def test_huge_png_refused_from_header():
    with pytest.raises(ImageTooLargeError, match="10000x10000"):
        load_image(_png_header_only(10000, 10000))


def test_huge_jpeg_decoded_at_reduced_scale():
    """A 10000x10000 JPEG is decoded by libjpeg at 1/4 scale (never 300 MB in memory)."""
    big = Image.new("L", (10000, 10000), 128)
    buffer = io.BytesIO()
    big.save(buffer, format="JPEG", quality=50)
    del big
    image = load_image(buffer.getvalue(), max_side=2048)
    assert image.shape == (2048, 2048, 3)
    assert abs(int(image.mean()) - 128) <= 2


def test_bad_limits():
    with pytest.raises(ValueError):
        load_image(b"x", max_side=0)
