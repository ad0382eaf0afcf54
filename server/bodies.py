"""Request bodies read within a byte budget: a body is refused as soon as it outgrows its
route's limit, whatever its ``Content-Length`` says (or when it has none: chunked encoding).

aiohttp's ``client_max_size`` bounds ``request.read()`` only; a multipart body read part by part
has no bound of its own (``/capture`` once accepted 12 parts of 10 MiB: 126 MB). Every route
that reads a body goes through here. The time a body may take is bounded by the caller
(``asyncio.timeout(config.body_timeout)``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from server.exceptions import LimitError, ServerError

__all__ = ["BodyTooLargeError", "MultipartError", "multipart_fields", "read_body"]

_CHUNK = 64 * 1024


class BodyTooLargeError(LimitError):
    """A body (or one part of it) over its limit: HTTP 413 with this code."""


class MultipartError(ServerError):
    """A multipart body aiohttp cannot read (bad or missing boundary, bad part headers)."""

    code = "bad_upload"


async def read_body(request: web.Request, limit: int, code: str, what: str) -> bytes:
    """The whole body, at most ``limit`` bytes.

    Raises:
        BodyTooLargeError: ``code``, as soon as ``Content-Length`` or the bytes read pass
            ``limit`` (the rest is not read).
    """
    too_large = BodyTooLargeError(f"{what} is larger than {_size(limit)}", code)
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def multipart_fields(
    request: web.Request,
    names: tuple[str, ...],
    *,
    max_part: int,
    max_total: int,
    part_code: str,
    total_code: str,
) -> AsyncIterator[tuple[str, bytes]]:
    """``(name, bytes)`` of each part named one of ``names``, in order.

    Every part counts towards ``max_total`` (also the ones skipped); a kept part is at most
    ``max_part`` bytes.

    Raises:
        BodyTooLargeError: ``part_code`` or ``total_code``, as soon as a limit is passed.
        MultipartError: a malformed body (bad or missing boundary, bad part headers, truncated
            part), wherever in the body the fault is.
    """
    if request.content_length is not None and request.content_length > max_total:
        raise BodyTooLargeError(f"the body is larger than {_size(max_total)}", total_code)
    total = 0
    try:
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader):  # a nested multipart: not ours
                raise MultipartError("nested multipart bodies are not accepted")
            keep = part.name in names
            chunks: list[bytes] = []
            size = 0
            while not part.at_eof():  # as BodyPartReader.read: a truncated part raises
                chunk = await part.read_chunk(_CHUNK)
                size += len(chunk)
                total += len(chunk)
                if total > max_total:
                    raise BodyTooLargeError(
                        f"the body is larger than {_size(max_total)}", total_code
                    )
                if keep:
                    if size > max_part:
                        raise BodyTooLargeError(
                            f"a {part.name!r} part is larger than {_size(max_part)}", part_code
                        )
                    chunks.append(chunk)
            if keep:
                yield str(part.name), b"".join(chunks)
    except (ValueError, HttpProcessingError) as error:  # aiohttp's malformed-multipart errors
        message = getattr(error, "message", None) or str(error)
        raise MultipartError(f"cannot read the multipart body: {message}".strip()) from None


def _size(limit: int) -> str:
    return f"{limit / (1024 * 1024):g} MiB" if limit >= 1024 * 1024 else f"{limit // 1024} KiB"
