"""Hostile soak: 2,000 mixed bad inputs and 100 connect/reset cycles against one ``facecast
serve`` (the real engines, the astronaut as the broadcast photo) while an honest viewer streams.

Three processes, as on a network: the server (``facecast serve``); the honest viewer
(``python bench_hostile.py --honest URL``: a private WebRTC session with its own avatar,
counting frames and pinging over its data channel); and this one, the attacker, whose
connections come from 127.0.0.2 (another loopback address: per-address caps refuse it, not the
viewer; without ``--token`` a loopback client is the operator, so the attacker holds every
right a client can have: the caps, not the access rules, are what is measured). Every bad
input must get a typed answer (an ``error`` event or an HTTP 4xx/503 with a
code; a slowloris socket is closed), and the server must come back to where it was.

The inputs, in turn: poison websocket messages (4,000-digit numbers, deep nesting, lone
surrogates, 60 KB messages, floods over the address's rate), ``set`` over the stream caps,
poison ``/offer`` bodies (deep nesting, not JSON, 760 media sections, 300 KB), offers that never
connect (over the pending cap), malformed multipart and pixel bombs on ``/upload`` and
``/capture``, over-size bodies, long and impossible paths, and slowloris sockets.

Keys:
    hostile_inputs, hostile_resets: what was sent.
    hostile_answers: count of each answer (error code, or ``ok`` for accepted offers).
    hostile_unanswered: inputs that got no typed answer (must be 0).
    hostile_5xx: HTTP answers >= 500 other than 503 with a code (must be 0).
    hostile_honest_fps_min / _p5 / _mean: the viewer's frames per second, 1-s windows over
        the soak.
    hostile_honest_ping_ms_p50 / _p99: the viewer's ping → pong over its data channel.
    hostile_rss_mb_before / _after / _growth: the server's resident memory before the soak and
        once it has settled after it (offers never connected dropped).
    hostile_fds_before / _after: the server's open file descriptors, same moments.
    hostile_tracebacks: "Traceback" in the server's log (must be 0).
    hostile_seconds: the soak's duration.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import io
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
for _path in (ROOT, ROOT / "tests"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

ATTACKER = "127.0.0.2"
DIGITS = "1" * 4000

POISON_MESSAGES = (
    '{"type":"set","fps":' + DIGITS + "}",
    "[" * 4000,
    '{"type":"instruct","id":"s1","text":"\\ud800 smile"}',
    "[" * 60_000,
    '{"type":"set","id":"big","size":1024}',
    '{"type":"set","id":"fast","fps":60}',
    '{"type":"nonsense"}',
    "not json",
)


# ------------------------------------------------------------------------------ processes
class ServerProcess:
    """``facecast serve`` in a child process; its log collected in the background."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "server.cli.main", "serve", "--port", str(port),
             "--photo", "astronaut", "--demo-idle", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            if "Facecast on" in line:
                self._ready.set()

    def wait_ready(self, timeout: float) -> None:
        if not self._ready.wait(timeout):
            raise TimeoutError("facecast serve did not start:\n" + "".join(self.lines[-20:]))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def fds(self) -> int:
        return len(os.listdir(f"/proc/{self.process.pid}/fd"))

    def tracebacks(self) -> int:
        return sum("Traceback" in line for line in self.lines)

    def first_traceback(self) -> str:
        """The first traceback of the log and the line before it ("" when none)."""
        for index, line in enumerate(self.lines):
            if "Traceback" in line:
                return "".join(self.lines[max(0, index - 1) : index + 30])
        return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(5)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _photo() -> bytes:
    from PIL import Image
    from skimage import data

    buffer = io.BytesIO()
    Image.fromarray(data.astronaut()).save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def _png(width: int, height: int, noise: bool = False) -> bytes:
    from PIL import Image

    if noise:
        pixels = np.random.default_rng(0).integers(0, 255, (height, width, 3), dtype=np.uint8)
    else:
        pixels = np.zeros((height, width, 3), np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


# ------------------------------------------------------------------------- honest viewer
async def _honest(base: str) -> dict[str, Any]:
    """The honest viewer (its own process): streams until a line arrives on stdin."""
    import aiohttp

    from server.access import KEY_HEADER
    from server.webrtc.client import AvatarClient

    client = AvatarClient(base, keep_frames=False)
    await client.connect()
    upload = f"{base}/upload?session={client.session_id}"
    async with (
        aiohttp.ClientSession() as http,
        http.post(upload, data=_photo(), headers={KEY_HEADER: client.key or ""}) as response,
    ):
        if response.status != 200:
            raise RuntimeError(f"upload failed: {await response.text()}")
    await client.next_frame(30)
    await asyncio.sleep(2.0)  # encoder start, bitrate ramp
    print("ready", flush=True)
    stop = asyncio.ensure_future(asyncio.to_thread(sys.stdin.readline))
    windows: list[float] = []
    pings: list[float] = []
    number = 0
    last_count, last_time = client.frames_received, time.monotonic()
    while not stop.done():
        number += 1
        sent = time.monotonic()
        client.send({"type": "ping", "id": f"h{number}"})
        with contextlib.suppress(TimeoutError):
            await client.wait_event("pong", timeout=5.0, id=f"h{number}")
            pings.append((time.monotonic() - sent) * 1000)
        await asyncio.wait({stop}, timeout=max(0.0, 0.5 - (time.monotonic() - sent)))
        now = time.monotonic()
        if now - last_time >= 1.0:
            windows.append((client.frames_received - last_count) / (now - last_time))
            last_count, last_time = client.frames_received, now
    await client.close()
    return {"fps_windows": windows, "ping_ms": pings, "pings_sent": number}


# ------------------------------------------------------------------------------ attacker
class Attacker:
    """Sends the bad inputs and counts the typed answers."""

    def __init__(self, base: str, http: Any, offer_sdp: str) -> None:
        self.base = base
        self.http = http
        self.offer_sdp = offer_sdp
        self.answers: collections.Counter[str] = collections.Counter()
        self.unanswered = 0
        self.server_errors = 0
        self.sent = 0
        self.bomb = _png(5000, 4000)  # 20 Mpx in a few KB
        self.still = _png(800, 800, noise=True)  # 0.64 Mpx, 1.9 MB (noise does not compress)
        self.websockets: list[Any] = []
        self._ws_pending: collections.deque[float] = collections.deque()
        self._readers: list[asyncio.Future[None]] = []

    def kinds(self) -> dict[Callable[[int], Coroutine[Any, Any, None]], int]:
        """Each kind of input and its share of the soak (in 100)."""
        return {
            self.ws_poison: 40,
            self.offer_poison: 20,
            self.bad_upload: 20,
            self.bad_path: 10,
            self.silent_offer: 7,
            self.heavy_capture: 2,
            self.huge_capture: 1,
        }

    async def open_websockets(self, count: int) -> None:
        for _ in range(count):
            ws = await self.http.ws_connect(f"{self.base}/ws")
            await ws.receive_json(timeout=10)  # status
            self.websockets.append(ws)
            self._readers.append(asyncio.ensure_future(self._read_answers(ws)))

    async def _read_answers(self, ws: Any) -> None:
        import aiohttp

        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            event = json.loads(message.data)
            # the answers to this connection's messages (the broadcast's own events, e.g. an
            # upload's error, go to every listener of the session: not answers to a message)
            if event.get("type") == "error" and event.get("command") not in ("upload", "capture"):
                self.answers[f"ws:{event.get('code')}"] += 1
                if self._ws_pending:
                    self._ws_pending.popleft()

    async def ws_poison(self, number: int) -> None:
        ws = self.websockets[number % len(self.websockets)]
        await ws.send_str(POISON_MESSAGES[number % len(POISON_MESSAGES)])
        self._ws_pending.append(time.monotonic())

    async def _http(self, method: str, path: str, **kwargs: Any) -> None:
        try:
            async with self.http.request(method, self.base + path, **kwargs) as response:
                body = await response.read()
                code = None
                with contextlib.suppress(ValueError):
                    code = json.loads(body).get("code")
                if response.status >= 500 and not (response.status == 503 and code):
                    self.server_errors += 1
                if response.status < 300 and path == "/offer":
                    self.answers["http:ok"] += 1
                elif response.status >= 400 and code:
                    self.answers[f"http:{response.status}:{code}"] += 1
                else:
                    self.unanswered += 1
        except Exception:  # a refused input must still be answered
            self.unanswered += 1

    async def offer_poison(self, number: int) -> None:
        bodies: list[bytes] = [
            b"[" * 100_000,
            ('{"sdp":"v=0","type":"offer","x":' + DIGITS + "}").encode(),
            b"not json",
            b"[" * 300_000,
            json.dumps({"sdp": self._many_media(), "type": "offer"}).encode(),
        ]
        body = bodies[number % len(bodies)]
        await self._http("POST", "/offer", data=body, headers={"Content-Type": "application/json"})

    def _many_media(self) -> str:
        head = self.offer_sdp[: self.offer_sdp.index("\r\nm=") + 2]
        return head + "".join(
            f"m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:{n}\r\na=rtpmap:96 VP8/90000\r\n"
            for n in range(760)
        )

    async def silent_offer(self, number: int) -> None:
        """An offer whose answer is never applied: pending, then dropped by the server."""
        await self._http("POST", "/offer", json={"sdp": self.offer_sdp, "type": "offer"})

    async def bad_upload(self, number: int) -> None:
        kind = number % 4
        if kind == 0:
            await self._http("POST", "/upload", data=self.bomb)
        elif kind == 1:
            headers = {"Content-Type": 'multipart/form-data; boundary="x'}
            await self._http("POST", "/upload", data=b"--x\r\nfoo", headers=headers)
        elif kind == 2:
            headers = {"Content-Type": "multipart/form-data; boundary=x"}
            await self._http("POST", "/capture", data=b"garbage", headers=headers)
        else:  # three 20 Mpx stills: over the capture's pixels, refused before any decode
            await self._http("POST", "/capture", data=_multipart([self.bomb] * 3), headers=MP)

    async def huge_capture(self, number: int) -> None:
        """Two 9 MiB stills streamed without a Content-Length: each within the still's limit,
        together over the capture's 16 MiB; refused once 16 MiB have arrived."""
        await self._http("POST", "/capture", data=_chunked_stills(2, 9 * 1024 * 1024), headers=MP)

    async def bad_path(self, number: int) -> None:
        path = "/static/" + "a" * 8000 if number % 2 else "/static/a%00b.js"
        await self._http("GET", path)

    async def heavy_capture(self, number: int) -> None:
        """Within the limits, and expensive: six noise stills, decoded and searched for a face
        (none: 422 ``no_face``), or 429 ``busy`` when the broadcast holds two already."""
        await self._http("POST", "/capture", data=_multipart([self.still] * 6), headers=MP)


BOUNDARY = "hostile-bench"
MP = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


def _multipart(stills: list[bytes]) -> bytes:
    body = b""
    for number, data in enumerate(stills):
        body += (
            (
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="frame"; '
                f'filename="{number}.png"\r\nContent-Type: image/png\r\n\r\n'
            ).encode()
            + data
            + b"\r\n"
        )
    return body + f"--{BOUNDARY}--\r\n".encode()


async def _chunked_stills(count: int, size: int) -> AsyncIterator[bytes]:
    """A multipart body of ``count`` "frame" parts of ``size`` bytes, in 256 KiB chunks."""
    chunk = b"x" * (256 * 1024)
    for number in range(count):
        yield (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="frame"; '
            f'filename="{number}.png"\r\nContent-Type: image/png\r\n\r\n'
        ).encode()
        for _ in range(size // len(chunk)):
            yield chunk
        yield b"\r\n"
    yield f"--{BOUNDARY}--\r\n".encode()


UPGRADE = (
    b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


async def _reset_cycle(port: int, number: int) -> None:
    """Connect, start a websocket handshake (or finish it), then reset (RST, no FIN)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(ATTACKER, 0))
    writer.write(UPGRADE)
    await writer.drain()
    if number % 2:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)  # handshake done
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _slowloris(port: int, seconds: float) -> bool:
    """A request whose headers never end: True when the server closed it within ``seconds``."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(ATTACKER, 0))
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            writer.write(b"X")
            await writer.drain()
            with contextlib.suppress(TimeoutError):
                if await asyncio.wait_for(reader.read(1), 1.0) == b"":
                    return True
        return False
    except ConnectionError:
        return True
    finally:
        writer.close()


async def _make_offer_sdp() -> str:
    from aiortc import RTCConfiguration, RTCPeerConnection

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.createDataChannel("facecast")
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    sdp = str(pc.localDescription.sdp)
    await pc.close()
    return sdp


async def _warm_up(server: ServerProcess) -> None:
    """Each kind of input a few times, one at a time: the server's first-use allocations
    (the face detector on a new image size, aiortc's first peers) happen before "before"."""
    import aiohttp

    connector = aiohttp.TCPConnector(local_addr=(ATTACKER, 0), limit=8)
    async with aiohttp.ClientSession(connector=connector) as http:
        attacker = Attacker(server.url, http, await _make_offer_sdp())
        await attacker.open_websockets(1)
        for kind in attacker.kinds():
            for number in range(8):
                await kind(number)
        await asyncio.sleep(1.0)
        for ws in attacker.websockets:
            await ws.close()


async def _soak(server: ServerProcess, inputs: int, resets: int) -> dict[str, Any]:
    import aiohttp

    connector = aiohttp.TCPConnector(local_addr=(ATTACKER, 0), limit=8)
    async with aiohttp.ClientSession(connector=connector) as http:
        attacker = Attacker(server.url, http, await _make_offer_sdp())
        await attacker.open_websockets(4)
        schedule = [kind for kind, weight in attacker.kinds().items() for _ in range(weight)]
        slowloris = [asyncio.ensure_future(_slowloris(server.port, 25.0)) for _ in range(8)]
        started = time.monotonic()
        pacing = 1.0 / 60  # about 60 inputs per second
        every = max(1, inputs // resets)
        running: set[asyncio.Task[None]] = set()
        for number in range(inputs):
            kind = schedule[(number * 37) % len(schedule)]
            task = asyncio.ensure_future(kind(number))
            running.add(task)
            task.add_done_callback(running.discard)
            if number % every == 0 and number // every < resets:
                with contextlib.suppress(ConnectionError, OSError):
                    await _reset_cycle(server.port, number)
            while len(running) >= 8:
                await asyncio.sleep(0.005)
            await asyncio.sleep(pacing)
        await asyncio.gather(*running, return_exceptions=True)
        await asyncio.sleep(2.0)  # the last websocket answers
        closed = await asyncio.gather(*slowloris)
        attacker.answers["slowloris_closed"] += sum(closed)
        attacker.unanswered += len(closed) - sum(closed)
        ws_unanswered = len(attacker._ws_pending)
        for ws in attacker.websockets:
            await ws.close()
        return {
            "seconds": time.monotonic() - started,
            "answers": dict(sorted(attacker.answers.items())),
            "unanswered": attacker.unanswered + ws_unanswered,
            "server_errors": attacker.server_errors,
            "sent": inputs + len(slowloris),
        }


def _settled(server: ServerProcess, fds: int, timeout: float) -> None:
    """Wait until the server's fds are back to ``fds`` (pending offers dropped), or timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.fds() != fds:
        time.sleep(0.5)


def run(quick: bool = False) -> dict[str, Any]:
    inputs, resets = (200, 10) if quick else (2000, 100)
    server = ServerProcess(_free_port())
    honest: subprocess.Popen[str] | None = None
    try:
        server.wait_ready(120)
        honest = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--honest", server.url],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        assert honest.stdout is not None and honest.stdin is not None
        if honest.stdout.readline().strip() != "ready":
            raise RuntimeError("the honest viewer did not start")
        rss_cold, fds_cold = server.rss_mb(), server.fds()
        asyncio.run(_warm_up(server))
        _settled(server, fds_cold, 30.0)
        time.sleep(6.0)
        rss_before, fds_before = server.rss_mb(), server.fds()
        soak = asyncio.run(_soak(server, inputs, resets))
        _settled(server, fds_before, 30.0)
        time.sleep(6.0)  # one period of the server's return of free heap pages (5 s)
        rss_after, fds_after = server.rss_mb(), server.fds()
        honest.stdin.write("stop\n")
        honest.stdin.flush()
        viewer = json.loads(honest.stdout.readline())
        honest.wait(20)
    finally:
        if honest is not None and honest.poll() is None:
            honest.kill()
        server.stop()
    windows = np.asarray(viewer["fps_windows"], float)
    pings = np.asarray(viewer["ping_ms"], float)
    return {
        "hostile_inputs": soak["sent"],
        "hostile_resets": resets,
        "hostile_answers": soak["answers"],
        "hostile_unanswered": soak["unanswered"],
        "hostile_5xx": soak["server_errors"],
        "hostile_honest_fps_min": round(float(windows.min()), 1),
        "hostile_honest_fps_p5": round(float(np.percentile(windows, 5)), 1),
        "hostile_honest_fps_mean": round(float(windows.mean()), 1),
        "hostile_honest_ping_ms_p50": round(float(np.percentile(pings, 50)), 1),
        "hostile_honest_ping_ms_p99": round(float(np.percentile(pings, 99)), 1),
        "hostile_honest_pings_lost": int(viewer["pings_sent"] - len(pings)),
        "hostile_rss_mb_cold": round(rss_cold, 1),
        "hostile_rss_mb_before": round(rss_before, 1),
        "hostile_rss_mb_after": round(rss_after, 1),
        "hostile_rss_mb_growth": round(rss_after - rss_before, 1),
        "hostile_fds_before": fds_before,
        "hostile_fds_after": fds_after,
        "hostile_tracebacks": server.tracebacks(),
        "hostile_first_traceback": server.first_traceback()[:3000],
        "hostile_seconds": round(soak["seconds"], 1),
    }


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--honest":
        print(json.dumps(asyncio.run(_honest(sys.argv[2]))), flush=True)
    else:
        print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
