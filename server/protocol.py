"""The one message vocabulary of Facecast: every command and event is a small dataclass.

The same JSON objects travel over the WebRTC data channel and the websocket. Every message
is one JSON object with a ``type`` and, optionally, an ``id`` chosen by the client that the
server echoes back in the events answering that command.

Client → server commands::

    {"type": "capture", "seconds": 2.0}              choose a source from the next webcam frames
    {"type": "instruct", "text": "Turn this face from disgust to happiness", "intensity": 1.0}
    {"type": "cancel"}                                stop the running instruction (jumps the queue)
    {"type": "set", "fps": 30, "size": 512, "intensity": 0.8, "idle": true}
    {"type": "ping"}                                  answered by a pong to this connection only

Server → client events::

    {"type": "status", "state": "ready", "message": "...", "session": "a1b2", ...}
    {"type": "plan", "text": "...", "understood": ["disgust", "happiness"], "anchors": [...],
        "pieces": 1, "skipped": []}
    {"type": "progress", "command": "instruct", "fraction": 0.4, "phase": "onset", "label": "..."}
    {"type": "done", "command": "capture", "result": {"reason": "...", ...}}
    {"type": "error", "code": "no_face", "message": "...", "command": "capture"}
    {"type": "error", "code": "not_understood", "message": "...", "details": {"unknown_words":
        ["open", "door"], "examples": ["smile", "from anger to joy"]}}
    {"type": "pong"}

Parsing happens once, at the edge (:func:`parse_command`); the sessions only ever see the
dataclasses. System commands (``cancel``) have ``urgent = True``: they are handled at once,
never behind queued work (like pipecat's system frames).
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from server.exceptions import LimitError, ProtocolError, ServerError

__all__ = [
    "COMMAND_TYPES",
    "LIMITS",
    "MAX_JSON_DEPTH",
    "MAX_MESSAGE_BYTES",
    "MAX_NUMBER_CHARS",
    "MAX_TEXT_CHARS",
    "MIN_MESSAGE_BYTES",
    "Cancel",
    "Capture",
    "Command",
    "Done",
    "ErrorEvent",
    "Event",
    "Instruct",
    "Ping",
    "PlanEvent",
    "Pong",
    "Progress",
    "Set",
    "Status",
    "encode_event",
    "message_label",
    "parse_command",
    "parse_json",
    "text_length",
]

MAX_TEXT_CHARS = 1000
"""Longest instruction text accepted: the one limit of the whole chain. It is the planner's own
(``engines.i2fet.planner.PlannerConfig.max_chars``; a test pins the two together), checked here
at the edge (error ``too_long``) and handed to the pages in every ``status`` event
(``limits.text_chars``) for their counter. A text longer than what the model reads at once is
planned in pieces (sentences, then clauses), every named emotion in order.

Length is counted one way everywhere (:func:`text_length`): Unicode code points of the text
without its surrounding white space; the pages count the same."""

LIMITS: dict[str, int] = {"text_chars": MAX_TEXT_CHARS}
"""What a client needs to know to refuse before sending (``status.limits``)."""

MIN_MESSAGE_BYTES = 4 * MAX_TEXT_CHARS + 256
"""The smallest message limit a server may be given: an instruction of :data:`MAX_TEXT_CHARS`
characters, each 4 bytes of UTF-8 (an emoji), with its other fields, always fits, so that
``message_too_large`` never refuses a text the character limit accepts."""

MAX_MESSAGE_BYTES = 8192
"""Largest accepted message by default (``ServerConfig.max_message_bytes``)."""

_ID_SCAN_BYTES = 65536  # an over-size message is still read this far for its id

_ID_MAX_CHARS = 64

# A top-level ``"id": value`` or ``"type": value`` right after a key string of the pre-scan,
# for messages the decoder refuses (the id is read from the text as far as it is well formed).
_KEY_VALUE = re.compile(
    r'\s*:\s*(?:("[^"\\]*(?:\\.[^"\\]*)*")|(-?[0-9]{1,20})(?![0-9.eE]))', re.DOTALL
)

MAX_JSON_DEPTH = 16
"""Deepest nesting of arrays and objects accepted in any JSON a client sends (messages and the
``/offer`` body are flat objects: depth 1). Deeper input is refused (``too_deep``) before the
decoder sees it, so it can never reach Python's recursion limit."""

MAX_NUMBER_CHARS = 32
"""Longest JSON number literal accepted (characters, sign and exponent included); longer ones,
non-finite ones (``1e999``) and the non-standard ``NaN``/``Infinity`` are ``bad_number``."""

# One token of the nesting pre-scan: a complete string, a bracket, or an unterminated string
# (a lone quote: the text is invalid from there on, so the scan stops). Linear time: a failed
# string match happens at most once.
_SCAN_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]|"', re.DOTALL)


# --------------------------------------------------------------------------------- commands
@dataclass(frozen=True)
class Command:
    """Base of every client → server command."""

    TYPE: ClassVar[str] = ""
    urgent: ClassVar[bool] = False
    id: str | None = None


@dataclass(frozen=True)
class Capture(Command):
    """Choose a source frame from the next ``seconds`` of the peer's webcam, then calibrate."""

    TYPE: ClassVar[str] = "capture"
    seconds: float = 2.0


@dataclass(frozen=True)
class Instruct(Command):
    """Perform an instruction such as "Turn this face from disgust to happiness"."""

    TYPE: ClassVar[str] = "instruct"
    text: str = ""
    intensity: float | None = None


@dataclass(frozen=True)
class Cancel(Command):
    """Stop the running command; the face eases back to rest from where it is."""

    TYPE: ClassVar[str] = "cancel"
    urgent: ClassVar[bool] = True


@dataclass(frozen=True)
class Set(Command):
    """Change stream settings; fields left out keep their value."""

    TYPE: ClassVar[str] = "set"
    fps: float | None = None
    size: int | None = None
    intensity: float | None = None
    idle: bool | None = None


@dataclass(frozen=True)
class Ping(Command):
    """Liveness check, answered by :class:`Pong`."""

    TYPE: ClassVar[str] = "ping"
    urgent: ClassVar[bool] = True


COMMAND_TYPES: dict[str, type[Command]] = {
    cls.TYPE: cls for cls in (Capture, Instruct, Cancel, Set, Ping)
}

# Allowed ranges (inclusive) of the numeric fields.
_RANGES: dict[str, tuple[float, float]] = {
    "seconds": (0.2, 10.0),
    "intensity": (0.1, 2.0),
    "fps": (1.0, 60.0),
    "size": (64, 1024),
}


# ----------------------------------------------------------------------------------- events
@dataclass(frozen=True)
class Event:
    """Base of every server → client event."""

    TYPE: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        body = {key: value for key, value in asdict(self).items() if value is not None}
        return {"type": self.TYPE, **body}


@dataclass(frozen=True)
class Status(Event):
    """Where the session is: ``connected``, ``no_avatar``, ``capturing``, ``calibrating``,
    ``ready``, ``planning``, ``animating``, ``closed``."""

    TYPE: ClassVar[str] = "status"
    state: str = "connected"
    message: str = ""
    session: str | None = None
    has_avatar: bool | None = None
    settings: dict[str, Any] | None = None
    limits: dict[str, int] | None = None
    """Client-side limits, e.g. ``{"text_chars": 1000}`` (:data:`LIMITS`)."""
    demo_idle_seconds: float | None = None
    """The broadcast session's demo loop plays after this many seconds without input (left
    out when it has none)."""


@dataclass(frozen=True)
class PlanEvent(Event):
    """What the server understood from an instruction."""

    TYPE: ClassVar[str] = "plan"
    id: str | None = None
    text: str = ""
    understood: list[str] = field(default_factory=list)
    anchors: list[dict[str, Any]] = field(default_factory=list)
    unknown_words: list[str] = field(default_factory=list)
    duration: float = 0.0
    timings_ms: dict[str, float] = field(default_factory=dict)
    pieces: int = 1
    """A long text is planned in pieces (sentences, then clauses): how many (1: at once)."""
    skipped: list[str] = field(default_factory=list)
    """The pieces that named no emotion or facial action: nothing was performed for them."""


@dataclass(frozen=True)
class Progress(Event):
    """Progress of a running command (``fraction`` in [0, 1])."""

    TYPE: ClassVar[str] = "progress"
    id: str | None = None
    command: str = ""
    fraction: float = 0.0
    phase: str | None = None
    label: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class Done(Event):
    """A command finished; ``result`` holds what it produced."""

    TYPE: ClassVar[str] = "done"
    id: str | None = None
    command: str = ""
    result: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ErrorEvent(Event):
    """A command or message failed. The session keeps working."""

    TYPE: ClassVar[str] = "error"
    code: str = "error"
    message: str = ""
    id: str | None = None
    command: str | None = None
    details: dict[str, Any] | None = None
    """Facts a client can show, e.g. ``{"unknown_words": [...], "examples": [...]}`` for
    ``not_understood``; left out when there are none."""


@dataclass(frozen=True)
class Pong(Event):
    TYPE: ClassVar[str] = "pong"
    id: str | None = None


def encode_event(event: Event) -> str:
    """The JSON text of ``event`` (NaN and infinities are not valid JSON: they become null)."""
    return json.dumps(_finite(event.to_dict()), separators=(",", ":"))


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


# ---------------------------------------------------------------------------------- parsing
def parse_json(
    raw: str | bytes, *, max_depth: int = MAX_JSON_DEPTH, max_number_chars: int = MAX_NUMBER_CHARS
) -> Any:
    """Decode client JSON with bounded nesting and number sizes; raises only ProtocolError.

    Bytes must be UTF-8. The nesting depth is checked by a pre-scan (strings skipped) before
    :func:`json.loads` runs; numbers are checked by the decoder's ``parse_int`` /
    ``parse_float`` / ``parse_constant`` hooks, so a 4,000-digit integer never becomes a Python
    int that ``math.isfinite`` cannot convert.

    Raises:
        ProtocolError: ``bad_json`` (not JSON, not UTF-8), ``too_deep`` (nesting over
            ``max_depth``) or ``bad_number`` (over ``max_number_chars``, or not finite).
    """
    if isinstance(raw, bytes | bytearray):
        try:
            text = bytes(raw).decode("utf-8")
        except UnicodeDecodeError as error:
            raise ProtocolError(f"message is not valid UTF-8: {error}", code="bad_json") from None
    else:
        text = raw
    depth = 0
    for token in _SCAN_TOKEN.finditer(text):
        char = token.group()
        if char in "[{":
            depth += 1
            if depth > max_depth:
                raise ProtocolError(
                    f"JSON nested deeper than {max_depth} levels; messages are flat objects "
                    'such as {"type": "instruct", "text": "smile"}',
                    code="too_deep",
                    details={"limit": max_depth},
                )
        elif char in "]}":
            depth -= 1
        elif char == '"':  # unterminated string: json.loads reports it
            break

    def bounded_number(literal: str, convert: Any) -> Any:
        if len(literal) > max_number_chars:
            raise ProtocolError(
                f"a number of {len(literal)} characters; at most {max_number_chars} are accepted",
                code="bad_number",
                details={"length": len(literal), "limit": max_number_chars},
            )
        value = convert(literal)
        if isinstance(value, float) and not math.isfinite(value):
            raise ProtocolError(f"the number {literal} is not finite", code="bad_number")
        return value

    def no_constant(literal: str) -> Any:
        raise ProtocolError(f"{literal} is not a JSON number", code="bad_number")

    try:
        return json.loads(
            text,
            parse_int=lambda literal: bounded_number(literal, int),
            parse_float=lambda literal: bounded_number(literal, float),
            parse_constant=no_constant,
        )
    except ValueError as error:  # json.JSONDecodeError
        raise ProtocolError(f"message is not valid JSON: {error}", code="bad_json") from None


def text_length(text: str) -> int:
    """The length of an instruction as Facecast counts it everywhere (the edge's ``too_long``,
    its ``details.length``, the pages' counters): Unicode code points of ``text`` without its
    surrounding white space."""
    return len(text.strip())


def parse_command(raw: str | bytes, *, max_bytes: int = MAX_MESSAGE_BYTES) -> Command:
    """Parse and validate one client message.

    Args:
        raw: the message as received (text or UTF-8 bytes).
        max_bytes: largest accepted message, in bytes.

    Raises:
        LimitError: ``message_too_large`` (an over-size ``instruct`` whose text is over
            :data:`MAX_TEXT_CHARS` is ``too_long`` instead: that is why it is too large).
        ProtocolError: ``bad_json``, ``too_deep``, ``bad_number`` (see :func:`parse_json`),
            ``bad_message``, ``unknown_type``, ``bad_field`` (also text that is not valid
            Unicode, e.g. a lone surrogate) or ``too_long`` (instruction text over
            :data:`MAX_TEXT_CHARS`).

    Every error carries the message's ``id`` and ``type`` (``command_id``, ``command``) when
    they could be read, so that the answer reaches the entry that sent it: from the decoded
    object, or for a message the decoder refuses (``bad_json``, ``too_deep``, ``bad_number``)
    from its top-level ``"id"`` and ``"type"`` as far as the text is well formed.
    """
    size = _byte_size(raw)
    if size > max_bytes:
        error: ServerError = LimitError(
            f"the message is {size} bytes long; the limit is {max_bytes} bytes. "
            f"Send a shorter message (an instruction has at most {MAX_TEXT_CHARS} characters).",
            code="message_too_large",
        )
        if size <= _ID_SCAN_BYTES:  # still small enough to read its id cheaply
            try:
                data = parse_json(raw)
            except ProtocolError:
                data = _scan_label(raw)
            if isinstance(data, dict) and data.get("type") == "instruct":
                text = data.get("text")
                if isinstance(text, str) and text_length(text) > MAX_TEXT_CHARS:
                    error = _too_long(text)
            _label(error, data)
        raise error
    try:
        data = parse_json(raw)
    except ProtocolError as error:
        raise _label(error, _scan_label(raw)) from None
    try:
        return _parse_object(data)
    except ProtocolError as error:
        raise _label(error, data) from None


def message_label(
    raw: str | bytes, *, max_bytes: int = MAX_MESSAGE_BYTES
) -> tuple[str | None, str | None]:
    """``(id, type)`` of a message as far as they can be read, without validating it (for
    answering a message that is not handled, e.g. ``rate_limited``); ``(None, None)`` for a
    message over ``max_bytes``."""
    if _byte_size(raw) > max_bytes:
        return None, None
    try:
        data = parse_json(raw)
    except ProtocolError:
        data = _scan_label(raw)
    label = _label(ServerError(""), data)
    return label.command_id, label.command


def _byte_size(raw: str | bytes) -> int:
    return len(raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw)


def _scan_label(raw: str | bytes) -> dict[str, Any]:
    """The top-level ``"id"`` and ``"type"`` of a message the decoder refused, as far as its
    text is well formed up to them (``{"id": "7", "text": "smile}`` still has its id). A value
    string is never taken for a key: a key is a string followed by a colon, at depth 1."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes | bytearray) else raw
    found: dict[str, Any] = {}
    depth = 0
    for token in _SCAN_TOKEN.finditer(text):
        item = token.group()
        if item in "[{":
            depth += 1
        elif item in "]}":
            depth -= 1
        elif item == '"':  # an unterminated string: nothing after it can be read
            break
        elif depth == 1 and item in ('"id"', '"type"') and item[1:-1] not in found:
            match = _KEY_VALUE.match(text, token.end())
            if match is not None:
                with contextlib.suppress(ValueError):
                    value = json.loads(match.group(1)) if match.group(1) else int(match.group(2))
                    found[item[1:-1]] = value
            if len(found) == 2:
                break
    return found


def _label(error: ServerError, data: Any) -> ServerError:
    """Attach the message's id and type to ``error`` when they are readable."""
    if not isinstance(data, dict):
        return error
    command_id = data.get("id")
    if isinstance(command_id, str | int) and not isinstance(command_id, bool):
        text = str(command_id)
        if len(text) <= _ID_MAX_CHARS and _is_unicode(text):
            error.command_id = text
    if isinstance(data.get("type"), str) and data["type"] in COMMAND_TYPES:
        error.command = data["type"]
    return error


def _too_long(text: str) -> ProtocolError:
    length = text_length(text)
    return ProtocolError(
        f"That instruction is {length} characters long; the limit is {MAX_TEXT_CHARS}. "
        f'Shorten it (a few sentences, e.g. "look surprised, then smile") and send it again.',
        code="too_long",
        details={"length": length, "limit": MAX_TEXT_CHARS},
    )


def _parse_object(data: Any) -> Command:
    if not isinstance(data, dict):
        raise ProtocolError(
            'a message must be a JSON object such as {"type": "instruct", "text": "smile"}',
            code="bad_message",
        )
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in COMMAND_TYPES:
        known = ", ".join(sorted(COMMAND_TYPES))
        raise ProtocolError(f"unknown message type {kind!r}; known types: {known}", "unknown_type")
    cls = COMMAND_TYPES[kind]
    allowed = {name for name in cls.__dataclass_fields__ if name != "TYPE"}
    extra = sorted(set(data) - allowed - {"type"})
    if extra:
        raise ProtocolError(
            f"{kind}: unknown field(s) {', '.join(extra)}; allowed: {', '.join(sorted(allowed))}",
            code="bad_field",
        )
    values: dict[str, Any] = {}
    for name in sorted(allowed):
        if name in data and data[name] is not None:
            values[name] = _validate_field(kind, name, data[name])
    if cls is Instruct and not values.get("text", "").strip():
        raise ProtocolError('instruct needs a non-empty "text"', code="bad_field")
    return cls(**values)


def _is_unicode(text: str) -> bool:
    """False for text that cannot be encoded (a lone surrogate such as ``"\\ud800"``)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _validate_field(kind: str, name: str, value: Any) -> Any:
    if name == "id":
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise ProtocolError(f"{kind}: id must be a string or integer", code="bad_field")
        text = str(value)
        if len(text) > _ID_MAX_CHARS:
            raise ProtocolError(f"{kind}: id longer than {_ID_MAX_CHARS} chars", "bad_field")
        if not _is_unicode(text):
            raise ProtocolError(f"{kind}: id is not valid Unicode", code="bad_field")
        return text
    if name == "text":
        if not isinstance(value, str):
            raise ProtocolError(f"{kind}: text must be a string", code="bad_field")
        if not _is_unicode(value):
            raise ProtocolError(
                f"{kind}: text is not valid Unicode (it holds a lone surrogate); send the "
                "instruction as plain UTF-8 text",
                code="bad_field",
            )
        if text_length(value) > MAX_TEXT_CHARS:
            raise _too_long(value)
        return value.strip()
    if name == "idle":
        if not isinstance(value, bool):
            raise ProtocolError(f"{kind}: idle must be true or false", code="bad_field")
        return value
    if name in _RANGES:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ProtocolError(f"{kind}: {name} must be a number", code="bad_field")
        low, high = _RANGES[name]
        if not (math.isfinite(value) and low <= value <= high):
            raise ProtocolError(f"{kind}: {name}={value} is outside [{low}, {high}]", "bad_field")
        if name == "size":
            if int(value) != value or int(value) % 16:
                raise ProtocolError(f"{kind}: size must be a multiple of 16", code="bad_field")
            return int(value)
        return float(value)
    raise ProtocolError(f"{kind}: unexpected field {name}", code="bad_field")
