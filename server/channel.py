"""A control channel: one connection's messages in, the session's events out.

Transport-agnostic: the WebRTC data channel and the websocket both wrap one of these, giving it a
``send(text)`` function. It enforces the per-connection limits (message size, message rate) and
the rate of the client address (a bucket shared by all the address's connections),
parses at the edge and answers every bad message with an ``error`` event on the same connection,
carrying the message's id whenever it can be read, so the session keeps working.

A message over the rate is dropped unread but still answered: ``rate_limited`` with its id
(read cheaply, without validating), at most ``message_rate`` such answers per second with a
burst of ``message_burst`` (a flood never gets more answers than an honest client could send
messages); the dropped ones beyond that, and those without an id, share one answer per second.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

from server.config import ServerConfig
from server.exceptions import AccessError, ServerError
from server.protocol import (
    Done,
    ErrorEvent,
    Event,
    Ping,
    Pong,
    encode_event,
    message_label,
    parse_command,
)
from server.ratelimit import TokenBucket
from server.session import Session

__all__ = ["ControlChannel"]

logger = logging.getLogger(__name__)

_RATE_ERROR_INTERVAL = 1.0  # a dropped message without a readable id: one error per second


class ControlChannel:
    """Binds one connection to a session.

    Args:
        session: the session commanded through this connection.
        send: sends one text message on the connection (must not raise when it is closing).
        config: limits.
        name: for logs ("datachannel 1a2b", "ws 127.0.0.1").
        view_only: the connection may watch but not drive (module docstring).
        client_bucket: the message budget of the connection's client address (shared with its
            other connections); None = this connection's own limit only.
    """

    def __init__(
        self,
        session: Session,
        send: Callable[[str], None],
        config: ServerConfig,
        name: str = "",
        *,
        view_only: bool = False,
        client_bucket: TokenBucket | None = None,
    ) -> None:
        self.session = session
        self.name = name
        self.view_only = view_only
        self._send = send
        self._config = config
        self._bucket = TokenBucket(config.message_rate, config.message_burst)
        self._client_bucket = client_bucket
        self._answer_bucket = TokenBucket(config.message_rate, config.message_burst)
        self._last_rate_error = -1e9
        self.rejected = 0
        self._remove_listener = session.add_listener(self.send_event)
        self._open = True

    def send_event(self, event: Event) -> None:
        if not self._open:
            return
        if self.view_only and isinstance(event, Done) and "thumbnail" in event.result:
            result = {k: v for k, v in event.result.items() if k != "thumbnail"}
            event = dataclasses.replace(event, result=result)
        try:
            self._send(encode_event(event))
        except Exception as error:  # the connection is closing; the session goes on
            logger.debug("%s: send failed: %s", self.name, error)

    def receive(self, raw: str | bytes) -> None:
        """Handle one incoming message (never raises)."""
        if not self._open:
            return
        if not self._bucket.allow():
            self.rejected += 1
            self._answer_rate_limited(raw, f"at most {self._config.message_rate:g} per second")
            return
        if self._client_bucket is not None and not self._client_bucket.allow():
            self.rejected += 1
            limit = f"at most {self._config.client_message_rate:g} per second from one address"
            self._answer_rate_limited(raw, limit)
            return
        try:
            command = parse_command(raw, max_bytes=self._config.max_message_bytes)
        except ServerError as error:  # it carries the message's id when that was readable
            self._send_error(error, error.command_id, error.command)
            return
        if self.view_only and not isinstance(command, Ping):
            refused = AccessError(
                "this connection may only watch: driving the broadcast session needs the "
                "operator token (--token), or this machine when the server has none",
                "view_only",
            )
            self._send_error(refused, command.id, command.TYPE)
            return
        try:
            self.session.handle(command)
        except ServerError as error:  # busy, closed: the answer to this command
            self._send_error(error, command.id, command.TYPE)
            return
        if isinstance(command, Ping):  # to this connection only, never to the session's others
            self.send_event(Pong(id=command.id))

    def _answer_rate_limited(self, raw: str | bytes, limit: str) -> None:
        if self._answer_bucket.allow():
            command_id, kind = message_label(raw, max_bytes=self._config.max_message_bytes)
            if command_id is not None:
                message = (
                    f"Too many messages ({limit}): this one was not handled. "
                    "Wait a second, then send it again."
                )
                self.send_event(
                    ErrorEvent(code="rate_limited", message=message, id=command_id, command=kind)
                )
                return
        now = time.monotonic()
        if now - self._last_rate_error >= _RATE_ERROR_INTERVAL:  # one error per second
            self._last_rate_error = now
            message = f"Too many messages ({limit}): {self.rejected} dropped so far."
            self.send_event(ErrorEvent(code="rate_limited", message=message))

    def _send_error(self, error: ServerError, command_id: str | None, kind: str | None) -> None:
        self.send_event(
            ErrorEvent(
                code=error.code,
                message=error.message,
                id=command_id,
                command=kind,
                details=error.details,
            )
        )

    def close(self) -> None:
        self._open = False
        self._remove_listener()
