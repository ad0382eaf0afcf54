"""The server's error hierarchy. Every error a client can see has a stable ``code``.

Engine errors (calibration, planning, rendering) are translated into these at the adapter
boundary (:mod:`server.engine`), so that the transport and the sessions never import engines.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AccessError",
    "EngineError",
    "EngineInputError",
    "EngineUnavailableError",
    "LimitError",
    "ProtocolError",
    "ServerError",
    "SessionError",
]


class ServerError(Exception):
    """Base class of every Facecast server error.

    Attributes:
        code: a short stable machine-readable code sent to the client (``error.code``).
        command_id, command: the ``id`` and ``type`` of the message that caused it, when known,
            so that the error answers the client's entry (``error.id``, ``error.command``).
        details: optional JSON-able facts for the client (``error.details``), e.g. the unknown
            words and example instructions of ``not_understood``.
    """

    code: str = "server_error"
    command_id: str | None = None
    """The ``id`` of the message that caused it, when it could be read (echoed in the error)."""
    command: str | None = None
    """The ``type`` of that message, when it could be read."""

    def __init__(
        self, message: str, code: str | None = None, *, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.details = details

    @property
    def message(self) -> str:
        return str(self)


class ProtocolError(ServerError):
    """A message that cannot be parsed or validated (bad JSON, unknown type, bad field)."""

    code = "bad_message"


class AccessError(ServerError):
    """A request or connection without the right it needs (``server.access``): a missing or
    wrong session key or token, a foreign Origin. ``status`` is its HTTP status."""

    code = "forbidden"

    def __init__(self, message: str, code: str | None = None, *, status: int = 403) -> None:
        super().__init__(message, code)
        self.status = status


class LimitError(ServerError):
    """A configured limit was hit (message size, message rate, sessions, upload size)."""

    code = "limit"


class SessionError(ServerError):
    """A command that the session cannot run in its present state (e.g. no avatar yet)."""

    code = "session"


class EngineError(ServerError):
    """An engine failed while working on a request (a bug or resource problem, not bad input)."""

    code = "engine_error"


class EngineInputError(EngineError):
    """The engines rejected the input: no face, undecodable image, instruction not understood."""

    code = "bad_input"


class EngineUnavailableError(EngineError):
    """A required engine is not installed or failed to load (e.g. a missing checkpoint)."""

    code = "engine_unavailable"
