"""Hostile inputs against a running server (issue 15): every poison message, body or path gets
one typed error (an ``error`` event on the websocket or data channel, a 4xx with a code over
HTTP), the connection and the WebRTC peer stay alive, an honest client on the same session still
gets its pong (and only its own), and the server log holds no traceback for a client's mistake.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse, WSServerHandshakeError
from aiohttp.test_utils import TestClient, TestServer
from test_server_fakes import FakeEngine

from server.app import FACECAST_KEY, create_app
from server.config import ServerConfig
from server.protocol import MAX_JSON_DEPTH, MAX_NUMBER_CHARS, parse_command, parse_json
from server.webrtc.client import AvatarClient

pytestmark = pytest.mark.timeout(60)


@contextlib.asynccontextmanager
async def client_for(**options: Any) -> AsyncIterator[TestClient]:
    config = ServerConfig(**{"size": 64, "fps": 15.0, "idle_motion": False, **options})
    app = create_app(config, FakeEngine(), warmup=False)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def receive_until(
    ws: ClientWebSocketResponse, type_: str, timeout: float = 5.0, **match: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The first event of ``type_`` matching ``match``, and every event received before it."""
    seen: list[dict[str, Any]] = []
    while True:
        event = await asyncio.wait_for(ws.receive_json(), timeout)
        if event["type"] == type_ and all(event.get(k) == v for k, v in match.items()):
            return event, seen
        seen.append(event)


async def connected(client: TestClient, path: str = "/ws") -> ClientWebSocketResponse:
    ws = await client.ws_connect(path)
    await receive_until(ws, "status")
    return ws


async def honest_ping(ws: ClientWebSocketResponse, ping_id: str) -> None:
    """The honest client pings and gets its own pong, and no one else's before it."""
    await ws.send_json({"type": "ping", "id": ping_id})
    _, before = await receive_until(ws, "pong", id=ping_id)
    assert [e for e in before if e["type"] == "pong"] == []


def assert_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    faults = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert faults == [], [f"{r.name}: {r.getMessage()}" for r in faults]


DIGITS = "1" * 4000

# (what is sent as one websocket / data channel text message, the error code it must get)
POISON_MESSAGES = {
    "4000-digit integer": ('{"type":"set","fps":' + DIGITS + "}", "bad_number"),
    "4000-digit integer in an unknown field": ('{"type":"ping","x":' + DIGITS + "}", "bad_number"),
    "4000-character float": ('{"type":"set","fps":1.' + "0" * 3998 + "}", "bad_number"),
    "infinite float": ('{"type":"set","fps":1e999}', "bad_number"),
    "NaN": ('{"type":"set","fps":NaN}', "bad_number"),
    "4000 nested [": ("[" * 4000, "too_deep"),
    "4000 nested {": ('{"a":' * 800, "too_deep"),
    "over-size message of 60000 [": ("[" * 60000, "message_too_large"),
    "lone surrogate in text": ('{"type":"instruct","id":"s1","text":"\\ud800 smile"}', "bad_field"),
    "lone surrogate in id": ('{"type":"ping","id":"\\udfff"}', "bad_field"),
    "invalid UTF-8 bytes": (b'{"type":"ping","id":"\xff"}', "bad_json"),
}


@pytest.mark.parametrize("name", list(POISON_MESSAGES))
def test_poison_websocket_message_gets_one_typed_error(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    raw, code = POISON_MESSAGES[name]
    caplog.set_level(logging.INFO)

    async def scenario() -> None:
        async with client_for() as client:
            attacker, honest = await connected(client), await connected(client)
            if isinstance(raw, bytes):
                await attacker.send_bytes(raw)
            else:
                await attacker.send_str(raw)
            error, _ = await receive_until(attacker, "error")
            assert error["code"] == code, error
            if name == "lone surrogate in text":  # the answer reaches the entry that sent it
                assert error["id"] == "s1" and error["command"] == "instruct"
            if name == "lone surrogate in id":  # an unencodable id is never echoed
                assert "id" not in error
            # The attacker's connection lives on, and each client gets only its own pong.
            await attacker.send_json({"type": "ping", "id": "attacker"})
            await receive_until(attacker, "pong", id="attacker")
            await honest_ping(honest, "honest")
            assert not attacker.closed and not honest.closed

    asyncio.run(scenario())
    assert_no_traceback(caplog)


def test_pong_goes_to_the_sender_only(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        async with client_for(message_rate=100.0, message_burst=50) as client:
            pinger = await connected(client)
            listeners = [await connected(client) for _ in range(4)]
            for number in range(20):
                await pinger.send_json({"type": "ping", "id": f"p{number}"})
            _, before = await receive_until(pinger, "pong", id="p19")
            assert [e["id"] for e in before if e["type"] == "pong"] == [f"p{n}" for n in range(19)]
            for number, listener in enumerate(listeners):
                await honest_ping(listener, f"l{number}")  # no p* pong arrived before its own

    asyncio.run(scenario())
    assert_no_traceback(caplog)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("[" * 100_000, 400, "too_deep"),
        ('{"sdp":"v=0","type":"offer","x":' + DIGITS + "}", 400, "bad_number"),
        ('{"sdp":"v=0","type":"offer","x":NaN}', 400, "bad_number"),
        ("not json", 400, "bad_json"),
        (b"\xff\xfe{}", 400, "bad_json"),
        ("[" * 300_000, 413, "offer_too_large"),
    ],
    ids=["100k-nested", "4000-digits", "nan", "not-json", "not-utf8", "too-large"],
)
def test_poison_offer_body_is_a_4xx_with_a_code(
    body: str | bytes, status: int, code: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    async def scenario() -> None:
        async with client_for() as client:
            honest = await connected(client)
            response = await client.post(
                "/offer", data=body, headers={"Content-Type": "application/json"}
            )
            assert response.status == status
            assert (await response.json())["code"] == code
            await honest_ping(honest, "after-offer")

    asyncio.run(scenario())
    assert_no_traceback(caplog)


MALFORMED_MULTIPART = {
    "unclosed boundary quote": ('multipart/form-data; boundary="x', b"--x\r\nfoo"),
    "no boundary": ("multipart/form-data", b"--x\r\nfoo"),
    "no starting boundary": ("multipart/form-data; boundary=x", b"garbage"),
    "truncated part": (  # FIELD: the route's own field name, so that the part is read
        "multipart/form-data; boundary=x",
        b'--x\r\nContent-Disposition: form-data; name="FIELD"\r\n\r\nab',
    ),
}


@pytest.mark.parametrize("route", ["/upload", "/capture"])
@pytest.mark.parametrize("name", list(MALFORMED_MULTIPART))
def test_malformed_multipart_is_a_400(
    route: str, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    content_type, body = MALFORMED_MULTIPART[name]
    body = body.replace(b"FIELD", b"photo" if route == "/upload" else b"frame")
    caplog.set_level(logging.INFO)

    async def scenario() -> None:
        async with client_for() as client:
            honest = await connected(client)
            response = await client.post(route, data=body, headers={"Content-Type": content_type})
            assert response.status == 400
            assert (await response.json())["code"] == "bad_upload"
            await honest_ping(honest, "after-upload")

    asyncio.run(scenario())
    assert_no_traceback(caplog)


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/static/" + "a" * 8000, 414, "path_too_long"),
        ("/" + "b" * 2000, 414, "path_too_long"),
        ("/static/" + "a" * 300, 404, "not_found"),
        ("/static/dir/" + "a" * 256 + ".js", 404, "not_found"),
        ("/static/a%00b.js", 404, "not_found"),
    ],
    ids=["static-8000", "root-2000", "segment-300", "segment-256", "nul"],
)
def test_long_or_impossible_paths_are_4xx(
    path: str, status: int, code: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    async def scenario() -> None:
        async with client_for() as client:
            honest = await connected(client)
            response = await client.get(path)
            assert response.status == status
            assert (await response.json())["code"] == code
            assert (await client.get("/static/app.js")).status == 200  # real files still served
            await honest_ping(honest, "after-path")

    asyncio.run(scenario())
    assert_no_traceback(caplog)


def test_poison_over_the_data_channel_keeps_the_peer_alive(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)

    async def scenario() -> None:
        async with client_for() as client:
            base = str(client.make_url("")).rstrip("/")
            peer = AvatarClient(base)
            await peer.connect()
            try:
                await peer.wait_event("status")
                await peer.next_frame()
                for name in ("4000-digit integer", "4000 nested [", "lone surrogate in text"):
                    raw, code = POISON_MESSAGES[name]
                    assert isinstance(raw, str)
                    peer.send(raw)
                    error = await peer.wait_event("error")
                    assert error["code"] == code, (name, error)
                    peer.send({"type": "ping", "id": name})
                    await peer.wait_event("pong", id=name)
                    await peer.next_frame()  # the video goes on
                assert peer.pc.connectionState == "connected"
            finally:
                await peer.close()

    asyncio.run(scenario())
    assert_no_traceback(caplog)


def test_parse_json_bounds_depth_and_numbers_and_stays_linear() -> None:
    # Brackets inside strings (also after escaped quotes) are not nesting.
    assert parse_json('{"a":"[[[[\\"[[[[[[[[[[[[[[[[[[[[[[[["}') == {"a": '[[[["' + "[" * 24}
    assert parse_json("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH) is not None
    with pytest.raises(Exception) as deep:
        parse_json("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1))
    assert getattr(deep.value, "code", None) == "too_deep"
    assert parse_json("-" + "9" * (MAX_NUMBER_CHARS - 1)) == -int("9" * (MAX_NUMBER_CHARS - 1))
    with pytest.raises(Exception) as long_number:
        parse_json("9" * (MAX_NUMBER_CHARS + 1))
    assert getattr(long_number.value, "code", None) == "bad_number"
    # A lone quote followed by escaped quotes must not make the pre-scan quadratic.
    with pytest.raises(Exception) as unterminated:
        parse_json('"' + '\\"' * 200_000)
    assert getattr(unterminated.value, "code", None) == "bad_json"
    # An over-size message is read for its id without ever recursing deeply.
    with pytest.raises(Exception) as large:
        parse_command("[" * 60_000)
    assert getattr(large.value, "code", None) == "message_too_large"


# ------------------------------------------------------------------------------ log noise
async def raw_request(client: TestClient, data: bytes, *, reset: bool = False) -> bytes:
    """Send ``data`` on a fresh TCP connection; the answer's first line, or b"" after a reset
    (the connection is aborted with SO_LINGER 0 right after sending: an RST, no FIN)."""
    server = client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(data)
    if reset:
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
        return b""
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.readline(), 5)
    finally:
        writer.close()


UPGRADE = (
    b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def test_parser_400s_are_one_warning_line_without_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)

    async def scenario() -> None:
        async with client_for() as client:
            honest = await connected(client)
            for request in (
                b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",  # line too long
                b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n",
                b"GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",  # malformed header
            ):
                first_line = await raw_request(client, request)
                assert first_line.split(b" ")[1].startswith(b"4"), first_line
            await honest_ping(honest, "after-garbage")

    asyncio.run(scenario())
    assert_no_traceback(caplog)
    warnings = [
        r for r in caplog.records if r.name == "aiohttp.server" and r.levelno == logging.WARNING
    ]
    assert len(warnings) == 3 and all("\n" not in r.getMessage() for r in warnings)


def test_websockets_reset_before_the_handshake_log_no_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)

    async def scenario() -> None:
        async with client_for() as client:
            honest = await connected(client)
            facecast = client.server.app[FACECAST_KEY]
            for _ in range(30):
                await raw_request(client, UPGRADE, reset=True)
            await asyncio.sleep(0.3)
            await honest_ping(honest, "after-resets")
            assert len(facecast.websockets) == 1  # no reset connection is left behind
            assert facecast.websockets_by_client == {"127.0.0.1": 1}

    asyncio.run(scenario())
    assert_no_traceback(caplog)


def test_token_is_masked_in_the_access_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    secret = "s3cret-Value_42"

    async def scenario() -> None:
        async with client_for(token=secret) as client:
            ws = await client.ws_connect(f"/ws?session=broadcast&token={secret}")
            await receive_until(ws, "status")
            await ws.close()
            response = await client.get(
                f"/api/status?token={secret}&x=1",
                headers={"Referer": f"http://127.0.0.1/kiosk?token={secret}"},
            )
            assert response.status == 200
            assert (await client.get("/api/status?token=wrong")).status == 401

    asyncio.run(scenario())
    access = [r for r in caplog.records if r.name == "aiohttp.access"]
    assert len(access) >= 3
    for record in caplog.records:
        assert secret not in record.getMessage()
        assert secret not in repr(vars(record)), record.getMessage()
    lines = [r.getMessage() for r in access]
    assert any("/api/status?token=***&x=1" in line and "kiosk?token=***" in line for line in lines)
    assert any("/ws?session=broadcast&token=***" in line for line in lines)


# --------------------------------------------------------------- websockets per client address
def test_websockets_per_client_address_are_capped(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)

    async def scenario() -> None:
        async with client_for(max_websockets_per_client=3) as client:
            facecast = client.server.app[FACECAST_KEY]
            open_ones = [await connected(client) for _ in range(3)]
            with pytest.raises(WSServerHandshakeError) as refused:
                await client.ws_connect("/ws")
            assert refused.value.status == 429
            response = await client.get("/ws")  # the typed answer, before any handshake
            assert response.status == 429
            assert (await response.json())["code"] == "too_many_connections"
            for number, ws in enumerate(open_ones):  # the open ones are untouched
                await honest_ping(ws, f"open-{number}")
            await open_ones.pop().close()
            for _ in range(50):  # the server sees the close
                if facecast.websockets_by_client["127.0.0.1"] < 3:
                    break
                await asyncio.sleep(0.02)
            open_ones.append(await connected(client))  # a slot is free again
            await honest_ping(open_ones[-1], "reconnected")
            for ws in open_ones:
                await ws.close()
            for _ in range(50):
                if not facecast.websockets_by_client:
                    break
                await asyncio.sleep(0.02)
            assert not facecast.websockets_by_client  # nothing leaks

    asyncio.run(scenario())
    assert_no_traceback(caplog)


def test_websockets_per_client_flag_and_default() -> None:
    from server.cli.cmd_serve import build_config
    from server.cli.main import build_parser

    assert ServerConfig().max_websockets_per_client == 16
    assert build_config(build_parser().parse_args(["serve"])).max_websockets_per_client == 16
    args = build_parser().parse_args(["serve", "--max-ws-per-client", "2"])
    assert build_config(args).max_websockets_per_client == 2
    with pytest.raises(ValueError, match="max_websockets_per_client"):
        ServerConfig(max_websockets_per_client=0)
