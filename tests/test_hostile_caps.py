"""Caps on everything a client can make the server hold (issue 15): each refusal is a typed
error (an ``error`` event, or an HTTP 4xx/503 with a code), the honest client in the same test
keeps its pong and its frames, and the server log holds no traceback.

The attacker connects from 127.0.0.2 and the honest client from 127.0.0.1 (both loopback), so
per-address caps are seen as they are on a network: the attacker's address is refused, not the
honest one's.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
from aiohttp.test_utils import TestServer
from aiortc import RTCConfiguration, RTCPeerConnection
from numpy.typing import NDArray
from PIL import Image
from test_hostile_inputs import assert_no_traceback, receive_until
from test_server_fakes import FakeEngine

from server.access import KEY_HEADER
from server.app import FACECAST_KEY, create_app, runner_options
from server.config import ServerConfig
from server.webrtc.client import AvatarClient

pytestmark = pytest.mark.timeout(60)

ATTACKER = "127.0.0.2"
ROOT = Path(__file__).resolve().parents[1]


class CountingEngine(FakeEngine):
    """A fake engine that counts decodes tried, records when each ends, and can make decoding
    slow."""

    def __init__(self, load_delay: float = 0.0, **options: Any) -> None:
        super().__init__(**options)
        self.load_delay = load_delay
        self.decoded_at: list[float] = []
        self.decode_calls = 0
        self._decode_lock = threading.Lock()

    def load_image(self, data: bytes, *, max_pixels: int, max_side: int) -> NDArray[np.uint8]:
        with self._decode_lock:
            self.decode_calls += 1
        image = super().load_image(data, max_pixels=max_pixels, max_side=max_side)
        if self.load_delay:
            time.sleep(self.load_delay)
        with self._decode_lock:
            self.decoded_at.append(time.monotonic())
        return image


@contextlib.asynccontextmanager
async def server_for(engine: FakeEngine | None = None, **options: Any) -> AsyncIterator[Any]:
    config = ServerConfig(**{"size": 64, "fps": 15.0, "idle_motion": False, **options})
    app = create_app(config, engine or FakeEngine(), warmup=False)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server(**runner_options(config))
    try:
        yield server
    finally:
        await server.close()


def base_url(server: Any) -> str:
    return str(server.make_url("")).rstrip("/")


@contextlib.asynccontextmanager
async def attacker_http() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client whose connections come from the attacker's address."""
    connector = aiohttp.TCPConnector(local_addr=(ATTACKER, 0), force_close=True)
    async with aiohttp.ClientSession(connector=connector) as http:
        yield http


@contextlib.asynccontextmanager
async def honest_viewer(server: Any, photo: bytes) -> AsyncIterator[AvatarClient]:
    """A private WebRTC session from 127.0.0.1 with an avatar and frames flowing."""
    client = AvatarClient(base_url(server))
    await client.connect()
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{base_url(server)}/upload?session={client.session_id}",
                data=photo,
                headers={KEY_HEADER: client.key or ""},
            ) as r,
        ):
            assert r.status == 200, await r.text()
        await client.next_frame()
        yield client
    finally:
        await client.close()


async def still_honest(client: AvatarClient, name: str) -> None:
    """The honest viewer gets its own pong and new frames."""
    client.send({"type": "ping", "id": name})
    await client.wait_event("pong", id=name)
    before = client.frames_received
    await client.next_frame()
    await client.next_frame()
    assert client.frames_received >= before + 2
    assert client.pc.connectionState == "connected"


def png(width: int, height: int, noise: bool = False) -> bytes:
    rng = np.random.default_rng(0)
    if noise:
        pixels = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    else:  # a "face" for the fake engine (not uniform) that still compresses to almost nothing
        pixels = np.zeros((height, width, 3), np.uint8)
        pixels[: height // 2] = 200
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def photo() -> bytes:
    return png(96, 96, noise=True)


async def silent_offer() -> tuple[RTCPeerConnection, dict[str, Any]]:
    """An offer like the page's (video + data channel) whose answer will never be applied."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.createDataChannel("facecast")
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    return pc, {"sdp": pc.localDescription.sdp, "type": "offer"}


BOUNDARY = "facecast-test-boundary"
MULTIPART = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


def multipart(parts: Sequence[tuple[str, bytes]]) -> bytes:
    """A multipart/form-data body of ``parts`` (post it with ``headers=MULTIPART``)."""
    body = b""
    for number, (name, data) in enumerate(parts):
        body += (
            (
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; '
                f'filename="{number}.png"\r\nContent-Type: image/png\r\n\r\n'
            ).encode()
            + data
            + b"\r\n"
        )
    return body + f"--{BOUNDARY}--\r\n".encode()


async def post_json(http: aiohttp.ClientSession, url: str, **kwargs: Any) -> tuple[int, Any]:
    async with http.post(url, **kwargs) as response:
        return response.status, await response.json()


# ------------------------------------------------------------------------ sessions and peers
def test_peers_are_capped_whatever_they_watch(
    photo: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """Broadcast viewers and ``session=ID`` offers count, not only private sessions."""
    caplog.set_level(logging.INFO)

    async def scenario() -> None:
        async with (
            server_for(max_peers=3, max_pending_offers_per_client=4) as server,
            honest_viewer(server, photo) as honest,
        ):
            facecast = server.app[FACECAST_KEY]
            held = []
            async with attacker_http() as http:
                # a broadcast viewer, and a second viewer of the honest session (its key)
                targets = [
                    {"session": "broadcast"},
                    {"session": honest.session_id, "key": honest.key},
                ]
                for target in targets:
                    pc, offer = await silent_offer()
                    held.append(pc)
                    status, _ = await post_json(
                        http, f"{base_url(server)}/offer", json={**offer, **target}
                    )
                    assert status == 200
                for target in [*targets, {}]:
                    pc, offer = await silent_offer()
                    held.append(pc)
                    body = {**offer, **target}
                    status, answer = await post_json(http, f"{base_url(server)}/offer", json=body)
                    assert (status, answer["code"]) == (503, "too_many_peers"), target
            assert len(facecast.peers) == 3
            await still_honest(honest, "after-peers")
            for pc in held:
                await pc.close()

    asyncio.run(scenario())
    assert_no_traceback(caplog)


def test_pending_offers_per_address_are_capped_and_dropped_soon(
    photo: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    async def scenario() -> None:
        async with (
            server_for(max_pending_offers_per_client=2, connect_timeout=0.6) as server,
            honest_viewer(server, photo) as honest,
        ):
            facecast = server.app[FACECAST_KEY]
            held = []
            async with attacker_http() as http:
                url = f"{base_url(server)}/offer"
                for _ in range(2):
                    pc, offer = await silent_offer()
                    held.append(pc)
                    assert (await post_json(http, url, json=offer))[0] == 200
                pc, offer = await silent_offer()
                held.append(pc)
                status, answer = await post_json(http, url, json=offer)
                assert (status, answer["code"]) == (429, "too_many_pending_offers")
                await still_honest(honest, "while-pending")  # its own address is not refused
                for _ in range(100):  # the never-connecting ones are dropped after 0.6 s
                    if not facecast.pending_peers:
                        break
                    await asyncio.sleep(0.05)
                assert not facecast.pending_peers and len(facecast.peers) == 1
                assert facecast.peer_sessions() == 1  # their sessions are closed too
                pc, offer = await silent_offer()
                held.append(pc)
                assert (await post_json(http, url, json=offer))[0] == 200
            await still_honest(honest, "after-pending")
            for pc in held:
                await pc.close()

    asyncio.run(scenario())
    assert_no_traceback(caplog)


def test_an_sdp_of_many_media_sections_is_refused_before_parsing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)

    async def scenario() -> None:
        async with server_for() as server:
            facecast = server.app[FACECAST_KEY]
            pc, offer = await silent_offer()
            await pc.close()
            sdp = offer["sdp"]
            head = sdp[: sdp.index("\r\nm=") + 2]
            bloated = head + "".join(  # 760 media sections, about 50 KB (the case)
                f"m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:{number}\r\na=rtpmap:96 VP8/90000\r\n"
                for number in range(760)
            )
            assert len(bloated) < 64_000
            async with aiohttp.ClientSession() as http:
                ws = await http.ws_connect(f"{base_url(server)}/ws")
                await receive_until(ws, "status")
                status, answer = await post_json(
                    http, f"{base_url(server)}/offer", json={"sdp": bloated, "type": "offer"}
                )
                assert (status, answer["code"]) == (400, "too_many_media")
                assert not facecast.peers and facecast.peer_sessions() == 0
                await ws.send_json({"type": "ping", "id": "after-sdp"})
                await receive_until(ws, "pong", id="after-sdp")
                await ws.close()

    asyncio.run(scenario())
    assert_no_traceback(caplog)


# ------------------------------------------------------------------------- bodies and pixels
def test_bodies_are_capped_per_route_also_without_content_length(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    still = png(64, 64, noise=True)  # about 12 KB

    async def chunked(data: bytes) -> AsyncIterator[bytes]:
        for start in range(0, len(data), 4096):
            yield data[start : start + 4096]

    async def scenario() -> None:
        options = {"max_upload_bytes": 16 * 1024, "max_capture_bytes": 40 * 1024}
        async with server_for(**options) as server, attacker_http() as http:
            url = base_url(server)
            ws = await http.ws_connect(f"{url}/ws")
            await receive_until(ws, "status")
            five = multipart([("frame", still)] * 5)  # each part fits, all five do not
            status, error = await post_json(http, f"{url}/capture", data=five, headers=MULTIPART)
            assert (status, error["code"]) == (413, "capture_too_large")
            # The same body streamed without a Content-Length (chunked encoding).
            status, error = await post_json(
                http, f"{url}/capture", data=chunked(five), headers=MULTIPART
            )
            assert (status, error["code"]) == (413, "capture_too_large")
            big = still * 2  # over the upload limit
            status, error = await post_json(
                http, f"{url}/upload", data=chunked(big), headers={"Content-Type": "image/png"}
            )
            assert (status, error["code"]) == (413, "image_too_large")
            status, error = await post_json(
                http, f"{url}/capture", data=multipart([("frame", big)]), headers=MULTIPART
            )
            assert (status, error["code"]) == (413, "image_too_large")
            status, error = await post_json(
                http,
                f"{url}/offer",
                data=chunked(b" " * 300_000),
                headers={"Content-Type": "application/json"},
            )
            assert (status, error["code"]) == (413, "offer_too_large")
            await ws.send_json({"type": "ping", "id": "after-bodies"})
            await receive_until(ws, "pong", id="after-bodies")
            await ws.close()

    asyncio.run(scenario())
    assert_no_traceback(caplog)


def test_decoded_pixels_are_checked_from_the_header_before_decoding(
    photo: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    engine = CountingEngine()
    bomb = png(5000, 4000)  # 20 Mpx in a few KB

    async def scenario() -> None:
        options = {"max_upload_pixels": 16_000_000, "max_capture_pixels": 4_000_000}
        async with (
            server_for(engine, **options) as server,
            honest_viewer(server, photo) as honest,
            attacker_http() as http,
        ):
            url = base_url(server)
            decodes = engine.decode_calls
            status, error = await post_json(http, f"{url}/upload", data=bomb)
            assert (status, error["code"]) == (413, "image_too_large")
            assert len(bomb) < 200_000
            # Three stills of 1.44 Mpx each fit one by one, not together.
            stills = multipart([("frame", png(1200, 1200))] * 3)
            status, error = await post_json(http, f"{url}/capture", data=stills, headers=MULTIPART)
            assert (status, error["code"]) == (413, "capture_too_large")
            assert engine.decode_calls == decodes  # not even a decode was tried
            two = multipart([("frame", png(1200, 1200))] * 2)
            status, _ = await post_json(http, f"{url}/capture", data=two, headers=MULTIPART)
            assert status == 200  # within both limits
            await still_honest(honest, "after-pixels")

    asyncio.run(scenario())
    assert_no_traceback(caplog)


# ------------------------------------------------------------------------ messages and jobs
def test_messages_are_capped_per_client_address(
    photo: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """Four connections, each within its own rate, together over the address's rate."""
    caplog.set_level(logging.INFO)

    async def scenario() -> None:
        options = {"message_burst": 20, "client_message_rate": 5.0, "client_message_burst": 30}
        async with (
            server_for(**options) as server,
            honest_viewer(server, photo) as honest,
            attacker_http() as http,
        ):
            sockets = [await http.ws_connect(f"{base_url(server)}/ws") for _ in range(4)]
            for ws in sockets:
                await receive_until(ws, "status")
            for number in range(15):
                for index, ws in enumerate(sockets):
                    await ws.send_json({"type": "ping", "id": f"a{index}-{number}"})
            answers: dict[str, int] = {"pong": 0, "rate_limited": 0}
            while sum(answers.values()) < 60:
                events = await asyncio.gather(*(ws.receive_json(timeout=5) for ws in sockets))
                for event in events:
                    kind = "pong" if event["type"] == "pong" else event.get("code", "")
                    if kind in answers:
                        answers[kind] += 1
            assert answers["rate_limited"] >= 25 and answers["pong"] <= 35, answers
            await still_honest(honest, "after-flood")  # another address: not limited
            for ws in sockets:
                await ws.close()

    asyncio.run(scenario())
    assert_no_traceback(caplog)


def test_uploads_held_per_session_are_capped(
    photo: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    engine = CountingEngine(calibrate_delay=0.4)

    async def scenario() -> None:
        async with (
            server_for(engine, max_heavy_jobs_per_session=1) as server,
            honest_viewer(server, photo) as honest,
            attacker_http() as http,
        ):
            url = f"{base_url(server)}/upload?session=broadcast"
            first = asyncio.ensure_future(post_json(http, url, data=photo))
            await asyncio.sleep(0.1)  # the first one is running
            status, error = await post_json(http, url, data=photo)
            assert (status, error["code"]) == (429, "busy")
            assert (await first)[0] == 200
            assert (await post_json(http, url, data=photo))[0] == 200  # the place is free again
            await still_honest(honest, "after-uploads")

    asyncio.run(scenario())
    assert_no_traceback(caplog)


def test_another_sessions_stills_delay_an_instruction_by_one_job_at_most(
    photo: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """Twelve slow stills of the broadcast; the honest session's instruction is planned while
    they decode, with at most one of them finishing meanwhile (one shared work lane would
    make it wait for two: one before planning, one before the timeline)."""
    caplog.set_level(logging.INFO)
    engine = CountingEngine(load_delay=0.2)

    async def scenario() -> None:
        async with (
            server_for(engine, capture_max_frames=12) as server,
            honest_viewer(server, photo) as honest,
            attacker_http() as http,
        ):
            capture = asyncio.ensure_future(
                post_json(
                    http,
                    f"{base_url(server)}/capture?session=broadcast",
                    data=multipart([("frame", png(200, 200, noise=True))] * 12),
                    headers=MULTIPART,
                )
            )
            while len(engine.decoded_at) < 3:  # the stills are being decoded
                await asyncio.sleep(0.02)
            sent = time.monotonic()
            honest.send({"type": "instruct", "id": "i1", "text": "smile"})
            await honest.wait_event("plan", id="i1")
            planned = time.monotonic()
            during = [t for t in engine.decoded_at if sent < t < planned]
            assert len(during) <= 1, len(during)
            assert len(engine.decoded_at) < 12  # the capture was still running
            assert (await capture)[0] == 200
            await still_honest(honest, "after-capture")

    asyncio.run(scenario())
    assert_no_traceback(caplog)


def test_stream_settings_are_capped(photo: bytes, caplog: pytest.LogCaptureFixture) -> None:
    """One client cannot make the shared broadcast 1024² at 60 fps for everyone."""
    caplog.set_level(logging.INFO)

    async def scenario() -> None:
        async with (
            server_for(max_stream_size=256, max_stream_fps=20.0) as server,
            honest_viewer(server, photo) as honest,
            attacker_http() as http,
        ):
            facecast = server.app[FACECAST_KEY]
            ws = await http.ws_connect(f"{base_url(server)}/ws")
            await receive_until(ws, "status")
            for body, field in (({"size": 1024}, "size"), ({"fps": 60}, "fps")):
                await ws.send_json({"type": "set", "id": field, **body})
                error, _ = await receive_until(ws, "error", id=field)
                assert error["code"] == "setting_too_high" and error["details"]["field"] == field
            broadcast = facecast.broadcast_session().settings
            assert (broadcast.size, broadcast.fps) == (64, 15.0)
            await ws.send_json({"type": "set", "id": "ok", "fps": 20})
            await receive_until(ws, "done", id="ok")
            await ws.close()
            await still_honest(honest, "after-set")

    asyncio.run(scenario())
    assert_no_traceback(caplog)


# ------------------------------------------------------------------------------ timeouts
def test_slow_headers_and_slow_bodies_are_cut_off(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)

    async def scenario() -> None:
        async with server_for(header_timeout=0.5, body_timeout=0.5) as server:
            host, port = server.host, server.port
            ws_http = aiohttp.ClientSession()
            ws = await ws_http.ws_connect(f"{base_url(server)}/ws")
            await receive_until(ws, "status")
            # slowloris: a request line, then one header byte now and then
            reader, writer = await asyncio.open_connection(host, port, local_addr=(ATTACKER, 0))
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")
            started = time.monotonic()
            closed_after = None
            for _ in range(40):
                await asyncio.sleep(0.1)
                try:
                    writer.write(b"X")
                    await writer.drain()
                except ConnectionError:
                    closed_after = time.monotonic() - started
                    break
                if reader.at_eof() or (await _closed(reader)):
                    closed_after = time.monotonic() - started
                    break
            assert closed_after is not None and closed_after < 3.0
            writer.close()
            # a body that stops arriving: 408
            reader, writer = await asyncio.open_connection(host, port, local_addr=(ATTACKER, 0))
            writer.write(
                b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
                b"Content-Length: 5000\r\n\r\n" + b"x" * 100
            )
            await writer.drain()
            head = await asyncio.wait_for(reader.read(4096), 5)
            assert head.startswith(b"HTTP/1.1 408"), head[:80]
            assert b'"body_timeout"' in head
            writer.close()
            await ws.send_json({"type": "ping", "id": "after-slow"})
            await receive_until(ws, "pong", id="after-slow")
            await ws.close()
            await ws_http.close()

    asyncio.run(scenario())
    assert_no_traceback(caplog)


async def _closed(reader: asyncio.StreamReader) -> bool:
    """Whether the server closed the connection (reads nothing more, without waiting)."""
    try:
        data = await asyncio.wait_for(reader.read(1), 0.01)
    except TimeoutError:
        return False
    return data == b""


# ------------------------------------------------------------------------------ shutdown
def test_closing_a_session_answers_its_upload_in_flight(
    photo: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    engine = CountingEngine(calibrate_delay=1.5)

    async def scenario() -> None:
        async with server_for(engine) as server:
            client = AvatarClient(base_url(server))
            await client.connect()
            async with aiohttp.ClientSession() as http:
                upload = asyncio.ensure_future(
                    post_json(
                        http,
                        f"{base_url(server)}/upload?session={client.session_id}",
                        data=photo,
                        headers={KEY_HEADER: client.key or ""},
                    )
                )
                await asyncio.sleep(0.2)  # calibrating
                started = time.monotonic()
                await client.close()  # the peer goes, and its session with it
                status, error = await asyncio.wait_for(upload, 1.0)
                assert (status, error["code"]) == (503, "closed")
                assert time.monotonic() - started < 1.0
            # the calibration still running is abandoned at exit, not awaited: the server's
            # worker threads are daemons (asyncio's own resolver threads are not the server's)
            assert any(t.name.startswith("heavy") for t in threading.enumerate())
            held = [
                t.name
                for t in threading.enumerate()
                if not t.daemon
                and t is not threading.main_thread()
                and not t.name.startswith("asyncio")
            ]
            assert held == []

    asyncio.run(scenario())
    assert_no_traceback(caplog)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


UPGRADE = (
    b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


async def reset_during_handshake(port: int) -> None:
    """A websocket upgrade, then an RST (SO_LINGER 0) before the answer is read."""
    _, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(ATTACKER, 0))
    writer.write(UPGRADE)
    await writer.drain()
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def test_sigterm_ends_serve_within_two_seconds_with_1001(tmp_path: Path) -> None:
    """A real ``facecast serve`` (aiohttp's run_app: handlers are not cancelled when their
    connection goes, unlike the test server): websockets reset during their handshake leave
    no traceback; SIGTERM with an upload being calibrated and a websocket open ends the
    process within 2 s; the websocket gets 1001, the upload an answer."""
    from skimage import data

    port = _free_port()
    buffer = io.BytesIO()
    Image.fromarray(data.astronaut()).resize((2048, 2048)).save(buffer, "PNG")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "server.cli.main", "serve", "--no-warmup", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )
    output: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if "Facecast on" in line:
                break

        async def scenario() -> tuple[int | None, int, dict[str, Any], float]:
            url = f"http://127.0.0.1:{port}"
            for _ in range(20):  # resets before the handshake completes: no traceback
                await reset_during_handshake(port)
            async with aiohttp.ClientSession() as http:
                ws = await http.ws_connect(f"{url}/ws")
                await receive_until(ws, "status")
                upload = asyncio.ensure_future(
                    post_json(http, f"{url}/upload", data=buffer.getvalue())
                )
                await receive_until(ws, "progress", timeout=20)  # decoded: calibration next
                await asyncio.sleep(0.5)  # well into the calibration (about 1.5 s here)
                started = time.monotonic()
                process.send_signal(signal.SIGTERM)
                while (await ws.receive(timeout=5)).type not in (
                    aiohttp.WSMsgType.CLOSE,
                    aiohttp.WSMsgType.CLOSED,
                    aiohttp.WSMsgType.ERROR,
                ):
                    pass
                status, answer = await asyncio.wait_for(upload, 5)
                await asyncio.to_thread(process.wait, 10)
                return ws.close_code, status, answer, time.monotonic() - started

        code, status, answer, seconds = asyncio.run(scenario())
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    rest = process.stdout.read() if process.stdout is not None else ""
    log = "".join(output) + rest
    assert code == 1001
    assert (status, answer["code"]) == (503, "closed"), answer
    assert seconds < 2.0, seconds
    print(f"SIGTERM to exit: {seconds:.2f} s")
    assert process.returncode == 0
    assert "Traceback" not in log, log[-3000:]
    json.dumps(answer)


def test_exit_leaves_a_busy_daemon_worker_behind_with_its_code() -> None:
    """``facecast``'s exit (``server.cli.main.run``) does not wait for a daemon worker still
    busy with an abandoned job, and does not finalize under it (a worker inside mediapipe made
    the interpreter abort at exit: status -6, about one run in five of the SIGTERM test); it
    exits with the command's code, its output flushed."""
    script = (
        "import time\n"
        "from server.cli.main import _leave\n"
        "from server.jobs import WorkerThread\n"
        "WorkerThread(target=time.sleep, args=(30,), daemon=True).start()\n"
        "print('served', flush=False)\n"
        "_leave(3)\n"
    )
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=20,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 3, result.stderr
    assert result.stdout.strip() == "served"
    assert time.monotonic() - started < 10.0
