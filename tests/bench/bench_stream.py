"""Stream benchmark: frames per second received by in-process WebRTC clients, and the time from
an instruction to the first changed frame, on the real engines with the astronaut photo.

Where the clients run: the receiving clients of the fps keys run in a separate Python process
(``python bench_stream.py --clients URL COUNT SECONDS``), as viewers do in a real deployment:
they still use the same cores (their RTP receive and video decoding are charged to the machine)
but no longer share the server's event loop and GIL. ``stream_fps_4_inprocess`` keeps the older
measurement with the clients inside the server's process, for comparison.

Keys:
    stream_fps_1: frames/s received by one session's client over the measurement window (512²).
    stream_fps_4: mean frames/s received per client with four concurrent sessions (512²).
    stream_fps_4_min: the slowest of the four.
    stream_fps_4_inprocess: stream_fps_4 with the four clients in the server's process.
    stream_codec: the video codec the server negotiated with the clients.
    instruct_to_frame_ms_p50 / _p95: instruction sent -> first received frame whose pixels differ
        from the frames before it (idle motion off, so only the instruction changes the face): a
        16×16 tile changed by more than twice its own largest change between still frames
        (codec noise) plus one grey level.
    instruct_plan_ms_p50: the server-side planning part of it.
    instruct_to_motion_ms_p50 / _p95: server side, instruction received -> first frame of its
        motion rendered (what the server adds; the rest is the transition's ease-in, during
        which the face moves too little to see, and the codec).
    stream_transport_fps_4: the same as stream_fps_4 with a zero-cost test renderer (transport,
        pacing and codec overhead alone), to tell engine cost from server cost.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
for _path in (ROOT, ROOT / "tests"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

logger = logging.getLogger(__name__)

SIZE = 512
# Each instruction starts from where the previous one left the face, and differs from it.
INSTRUCTIONS = (
    "look surprised",
    "show anger",
    "Turn this face from disgust to happiness",
    "a sad face",
    "look very surprised",
    "look disgusted",
    "smile",
    "look afraid",
)


@contextlib.asynccontextmanager
async def _server(engine: Any) -> AsyncIterator[Any]:
    from aiohttp.test_utils import TestServer

    from server.app import create_app
    from server.config import ServerConfig

    config = ServerConfig(size=SIZE, fps=30.0, max_sessions=8, message_rate=100.0)
    server = TestServer(create_app(config, engine, warmup=False), host="127.0.0.1")
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


async def _clients(server: Any, count: int, photo: bytes, keep_frames: bool) -> list[Any]:
    return await _connect(str(server.make_url("")).rstrip("/"), count, photo, keep_frames)


async def _connect(base: str, count: int, photo: bytes, keep_frames: bool) -> list[Any]:
    """``count`` clients of the server at ``base``, each with its own avatar from ``photo``."""
    import aiohttp

    from server.webrtc.client import AvatarClient

    clients = []
    for _ in range(count):
        client = AvatarClient(base, keep_frames=keep_frames)
        await client.connect()
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{base}/upload?session={client.session_id}",
                data=photo,
                headers={"X-Facecast-Key": client.key or ""},
            ) as response,
        ):
            if response.status != 200:
                raise RuntimeError(f"upload failed: {await response.text()}")
        clients.append(client)
    return clients


async def _measure(clients: list[Any], seconds: float) -> list[float]:
    """Frames/s each client receives over ``seconds``, after a warm-up."""
    await asyncio.sleep(1.5)  # warm-up: encoder start, bitrate ramp
    before = [c.frames_received for c in clients]
    started = time.monotonic()
    await asyncio.sleep(seconds)
    elapsed = time.monotonic() - started
    return [(c.frames_received - b) / elapsed for c, b in zip(clients, before, strict=True)]


async def _fps(engine: Any, count: int, photo: bytes, seconds: float) -> list[float]:
    """Clients in this process (they share the server's event loop and GIL)."""
    async with _server(engine) as server:
        clients = await _clients(server, count, photo, keep_frames=False)
        try:
            return await _measure(clients, seconds)
        finally:
            for client in clients:
                await client.close()


async def _fps_out_of_process(engine: Any, count: int, seconds: float) -> tuple[list[float], str]:
    """Clients in a child process (``--clients`` mode of this file); the fps and the codec."""
    from server.app import FACECAST_KEY

    async with _server(engine) as server:
        base = str(server.make_url("")).rstrip("/")
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            str(Path(__file__).resolve()),
            "--clients",
            base,
            str(count),
            str(seconds),
            stdout=asyncio.subprocess.PIPE,
        )
        communicate = asyncio.ensure_future(child.communicate())
        codecs: set[str] = set()  # what the server negotiated, seen while the clients are up
        deadline = time.monotonic() + seconds + 120
        while not communicate.done() and time.monotonic() < deadline:
            peers = server.app[FACECAST_KEY].peers
            codecs |= {str(getattr(link, "codec", None) or "default") for link in peers}
            await asyncio.wait({communicate}, timeout=0.5)
        if not communicate.done():
            child.kill()
            raise TimeoutError("the client process did not finish")
        output, _ = communicate.result()
        if child.returncode != 0:
            raise RuntimeError(f"client process failed with exit code {child.returncode}")
        result = json.loads(output.decode().strip().splitlines()[-1])
        return [float(f) for f in result["fps"]], ",".join(sorted(codecs))


async def _client_process(base: str, count: int, seconds: float) -> dict[str, Any]:
    """The child's side: connect, measure, close; what it prints (one JSON line)."""
    clients = await _connect(base, count, _photo(), keep_frames=False)
    try:
        return {"fps": await _measure(clients, seconds)}
    finally:
        for client in clients:
            await client.close()


def _tiles(a: np.ndarray, b: np.ndarray, block: int = 16) -> np.ndarray:
    """(H/block, W/block) mean absolute difference per tile: a change of the mouth or the eyes
    shows even when the rest of the frame is still (a whole-frame mean would hide it)."""
    delta = np.abs(a.astype(np.int16) - b.astype(np.int16)).mean(axis=2)
    height, width = (delta.shape[0] // block) * block, (delta.shape[1] // block) * block
    tiles = delta[:height, :width].reshape(height // block, block, width // block, block)
    return np.asarray(tiles.mean(axis=(1, 3)))


def _diff(a: np.ndarray, b: np.ndarray) -> float:
    """Largest per-tile mean absolute difference."""
    return float(_tiles(a, b).max())


async def _latency(
    engine: Any, photo: bytes, repeats: int
) -> tuple[list[float], list[float], list[float]]:
    from server.app import FACECAST_KEY

    async with _server(engine) as server:
        (client,) = await _clients(server, 1, photo, keep_frames=True)
        try:
            client.send({"type": "set", "idle": False, "id": "s"})
            await client.wait_event("done", command="set")
            latencies, plans = [], []
            for number in range(repeats):
                if number:  # the previous instruction has finished and the face is still
                    await client.wait_event(
                        "done", timeout=30, command="instruct", id=f"l{number - 1}"
                    )
                await asyncio.sleep(1.0)
                still = [(await client.next_frame()).image for _ in range(8)]
                # Codec noise per tile (VP8 keeps refining a still picture, more in texture).
                noise = np.max([_tiles(x, y) for x, y in itertools.pairwise(still)], axis=0)
                threshold = 2 * noise + 1.0
                b = still[-1]
                sent = time.monotonic()
                client.send(
                    {
                        "type": "instruct",
                        "text": INSTRUCTIONS[number % len(INSTRUCTIONS)],
                        "id": f"l{number}",
                    }
                )
                while True:
                    frame = await client.next_frame()
                    # A frame that arrives before the plan event cannot show the instruction
                    # (the server announces the plan before rendering its first frame), so
                    # such frames are codec refinement, not the instruction.
                    planned = any(
                        at <= frame.received_at and event.get("id") == f"l{number}"
                        for at, event in client.event_log
                        if event.get("type") == "plan"
                    )
                    if planned and np.any(_tiles(frame.image, b) > threshold):
                        latencies.append((frame.received_at - sent) * 1000)
                        break
                    if time.monotonic() - sent > 5:
                        raise TimeoutError("no changed frame within 5 s of an instruction")
                plan = await client.wait_event("plan", id=f"l{number}")
                plans.append(float(sum(plan.get("timings_ms", {}).values())))
                logger.info("%s: %.0f ms", plan["text"], latencies[-1])
            session = server.app[FACECAST_KEY].sessions[client.session_id]
            return latencies, plans, list(session.instruct_latencies_ms)
        finally:
            await client.close()


def _photo() -> bytes:
    import cv2
    from skimage import data

    ok, encoded = cv2.imencode(".png", cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError("cannot encode the astronaut photo")
    return encoded.tobytes()


def run(quick: bool = False) -> dict[str, Any]:
    from test_server_fakes import FakeEngine

    from server.engine import FacecastEngine

    seconds = 3.0 if quick else 10.0
    repeats = 5 if quick else 20
    photo = _photo()
    import torch

    torch.set_num_threads(1)  # as `facecast serve` does
    engine = FacecastEngine()
    engine.warmup()
    result: dict[str, Any] = {"stream_size": SIZE, "stream_seconds": seconds}
    fps_1, codec = asyncio.run(_fps_out_of_process(engine, 1, seconds))
    result["stream_fps_1"] = round(float(np.mean(fps_1)), 2)
    result["stream_codec"] = codec
    fps_4, _ = asyncio.run(_fps_out_of_process(engine, 4, seconds))
    result["stream_fps_4"] = round(float(np.mean(fps_4)), 2)
    result["stream_fps_4_min"] = round(float(np.min(fps_4)), 2)
    fps_4_inprocess = asyncio.run(_fps(engine, 4, photo, seconds))
    result["stream_fps_4_inprocess"] = round(float(np.mean(fps_4_inprocess)), 2)
    latencies, plans, motion = asyncio.run(_latency(engine, photo, repeats))
    result["instruct_to_frame_ms_p50"] = round(float(np.percentile(latencies, 50)), 1)
    result["instruct_to_frame_ms_p95"] = round(float(np.percentile(latencies, 95)), 1)
    result["instruct_plan_ms_p50"] = round(float(np.percentile(plans, 50)), 2)
    result["instruct_to_motion_ms_p50"] = round(float(np.percentile(motion, 50)), 1)
    result["instruct_to_motion_ms_p95"] = round(float(np.percentile(motion, 95)), 1)
    transport, _ = asyncio.run(_fps_out_of_process(FakeEngine(), 4, seconds))
    result["stream_transport_fps_4"] = round(float(np.mean(transport)), 2)
    return result


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--clients":  # the client process of the fps keys
        logging.basicConfig(level=logging.WARNING)
        measured = asyncio.run(_client_process(sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
        print(json.dumps(measured))
    else:
        logging.basicConfig(level=logging.INFO)
        print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
