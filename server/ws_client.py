"""A small websocket client of the Facecast protocol (for OBS or stream-deck scripts).

``facecast send "Turn this face from disgust to happiness" --url ws://127.0.0.1:8080/ws`` uses
:func:`send_instruction`: it connects (to the broadcast session, or ``?session=<id>`` with that
session's key), sends one ``instruct`` and returns the events up to the instruction's ``done``
(or ``error``). The operator token and the session key go in headers (``X-Facecast-Token``,
``X-Facecast-Key``), never in the URL.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import websockets

__all__ = ["send_command", "send_instruction", "with_query"]


def with_query(url: str, **params: str | None) -> str:
    """``url`` with the given query parameters added (None values are left out)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update({k: v for k, v in params.items() if v is not None})
    return urlunsplit(parts._replace(query=urlencode(query)))


async def send_command(
    url: str,
    command: dict[str, Any],
    *,
    token: str | None = None,
    session: str | None = None,
    key: str | None = None,
    timeout: float = 60.0,
    on_event: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Send ``command`` and collect events until its ``done`` or ``error``.

    ``token``: the operator token (the broadcast); ``key``: the key of ``session``.

    ``on_event`` sees the events of this command and those without an id (status, message
    errors), not the other commands of a shared session (e.g. the kiosk's demo loop).

    Raises:
        TimeoutError: nothing final arrived within ``timeout`` seconds.
        OSError / websockets.InvalidStatus: the server cannot be reached or refused us.
    """
    command = {"id": uuid.uuid4().hex[:8], **command}
    target = with_query(url, session=session)
    headers = {
        name: value
        for name, value in (("X-Facecast-Token", token), ("X-Facecast-Key", key))
        if value is not None
    }
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    async with websockets.connect(
        target, open_timeout=min(timeout, 10.0), additional_headers=headers
    ) as ws:
        await ws.send(json.dumps(command, ensure_ascii=False))  # UTF-8: a text at the limit fits
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no answer to {command['type']} within {timeout:g} s")
            raw = await asyncio.wait_for(ws.recv(), remaining)
            event = json.loads(raw)
            events.append(event)
            if on_event is not None and event.get("id") in (command["id"], None):
                on_event(event)
            final = event.get("type") in ("done", "error") and (
                event.get("id") == command["id"] or event.get("id") is None
            )
            if event.get("type") == "error" and event.get("id") is None:
                return events  # a message-level error (bad message, rate limit, ...)
            if final and event.get("command") in (command["type"], None):
                return events


async def send_instruction(
    url: str,
    text: str,
    *,
    intensity: float | None = None,
    token: str | None = None,
    session: str | None = None,
    key: str | None = None,
    timeout: float = 60.0,
    on_event: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Send one ``instruct`` and collect the events up to its ``done``/``error``."""
    command: dict[str, Any] = {"type": "instruct", "text": text}
    if intensity is not None:
        command["intensity"] = intensity
    return await send_command(
        url,
        command,
        token=token,
        session=session,
        key=key,
        timeout=timeout,
        on_event=on_event,
    )
