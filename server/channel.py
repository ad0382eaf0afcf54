"""A control channel: one connection's messages in, the session's events out.

Transport-agnostic: the WebRTC data channel and the websocket both wrap one of these, giving it a
``send(text)`` function. It enforces the per-connection limits (message size, message rate),
parses at the edge and answers every bad message with an ``error`` event on the same connection,
so the session keeps working.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from server.config import ServerConfig
from server.exceptions import ServerError
from server.protocol import ErrorEvent, Event, Ping, Pong, encode_event, parse_command
from server.ratelimit import TokenBucket
from server.session import Session

__all__ = ["ControlChannel"]

logger = logging.getLogger(__name__)

_RATE_ERROR_INTERVAL = 1.0


class ControlChannel:
    """Binds one connection to a session.

    Args:
        session: the session commanded through this connection.
        send: sends one text message on the connection (must not raise when it is closing).
        config: limits.
        name: for logs ("datachannel 1a2b", "ws 127.0.0.1").
    """

    def __init__(
        self, session: Session, send: Callable[[str], None], config: ServerConfig, name: str = ""
    ) -> None:
        self.session = session
        self.name = name
        self._send = send
        self._config = config
        self._bucket = TokenBucket(config.message_rate, config.message_burst)
        self._last_rate_error = -1e9
        self.rejected = 0
        self._remove_listener = session.add_listener(self.send_event)
        self._open = True

    def send_event(self, event: Event) -> None:
        if not self._open:
            return
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
            now = time.monotonic()
            if now - self._last_rate_error >= _RATE_ERROR_INTERVAL:  # one error per second
                self._last_rate_error = now
                limit = self._config.message_rate
                self.send_event(
                    ErrorEvent(
                        code="rate_limited",
                        message=f"too many messages: at most {limit:g} per second; "
                        f"{self.rejected} dropped so far",
                    )
                )
            return
        try:
            command = parse_command(raw, max_bytes=self._config.max_message_bytes)
        except ServerError as error:  # it carries the message's id when that was readable
            self._send_error(error, error.command_id, error.command)
            return
        try:
            self.session.handle(command)
        except ServerError as error:  # busy, closed: the answer to this command
            self._send_error(error, command.id, command.TYPE)
            return
        if isinstance(command, Ping):  # to this connection only, never to the session's others
            self.send_event(Pong(id=command.id))

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
