"""The message vocabulary: parsing and validation at the edge."""

from __future__ import annotations

import json

import pytest

from server import protocol
from server.exceptions import LimitError, ProtocolError
from server.protocol import (
    Cancel,
    Capture,
    ErrorEvent,
    Instruct,
    PlanEvent,
    Set,
    encode_event,
    parse_command,
)


def test_public_api() -> None:
    assert set(protocol.__all__) >= {
        "Capture",
        "Instruct",
        "Cancel",
        "Set",
        "Status",
        "PlanEvent",
        "Progress",
        "Done",
        "ErrorEvent",
        "parse_command",
        "parse_json",
        "MAX_JSON_DEPTH",
        "MAX_NUMBER_CHARS",
    }


def test_valid_commands_parse_to_dataclasses() -> None:
    assert parse_command('{"type": "capture"}') == Capture()
    assert parse_command('{"type": "capture", "seconds": 1.5, "id": 7}') == Capture(
        id="7", seconds=1.5
    )
    command = parse_command(
        json.dumps({"type": "instruct", "text": "  from disgust to joy ", "intensity": 0.5})
    )
    assert command == Instruct(text="from disgust to joy", intensity=0.5)
    assert parse_command('{"type": "set", "fps": 24, "size": 256, "idle": false}') == Set(
        fps=24.0, size=256, idle=False
    )
    cancel = parse_command(b'{"type": "cancel"}')
    assert isinstance(cancel, Cancel) and cancel.urgent and not Instruct.urgent


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{not json", "bad_json"),
        (b"\xff\xfe", "bad_json"),
        ("[1, 2]", "bad_message"),
        ('"instruct"', "bad_message"),
        ('{"text": "smile"}', "unknown_type"),
        ('{"type": "dance"}', "unknown_type"),
        ('{"type": "instruct"}', "bad_field"),
        ('{"type": "instruct", "text": "   "}', "bad_field"),
        ('{"type": "instruct", "text": 5}', "bad_field"),
        ('{"type": "instruct", "text": "smile", "color": "red"}', "bad_field"),
        ('{"type": "set", "fps": 1000}', "bad_field"),
        ('{"type": "set", "fps": NaN}', "bad_number"),  # not JSON: refused by the decoder
        ('{"type": "set", "size": 500}', "bad_field"),
        ('{"type": "set", "intensity": true}', "bad_field"),
        ('{"type": "set", "idle": "yes"}', "bad_field"),
        ('{"type": "capture", "seconds": -1}', "bad_field"),
        ('{"type": "ping", "id": {"a": 1}}', "bad_field"),
    ],
)
def test_bad_messages_raise_protocol_errors_with_codes(raw: str | bytes, code: str) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_command(raw)
    assert info.value.code == code
    assert info.value.message


def test_oversized_message_is_a_limit_error_that_keeps_its_id() -> None:
    raw = json.dumps({"type": "set", "fps": 24, "id": "big7", "padding": "x" * 9000})
    with pytest.raises(LimitError) as info:
        parse_command(raw)
    assert info.value.code == "message_too_large"
    assert (info.value.command_id, info.value.command) == ("big7", "set")
    assert "shorter" in info.value.message
    # an instruction too large for its bytes because its text is over the limit: too_long
    raw = json.dumps({"type": "instruct", "text": "smile " * 2000, "id": "big8"})
    with pytest.raises(ProtocolError) as info:
        parse_command(raw)
    error = info.value
    assert (error.code, error.command_id, error.command) == ("too_long", "big8", "instruct")
    assert error.details == {"length": 11999, "limit": protocol.MAX_TEXT_CHARS}


def test_too_long_text_has_its_own_code_the_limit_and_the_id() -> None:
    limit = protocol.MAX_TEXT_CHARS
    assert parse_command(json.dumps({"type": "instruct", "text": "a" * limit})).text
    # 2,000 characters fit in the message limit: refused for their length, with the id
    raw = json.dumps({"id": 12, "type": "instruct", "text": "smile " * 333 + "now"})
    with pytest.raises(ProtocolError) as info:
        parse_command(raw)
    error = info.value
    assert error.code == "too_long" and error.command_id == "12" and error.command == "instruct"
    assert error.details == {"length": 2001, "limit": limit}
    assert f"limit is {limit}" in error.message and "Shorten" in error.message
    # spaces around the text do not count, and the length is the one the page counts: code
    # points of the text without its surrounding white space
    assert parse_command(json.dumps({"type": "instruct", "text": " " * 50 + "a" * limit}))
    text = "smile and " * 200  # 2,000 characters, the last a space: 1,999 count
    assert protocol.text_length(text) == 1999
    with pytest.raises(ProtocolError) as info:
        parse_command(json.dumps({"type": "instruct", "text": text}))
    assert info.value.details == {"length": 1999, "limit": limit}


def test_a_text_at_the_limit_always_fits_in_a_message() -> None:
    """One number: message_too_large never refuses a text the character limit accepts, even
    one of 4-byte characters (emoji) sent as raw UTF-8, with the longest id."""
    from server.config import ServerConfig

    limit = protocol.MAX_TEXT_CHARS
    text = "\N{GRINNING FACE}" * (limit - 5) + "smile"
    raw = json.dumps(
        {"type": "instruct", "text": text, "intensity": 1.5, "id": "i" * 64}, ensure_ascii=False
    )
    assert parse_command(raw, max_bytes=ServerConfig().max_message_bytes).text == text
    assert parse_command(raw, max_bytes=protocol.MIN_MESSAGE_BYTES).text == text
    with pytest.raises(ValueError, match="must fit"):
        ServerConfig(max_message_bytes=protocol.MIN_MESSAGE_BYTES - 1)
    longer = raw.replace("smile", "\N{GRINNING FACE}" * 60)
    assert len(longer.encode()) > protocol.MIN_MESSAGE_BYTES  # over the bytes too ...
    with pytest.raises(ProtocolError) as info:  # ... but the character limit is the answer
        parse_command(longer, max_bytes=protocol.MIN_MESSAGE_BYTES)
    assert info.value.code == "too_long" and info.value.details["length"] == limit + 55


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ('{"id": "j1", "type": "instruct", "text": "smile}', "bad_json"),
        ('{"type": "instruct", "id": 42, "text": "smile" "now"}', "bad_json"),
        (b'{"id": "j1", "type": "instruct", "text": "\xff"}', "bad_json"),
        ('{"id": "j1", "type": "set", "x": ' + "[" * 40 + "]" * 40 + "}", "too_deep"),
        ('{"type": "set", "fps": ' + "9" * 40 + ', "id": "j1"}', "bad_number"),
    ],
    ids=["unterminated-string", "missing-comma", "not-utf8", "too-deep", "long-number"],
)
def test_a_message_the_decoder_refuses_still_answers_its_id(raw: str | bytes, code: str) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_command(raw)
    assert info.value.code == code
    assert info.value.command_id in ("j1", "42"), info.value.command_id
    assert info.value.command in ("instruct", "set")


@pytest.mark.parametrize(
    "raw",
    [
        '{"text": "id", "type": "instruct" "oops"}',  # "id" is a value here, not a key
        '{"x": {"id": "inner"}, "type": 3',  # not at the top level
        '{"type": "instruct", "text": "a \\"id\\": \\"7\\" b", oops}',  # inside a string
        "not json at all",
    ],
)
def test_no_id_is_invented_for_a_broken_message(raw: str) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_command(raw)
    assert info.value.command_id is None


def test_message_label_reads_id_and_type_without_validating() -> None:
    assert protocol.message_label('{"type": "instruct", "id": "r1", "text": 5}') == (
        "r1",
        "instruct",
    )
    assert protocol.message_label('{"type": "ping", "id": 3') == ("3", "ping")
    assert protocol.message_label('{"type": "dance", "id": "x"}') == ("x", None)
    assert protocol.message_label("[1]") == (None, None)
    assert protocol.message_label('{"id": "big"}' + " " * 100, max_bytes=50) == (None, None)


def test_every_parse_error_answers_with_the_readable_id() -> None:
    for raw in (
        '{"type": "set", "fps": 1000, "id": "s1"}',
        '{"type": "instruct", "text": "smile", "color": "red", "id": "s1"}',
        '{"type": "instruct", "text": "  ", "id": "s1"}',
    ):
        with pytest.raises(ProtocolError) as info:
            parse_command(raw)
        assert info.value.command_id == "s1", raw
    with pytest.raises(ProtocolError) as info:  # no readable id: none invented
        parse_command('{"type": "set", "fps": 1000, "id": {"x": 1}}')
    assert info.value.command_id is None


def test_the_text_limit_is_the_planners_own() -> None:
    """One number: the edge refuses exactly what the planner would refuse."""
    from engines.i2fet.planner import PlannerConfig

    assert PlannerConfig().max_chars == protocol.MAX_TEXT_CHARS
    assert PlannerConfig().piece_chars < protocol.MAX_TEXT_CHARS  # long texts go in pieces
    assert protocol.LIMITS == {"text_chars": protocol.MAX_TEXT_CHARS}


def test_events_encode_to_json_with_their_type() -> None:
    text = encode_event(ErrorEvent(code="no_face", message="no face", command="capture"))
    assert json.loads(text) == {
        "type": "error",
        "code": "no_face",
        "message": "no face",
        "command": "capture",
    }
    plan = json.loads(
        encode_event(PlanEvent(text="x", understood=["anger"], duration=float("nan")))
    )
    assert plan["type"] == "plan" and plan["understood"] == ["anger"] and plan["duration"] is None
