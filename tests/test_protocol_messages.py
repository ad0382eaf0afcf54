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
    raw = json.dumps({"type": "instruct", "text": "smile " * 2000, "id": "big7"})
    with pytest.raises(LimitError) as info:
        parse_command(raw, max_bytes=4096)
    assert info.value.code == "message_too_large"
    assert (info.value.command_id, info.value.command) == ("big7", "instruct")
    assert "shorter" in info.value.message


def test_too_long_text_has_its_own_code_the_limit_and_the_id() -> None:
    limit = protocol.MAX_TEXT_CHARS
    assert parse_command(json.dumps({"type": "instruct", "text": "a" * limit})).text
    # 2,000 characters fit in 4 KiB: refused for its length, answered with its id
    raw = json.dumps({"id": 12, "type": "instruct", "text": "smile " * 333 + "now"})
    with pytest.raises(ProtocolError) as info:
        parse_command(raw, max_bytes=4096)
    error = info.value
    assert error.code == "too_long" and error.command_id == "12" and error.command == "instruct"
    assert error.details == {"length": 2001, "limit": limit}
    assert f"limit is {limit}" in error.message and "Shorten" in error.message
    # spaces around the text do not count
    assert parse_command(json.dumps({"type": "instruct", "text": " " * 50 + "a" * limit}))


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
