"""The protocol against a running server (websocket + HTTP): every bad input gets an ``error``
and the session keeps working; limits, token, origin, upload, ``facecast send``."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import cv2
import numpy as np
import pytest
from aiohttp import WSServerHandshakeError
from aiohttp.test_utils import TestClient, TestServer
from test_server_fakes import FakeEngine

from server.app import FACECAST_KEY, create_app
from server.cli.main import main as cli_main
from server.config import ServerConfig
from server.exceptions import ServerError
from server.virtual_camera import VirtualCameraOutput, open_virtual_camera

pytestmark = pytest.mark.timeout(120)


def _png(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    assert ok
    return data.tobytes()


@contextlib.asynccontextmanager
async def client_for(engine: Any, **options: Any) -> AsyncIterator[TestClient]:
    config = ServerConfig(**{"size": 64, "fps": 20.0, **options})
    client = TestClient(TestServer(create_app(config, engine, warmup=False), host="127.0.0.1"))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def next_of(ws: Any, type_: str, timeout: float = 10.0, **match: Any) -> dict[str, Any]:
    while True:
        message = await asyncio.wait_for(ws.receive_json(), timeout)
        if message["type"] == type_ and all(message.get(k) == v for k, v in match.items()):
            return message


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())


def test_bad_messages_get_errors_and_the_session_keeps_working(astronaut: np.ndarray) -> None:
    async def scenario() -> None:
        async with client_for(FakeEngine()) as client:
            ws = await client.ws_connect("/ws")
            status = await next_of(ws, "status")
            assert status["session"] == "broadcast" and status["has_avatar"] is False

            await ws.send_str("{this is not json")
            assert (await next_of(ws, "error"))["code"] == "bad_json"
            await ws.send_str('{"type": "teleport"}')
            error = await next_of(ws, "error")
            assert error["code"] == "unknown_type" and "instruct" in error["message"]
            await ws.send_str(json.dumps({"type": "set", "fps": 20, "x": "x" * 10_000, "id": "b"}))
            error = await next_of(ws, "error")
            assert error["code"] == "message_too_large" and error["id"] == "b"
            # 2,000 characters sent by a script: too_long, answering its id; 10,000 too (the
            # reason it is too large is its length)
            for text, command_id in (("x" * 2000, "t"), ("x" * 10_000, "t2")):
                await ws.send_str(json.dumps({"type": "instruct", "text": text, "id": command_id}))
                error = await next_of(ws, "error")
                assert (error["code"], error["id"]) == ("too_long", command_id)
                assert error["command"] == "instruct"
                assert error["details"] == {"length": len(text), "limit": 1000}
            assert status["limits"]["text_chars"] == 1000
            await ws.send_bytes(b"\x00\x01binary junk")
            assert (await next_of(ws, "error"))["code"] == "bad_json"
            # An instruction before any avatar exists.
            await ws.send_str('{"type": "instruct", "text": "smile", "id": "early"}')
            error = await next_of(ws, "error", id="early")
            assert error["code"] == "no_avatar" and "upload" in error["message"]
            # Capture over a websocket: there is no webcam track.
            await ws.send_str('{"type": "capture", "id": "cap"}')
            assert (await next_of(ws, "error", id="cap"))["code"] == "no_webcam"

            # An image that is not a face: HTTP 422 and an error event to the controllers.
            blank = np.full((120, 160, 3), 128, np.uint8)
            response = await client.post("/upload?session=broadcast", data=_png(blank))
            assert response.status == 422
            assert (await response.json())["code"] == "no_face"
            assert (await next_of(ws, "error", command="upload"))["code"] == "no_face"
            response = await client.post("/upload", data=b"definitely not an image")
            assert response.status == 422 and (await response.json())["code"] == "bad_image"
            response = await client.post("/upload", data=b"")
            assert response.status == 400

            # Still working: a face, then an instruction with plan, progress and done.
            response = await client.post("/upload", data=_png(astronaut))
            assert response.status == 200, await response.text()
            assert (await response.json())["result"]["source_size"] == [512, 512]
            await ws.send_str('{"type": "instruct", "text": "blorf the zibble", "id": "huh"}')
            error = await next_of(ws, "error", id="huh")
            assert error["code"] == "not_understood" and "smile" in error["message"]
            await ws.send_str('{"type": "instruct", "text": "from anger to joy", "id": "ok"}')
            plan = await next_of(ws, "plan", id="ok")
            assert plan["understood"] == ["anger", "happiness"]
            assert [a["label"] for a in plan["anchors"]] == ["anger", "happiness"]
            await next_of(ws, "done", id="ok", command="instruct")
            await ws.send_str('{"type": "ping", "id": "p"}')
            await next_of(ws, "pong", id="p")
            await ws.close()

    run(scenario)


def test_flood_is_rate_limited_then_recovers() -> None:
    async def scenario() -> None:
        async with client_for(FakeEngine(), message_rate=5.0, message_burst=5) as client:
            ws = await client.ws_connect("/ws")
            await next_of(ws, "status")
            for number in range(200):
                await ws.send_str(json.dumps({"type": "ping", "id": str(number)}))
            pongs: list[str] = []
            errors: list[dict[str, Any]] = []
            with contextlib.suppress(TimeoutError):
                while True:
                    message = await asyncio.wait_for(ws.receive_json(), 0.5)
                    if message["type"] == "pong":
                        pongs.append(message["id"])
                    if message["type"] == "error":
                        errors.append(message)
            assert 5 <= len(pongs) <= 10
            assert errors and {e["code"] for e in errors} == {"rate_limited"}
            # the dropped ones are answered with their id, up to the rate (burst 5) ...
            answered = [e["id"] for e in errors if "id" in e]
            assert 5 <= len(answered) <= 10 and not set(answered) & set(pongs)
            assert all(e["command"] == "ping" for e in errors if "id" in e)
            # ... and the rest of the flood shares one answer per second
            assert len(errors) - len(answered) <= 2
            assert len(errors) <= 12
            await asyncio.sleep(1.0)
            await ws.send_str('{"type": "ping", "id": "after"}')
            await next_of(ws, "pong", id="after")

    run(scenario)


def test_token_origin_and_upload_limits(astronaut: np.ndarray) -> None:
    async def scenario() -> None:
        async with client_for(FakeEngine(), token="s3cret", max_upload_bytes=64 * 1024) as client:
            with pytest.raises(WSServerHandshakeError) as info:
                await client.ws_connect("/ws?token=wrong")
            assert info.value.status == 401
            viewer = await client.ws_connect("/ws")  # no token: the broadcast, view-only
            await next_of(viewer, "status")
            await viewer.send_str('{"type": "set", "fps": 5, "id": "v"}')
            assert (await next_of(viewer, "error", id="v"))["code"] == "view_only"
            await viewer.close()
            with pytest.raises(WSServerHandshakeError) as info:
                await client.ws_connect(
                    "/ws?token=s3cret", headers={"Origin": "http://evil.example"}
                )
            assert info.value.status == 403
            ws = await client.ws_connect(
                "/ws?token=s3cret", headers={"Origin": str(client.make_url("")).rstrip("/")}
            )
            await next_of(ws, "status")
            response = await client.post("/offer?token=s3cret", json={"type": "answer"})
            assert response.status == 400 and (await response.json())["code"] == "bad_offer"
            big = (np.random.default_rng(0).integers(0, 255, (300, 300, 3))).astype(np.uint8)
            response = await client.post(
                "/upload", data=_png(big), headers={"Authorization": "Bearer s3cret"}
            )
            assert response.status == 413
            assert (await response.json())["code"] == "image_too_large"
            response = await client.post("/upload?session=nope&token=s3cret", data=b"x")
            assert response.status == 404
            assert (await client.get("/api/status")).status == 401
            status = await (await client.get("/api/status?token=s3cret")).json()
            assert status["token_required"] is True and status["websockets"] == 1
            await ws.close()

    run(scenario)


def test_engine_errors_stay_in_their_session(astronaut: np.ndarray) -> None:
    async def scenario() -> None:
        engine = FakeEngine()
        async with client_for(engine) as client:
            app_server = client.app[FACECAST_KEY]
            ws = await client.ws_connect("/ws")
            await next_of(ws, "status")
            assert (await client.post("/upload", data=_png(astronaut))).status == 200
            broadcast = app_server.sessions["broadcast"]
            # A planner bug is reported and the session keeps working.
            await ws.send_str('{"type": "instruct", "text": "crash please", "id": "c"}')
            error = await next_of(ws, "error", id="c")
            assert error["code"] == "engine_error" and "fake planner bug" in error["message"]
            # A second session with its own avatar keeps streaming while the first one's
            # renderer breaks.
            other = app_server._new_session("peer")
            other.frames.attach()
            broadcast.frames.attach()
            await other.set_avatar_image(astronaut[::-1].copy())
            await asyncio.sleep(0.3)
            before = other.frames_rendered
            engine.renderers[0].fail = True
            error = await next_of(ws, "error", code="render_failed")
            assert "capture or upload again" in error["message"]
            await asyncio.sleep(0.5)
            assert other.frames_rendered > before + 5
            assert broadcast.avatar is None and other.avatar is not None
            await ws.send_str('{"type": "ping", "id": "alive"}')
            await next_of(ws, "pong", id="alive")

    run(scenario)


def test_facecast_send_prints_plan_and_done(astronaut: np.ndarray, capsys: Any) -> None:
    async def scenario() -> None:
        async with client_for(FakeEngine(segment_seconds=0.2)) as client:
            assert (await client.post("/upload", data=_png(astronaut))).status == 200
            url = str(client.make_url("/ws")).replace("http://", "ws://")
            loop = asyncio.get_running_loop()
            code = await loop.run_in_executor(
                None, cli_main, ["send", "from disgust to happiness", "--url", url]
            )
            assert code == 0
            code = await loop.run_in_executor(None, cli_main, ["send", "qwerty", "--url", url])
            assert code == 2

    run(scenario)
    out = capsys.readouterr().out
    assert "understood: disgust 1.00, happiness 1.00" in out
    assert "done: instruct" in out
    assert "error [not_understood]" in out


def test_virtual_camera_receives_the_broadcast(astronaut: np.ndarray) -> None:
    class FakeCamera:
        def __init__(self, width: int, height: int, fps: float) -> None:
            self.width, self.height, self.fps = width, height, fps
            self.frames: list[np.ndarray] = []
            self.closed = False

        def send(self, frame: np.ndarray) -> None:
            self.frames.append(frame)

        def sleep_until_next_frame(self) -> None:
            import time

            time.sleep(1 / self.fps)

        def close(self) -> None:
            self.closed = True

    def no_device(**_: Any) -> Any:
        raise RuntimeError("'/dev/video*' not found")

    with pytest.raises(ServerError, match="v4l2loopback") as info:
        open_virtual_camera(64, 20, factory=no_device)
    assert info.value.code == "no_virtual_camera"
    camera = open_virtual_camera(96, 20, factory=FakeCamera)
    assert isinstance(camera, FakeCamera)

    async def scenario() -> None:
        async with client_for(FakeEngine(), virtual_camera=True) as client:
            app_server = client.app[FACECAST_KEY]
            broadcast = app_server.broadcast_session()
            output = VirtualCameraOutput(camera, broadcast.frames)
            output.start()
            await broadcast.set_avatar_image(astronaut)
            await asyncio.sleep(0.5)
            output.stop()
        assert camera.closed and len(camera.frames) >= 3
        assert camera.frames[-1].shape == (96, 96, 3)

    run(scenario)


def test_upload_pixel_count_limit_is_checked(astronaut: np.ndarray) -> None:
    async def scenario() -> None:
        async with client_for(FakeEngine(), max_upload_pixels=64 * 64) as client:
            response = await client.post("/upload", data=_png(astronaut[:100, :100].copy()))
            assert response.status == 413
            answer = await response.json()
            assert answer["code"] == "image_too_large" and answer["type"] == "error"
            response = await client.post("/upload", data=_png(astronaut[:60, :60].copy()))
            assert response.status == 200  # the session keeps working

    run(scenario)


def test_facecast_send_shows_only_its_own_instruction(astronaut: np.ndarray, capsys: Any) -> None:
    """On the shared broadcast session another instruction (here the demo loop's) may be
    running; ``facecast send`` must not print its ``done`` as if it were its own."""

    async def scenario() -> None:
        # long segments: the demo (two emotions, 6 s) is surely still moving when we send
        engine = FakeEngine(segment_seconds=3.0)
        async with client_for(engine, demo_idle_seconds=0.2) as client:
            ws = await client.ws_connect("/ws")  # before the demo can start: no event missed
            assert (await client.post("/upload", data=_png(astronaut))).status == 200
            await next_of(ws, "plan", id="demo-1")  # the demo is moving now
            url = str(client.make_url("/ws")).replace("http://", "ws://")
            loop = asyncio.get_running_loop()
            code = await loop.run_in_executor(None, cli_main, ["send", "look happy", "--url", url])
            assert code == 0
            interrupted = await next_of(ws, "done", id="demo-1")
            assert interrupted["result"] == {"interrupted": True}
            await ws.close()

    run(scenario)
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["understood: happiness 1.00 (3.0 s)", "done: instruct"], lines


def test_capture_from_stills_the_page_took(astronaut: np.ndarray) -> None:
    """POST /capture: the page's own full-quality stills; an unreadable one is skipped, the
    best face is chosen and reported like the capture command; bad requests are errors."""
    import aiohttp

    def form(*stills: bytes, name: str = "frame") -> aiohttp.FormData:
        data = aiohttp.FormData()
        for number, still in enumerate(stills):
            data.add_field(name, still, filename=f"still{number}.png", content_type="image/png")
        return data

    async def scenario() -> None:
        async with client_for(FakeEngine(), capture_max_frames=4) as client:
            ws = await client.ws_connect("/ws")
            await next_of(ws, "status")
            blurred = cv2.GaussianBlur(astronaut, (0, 0), 3)
            stills = (_png(blurred), b"not an image", _png(astronaut))
            response = await client.post("/capture?session=broadcast&id=c1", data=form(*stills))
            assert response.status == 200, await response.text()
            answer = await response.json()
            assert answer["command"] == "capture" and answer["result"]["frames"] == 2
            assert answer["result"]["index"] == 1  # the sharp one (the fake scores by contrast)
            assert answer["result"]["thumbnail"].startswith("data:image/jpeg")
            done = await next_of(ws, "done", command="capture", id="c1")
            assert done["result"]["reason"]
            # errors: no frames, wrong field, too many, only junk, not multipart
            response = await client.post("/capture", data=form(_png(astronaut), name="photo"))
            assert response.status == 400 and (await response.json())["code"] == "bad_upload"
            response = await client.post("/capture", data=form(*([_png(astronaut)] * 5)))
            assert response.status == 400 and "at most 4" in (await response.json())["message"]
            response = await client.post("/capture", data=form(b"junk", b"more junk"))
            assert response.status == 422 and (await response.json())["code"] == "bad_image"
            response = await client.post("/capture", data=b"raw bytes")
            assert response.status == 415
            assert (await response.json())["code"] == "bad_content_type"
            response = await client.post("/capture?session=nope", data=form(_png(astronaut)))
            assert response.status == 404
            # the session still works
            await ws.send_str('{"type": "instruct", "text": "smile", "id": "s"}')
            await next_of(ws, "done", id="s", command="instruct")
            await ws.close()

    run(scenario)


def test_status_tells_when_the_warm_up_is_done() -> None:
    """``/api/status`` says ``warming`` until the engine's warm-up returns, then ``done``
    (``failed`` if it raised, and the server keeps serving); ``off`` without a warm-up."""
    import threading

    class SlowWarmup(FakeEngine):
        def __init__(self, fail: bool) -> None:
            super().__init__()
            self.release = threading.Event()
            self.fail = fail

        def warmup(self) -> None:
            self.release.wait(10)
            if self.fail:
                raise RuntimeError("no models")

    async def status_of(client: TestClient) -> str:
        return str((await (await client.get("/api/status")).json())["warmup"])

    async def scenario(fail: bool) -> None:
        engine = SlowWarmup(fail)
        config = ServerConfig(size=64, fps=20.0)
        client = TestClient(TestServer(create_app(config, engine, warmup=True), host="127.0.0.1"))
        await client.start_server()
        try:
            assert await status_of(client) == "warming"
            engine.release.set()
            for _ in range(100):
                if await status_of(client) != "warming":
                    break
                await asyncio.sleep(0.05)
            assert await status_of(client) == ("failed" if fail else "done")
            ws = await client.ws_connect("/ws")
            assert (await next_of(ws, "status"))["state"]
            await ws.close()
        finally:
            await client.close()

    run(lambda: scenario(False))
    run(lambda: scenario(True))

    async def off() -> None:
        async with client_for(FakeEngine()) as client:
            assert await status_of(client) == "off"

    run(off)
