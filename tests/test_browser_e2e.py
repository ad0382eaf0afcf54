"""End to end in a real headless browser: Debian's chromium with a fake webcam fed from a video
made from a real face photo (skimage's astronaut), driven by playwright, against the server on
the real engines. Keeps a screenshot under artifacts/browser_e2e.png; with
FACECAST_UPDATE_DOCS_IMAGES=1 (or when missing) also a small copy in docs/images/."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from aiohttp.test_utils import TestServer

from server.app import create_app
from server.config import ServerConfig

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
SCREENSHOT_COPY = ROOT / "docs" / "images" / "client_screenshot.png"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


@contextlib.asynccontextmanager
async def served_browser(
    app: Any, flags: list[str] | None = None
) -> AsyncIterator[tuple[TestServer, Any]]:
    """A loopback TestServer of ``app`` and a headless Debian chromium (``flags``, default
    CHROMIUM_FLAGS); both closed on exit."""
    from playwright.async_api import async_playwright

    executable = require_chromium()
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=executable, args=flags or CHROMIUM_FLAGS, headless=True
            )
            try:
                yield server, browser
            finally:
                await browser.close()
    finally:
        await server.close()


def require_chromium() -> str:
    """The chromium path; skips when absent, except under CI where that is a failure."""
    path = chromium_path()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required under CI (apt-get install -y chromium)")
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")
    return path


def write_face_y4m(photo: np.ndarray, path: Path, seconds: float = 4.0, fps: int = 15) -> Path:
    """A 640×480 Y4M video of ``photo`` (a face) with slight jitter: the fake webcam.
    The photo keeps its aspect ratio (scaled to fit, centred on a dark frame): squashed, a
    portrait photo's face came out wide and its fit changed (a smile read 0.22 weaker)."""
    height, width = photo.shape[:2]
    scale = min(480 / height, 640 / width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    face = cv2.resize(photo, size, interpolation=cv2.INTER_AREA)
    canvas = np.full((480, 640, 3), 40, np.uint8)
    top, left = (480 - size[1]) // 2, (640 - size[0]) // 2
    canvas[top : top + size[1], left : left + size[0]] = face
    rng = np.random.default_rng(0)
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W640 H480 F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(int(seconds * fps)):
            dx, dy = rng.normal(0, 1.0, 2)
            shift = np.array([[1, 0, dx], [0, 1, dy]], np.float32)
            frame = cv2.warpAffine(canvas, shift, (640, 480), borderMode=cv2.BORDER_REPLICATE)
            out.write(b"FRAME\n")
            out.write(cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).tobytes())
    return path


GRAB_PIXELS = """() => {
  const video = document.getElementById('avatar');
  const canvas = document.createElement('canvas');
  canvas.width = 128; canvas.height = 128;
  const context = canvas.getContext('2d');
  context.drawImage(video, 0, 0, 128, 128);
  return Array.from(context.getImageData(0, 0, 128, 128).data);
}"""


async def grab(page: Any) -> np.ndarray:
    data = await page.evaluate(GRAB_PIXELS)
    return np.asarray(data, np.float32).reshape(128, 128, 4)[..., :3]


def tile_change(a: np.ndarray, b: np.ndarray, tile: int = 8) -> float:
    """Largest mean absolute difference over the (tile × tile) blocks of two (128, 128, 3)
    frames: an expression change is local (mouth, eyes, brows), so a whole-frame mean
    hides it in codec noise."""
    delta = np.abs(a - b).mean(axis=2)
    blocks = delta.reshape(128 // tile, tile, 128 // tile, tile).mean(axis=(1, 3))
    return float(blocks.max())


async def wait_event(page: Any, predicate: str, timeout_ms: float) -> Any:
    """Wait until an event in ``window.facecast.events`` matches the JS ``predicate(e)``."""
    await page.wait_for_function(
        f"() => (window.facecast?.events || []).some(e => {predicate})", timeout=timeout_ms
    )
    return await page.evaluate(f"() => window.facecast.events.filter(e => {predicate}).at(-1)")


async def browser_scenario(engine: Any, photo: np.ndarray, workdir: Path) -> dict[str, Any]:
    video = write_face_y4m(photo, workdir / "webcam.y4m")
    config = ServerConfig(size=512, fps=30.0)
    result: dict[str, Any] = {}
    app = create_app(config, engine, warmup=True)
    flags = [*CHROMIUM_FLAGS, f"--use-file-for-fake-video-capture={video}"]
    async with served_browser(app, flags) as (server, browser):
        context = await browser.new_context(viewport={"width": 1400, "height": 820})
        page = await context.new_page()
        page.on("console", lambda message: result.setdefault("console", []).append(message.text))
        await page.goto(str(server.make_url("/")))
        await page.wait_for_function("() => window.facecast?.webcam === true", timeout=20_000)
        await wait_event(page, "e.type === 'status' && e.state === 'no_avatar'", 20_000)
        await page.click("#capture")
        done = await wait_event(
            page,
            "(e.type === 'done' && e.command === 'capture') || e.type === 'error'",
            120_000,
        )
        assert done["type"] == "done", done
        result["capture"] = done["result"]
        # the chat entry shows the capture as it happened, with the time it took
        await page.wait_for_function(
            "() => document.querySelector('#history li.you .detail')"
            ".textContent.startsWith('avatar ready in ')",
            timeout=10_000,
        )
        result["capture_entry"] = await page.inner_text("#history li.you .detail")
        result["capture_steps"] = await page.evaluate("() => window.facecast.steps")
        await page.wait_for_function(
            "() => { const v = document.getElementById('avatar');"
            " return v.readyState >= 2 && v.currentTime > 0 && !v.paused; }",
            timeout=20_000,
        )
        # Idle motion off (through the settings UI), so that only the instruction moves
        # the face; then the codec noise of a still face is the baseline.
        await page.click("details.settings summary")
        await page.uncheck("#idle")
        await wait_event(page, "e.type === 'done' && e.command === 'set'", 10_000)
        await asyncio.sleep(1.5)
        idle_a = await grab(page)
        await asyncio.sleep(0.4)
        idle_b = await grab(page)
        result["idle_diff"] = tile_change(idle_a, idle_b)
        await page.fill("#text", "Turn this face from disgust to happiness")
        await page.press("#text", "Enter")
        plan = await wait_event(page, "e.type === 'plan' || e.type === 'error'", 60_000)
        assert plan["type"] == "plan", plan
        result["plan"] = plan
        diffs = []
        for _ in range(6):
            await asyncio.sleep(0.4)
            diffs.append(tile_change(await grab(page), idle_b))
        result["instruct_diffs"] = diffs
        result["fps"] = await page.evaluate("() => window.facecast.fps || 0")
        result["shown_fps"] = await page.evaluate("() => window.facecast.shownFps || 0")
        await asyncio.sleep(0.3)
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "browser_e2e.png"
        await page.screenshot(path=str(shot))
        result["screenshot"] = shot
        # No STUN/TURN server unless the server was given one.
        result["ice_servers"] = await page.evaluate(
            "() => window.facecast.link.pc.getConfiguration().iceServers"
        )
        # An instruction it does not understand: the unknown words and examples to click.
        await page.fill("#text", "qwxz blorf")
        await page.press("#text", "Enter")
        await wait_event(page, "e.type === 'error' && e.code === 'not_understood'", 30_000)
        examples = page.locator("#history li.failed button.example")
        result["examples"] = await examples.all_inner_texts()
        await examples.first.click()
        result["text_after_example"] = await page.input_value("#text")
        # A file that is not an image: one chat entry, with the error, not two.
        await page.set_input_files(
            "#photo", files=[{"name": "notes.jpg", "mimeType": "image/jpeg", "buffer": b"hi"}]
        )
        await wait_event(page, "e.type === 'error' && e.command === 'upload'", 30_000)
        await page.wait_for_function(
            "() => [...document.querySelectorAll('#history li')].some("
            "li => li.textContent.includes('notes.jpg') && li.textContent.includes('error'))",
            timeout=10_000,
        )
        result["history"] = await page.locator("#history li").all_inner_texts()
    return result


def test_browser_capture_instruct_and_video_changes(astronaut: np.ndarray) -> None:
    require_chromium()
    from server.engine import FacecastEngine

    with tempfile.TemporaryDirectory() as workdir:
        result = asyncio.run(browser_scenario(FacecastEngine(), astronaut, Path(workdir)))
    # the page's own 8 stills (POST /capture), not the first seconds of its WebRTC video
    assert result["capture"]["frames"] == 8 and result["capture"]["reason"]
    assert result["capture_entry"].endswith(result["capture"]["reason"]), result["capture_entry"]
    steps = result["capture_steps"]  # the status line's path through the capture
    assert steps[:2] == ["connecting", "no_avatar"], steps
    assert steps.index("taking") < steps.index("calibrating") < steps.index("ready"), steps
    assert result["plan"]["understood"], result["plan"]
    # The face changes far more than a still face's codec noise, in some block.
    assert max(result["instruct_diffs"]) > max(8.0, 3 * result["idle_diff"]), result
    assert result["ice_servers"] == []
    assert result["examples"] and result["text_after_example"] == result["examples"][0]
    uploads = [item for item in result["history"] if "notes.jpg" in item]
    assert len(uploads) == 1 and "not an image" in uploads[0], result["history"]
    assert not any("<bytes>" in item for item in result["history"])
    assert sum("not an image" in item for item in result["history"]) == 1, result["history"]
    shot = cv2.imread(str(result["screenshot"]))
    assert shot is not None and shot.shape[0] > 400
    if SCREENSHOT_COPY.exists() and not os.environ.get("FACECAST_UPDATE_DOCS_IMAGES"):
        return  # the docs copy is refreshed on demand, so `make test` leaves the tree clean
    from PIL import Image

    height = 600
    width = shot.shape[1] * height // shot.shape[0]
    small = cv2.resize(shot, (width, height), interpolation=cv2.INTER_AREA)
    SCREENSHOT_COPY.parent.mkdir(parents=True, exist_ok=True)
    palette = Image.fromarray(cv2.cvtColor(small, cv2.COLOR_BGR2RGB)).quantize(colors=192)
    palette.save(SCREENSHOT_COPY, optimize=True)  # a small copy for the docs


async def kiosk_scenario(engine: Any, photo: np.ndarray) -> dict[str, Any]:
    config = ServerConfig(size=256, fps=30.0, demo_idle_seconds=1.0)
    result: dict[str, Any] = {}
    app = create_app(config, engine, startup_image=photo, warmup=False)
    async with served_browser(app) as (server, browser):
        page = await browser.new_page(viewport={"width": 1000, "height": 700})
        await page.goto(str(server.make_url("/kiosk")))
        await page.wait_for_function(
            "() => { const v = document.getElementById('avatar');"
            " return v.readyState >= 2 && v.currentTime > 0; }",
            timeout=20_000,
        )
        demo = await wait_event(page, "e.type === 'plan'", 20_000)
        result["demo"] = demo
        await page.wait_for_selector("#text:not([disabled])", timeout=10_000)
        await page.fill("#text", "look surprised")
        await page.press("#text", "Enter")
        plan = await wait_event(page, "e.type === 'plan' && e.text === 'look surprised'", 20_000)
        result["plan"] = plan
        result["caption"] = await page.inner_text("#caption")
        await asyncio.sleep(1.0)
        ARTIFACTS.mkdir(exist_ok=True)
        result["screenshot"] = ARTIFACTS / "kiosk.png"
        await page.screenshot(path=str(result["screenshot"]))
    return result


def test_kiosk_shows_the_broadcast_with_demo_loop_and_chat(astronaut: np.ndarray) -> None:
    """The kiosk page with the transport test double (the product engines are covered above)."""
    require_chromium()
    from test_server_fakes import FakeEngine

    result = asyncio.run(kiosk_scenario(FakeEngine(), astronaut))
    assert result["demo"]["id"].startswith("demo-")
    assert result["plan"]["understood"] == ["surprise"]
    assert "look surprised" in result["caption"]


async def no_webcam_scenario(engine: Any, photo: np.ndarray) -> dict[str, Any]:
    """Camera permission denied: the page says so where the preview would be, a photo upload
    still works; then the tab is closed and the server frees its session at once."""

    flags = [f for f in CHROMIUM_FLAGS if f != "--use-fake-ui-for-media-stream"]
    config = ServerConfig(size=128, fps=30.0)
    result: dict[str, Any] = {}
    app = create_app(config, engine, warmup=False)
    flags = [*flags, "--deny-permission-prompts"]
    async with served_browser(app, flags) as (server, browser):
        page = await browser.new_page(viewport={"width": 390, "height": 844})
        await page.goto(str(server.make_url("/")))
        await wait_event(page, "e.type === 'status' && e.state === 'no_avatar'", 20_000)
        await page.wait_for_selector("#webcam-note", state="visible", timeout=10_000)
        result["note"] = await page.inner_text("#webcam-note")
        result["capture_disabled"] = await page.is_disabled("#capture")
        ok, png = cv2.imencode(".png", cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
        assert ok
        await page.set_input_files(
            "#photo",
            files=[{"name": "me.png", "mimeType": "image/png", "buffer": png.tobytes()}],
        )
        await page.wait_for_function("() => window.facecast.ready === true", timeout=20_000)
        result["thumbnail_shown"] = await page.is_visible("#source-thumb")
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "browser_no_webcam.png"), full_page=True)
        session_id = await page.evaluate("() => window.facecast.link.sessionId")
        before = await (await page.request.get(str(server.make_url("/api/status")))).json()
        result["before"] = [s["id"] for s in before["sessions"]]
        await page.close()
        probe = await browser.new_page()
        result["after"] = None
        for _ in range(40):
            status = await (await probe.request.get(str(server.make_url("/api/status")))).json()
            if session_id not in [s["id"] for s in status["sessions"]]:
                result["after"] = status
                break
            await asyncio.sleep(0.1)
        result["session_id"] = session_id
    return result


def test_denied_webcam_is_explained_and_a_closed_tab_frees_its_session(
    astronaut: np.ndarray,
) -> None:
    require_chromium()
    from test_server_fakes import FakeEngine

    result = asyncio.run(no_webcam_scenario(FakeEngine(), astronaut))
    assert "blocked" in result["note"] and "upload a photo" in result["note"], result["note"]
    assert result["capture_disabled"] and result["thumbnail_shown"]
    assert result["session_id"] in result["before"]
    assert result["after"] is not None, "the closed tab's session was still there after 4 s"
    assert result["after"]["peers"] == 0


async def ice_page_scenario() -> Any:
    from test_server_fakes import FakeEngine

    from server.config import IceServer

    # loopback addresses: nothing outside this machine could be contacted even by mistake
    turn = IceServer("turn:127.0.0.1:3479?transport=tcp", "alice", "s3cret")
    config = ServerConfig(size=64, ice_servers=(IceServer("stun:127.0.0.1:3478"), turn))
    app = create_app(config, FakeEngine(), warmup=False)
    async with served_browser(app) as (server, browser):
        page = await browser.new_page()
        # a page of the server that does not connect: only the configuration is fetched
        await page.goto(str(server.make_url("/api/status")))
        config_seen = await page.evaluate(
            "async () => (await import('/static/facecast.js')).iceConfig()"
        )
        # what an RTCPeerConnection built from it holds (creating one contacts nobody)
        config_seen["pc"] = await page.evaluate(
            "async () => { const m = await import('/static/facecast.js');"
            " const pc = new RTCPeerConnection(await m.iceConfig());"
            " const servers = pc.getConfiguration().iceServers; pc.close(); return servers; }"
        )
    return config_seen


def test_page_takes_its_ice_servers_from_the_server() -> None:
    require_chromium()
    seen = asyncio.run(ice_page_scenario())
    assert seen["iceServers"] == [
        {"urls": ["stun:127.0.0.1:3478"]},
        {
            "urls": ["turn:127.0.0.1:3479?transport=tcp"],
            "username": "alice",
            "credential": "s3cret",
        },
    ]
    assert [s["urls"] for s in seen["pc"]] == [
        ["stun:127.0.0.1:3478"],
        ["turn:127.0.0.1:3479?transport=tcp"],
    ]
    assert seen["pc"][1]["username"] == "alice"


async def server_full_scenario() -> dict[str, Any]:
    from test_server_fakes import FakeEngine

    config = ServerConfig(size=64, max_sessions=1)
    app = create_app(config, FakeEngine(), warmup=False)
    async with served_browser(app) as (server, browser):
        first, second = await browser.new_page(), await browser.new_page()
        await first.goto(str(server.make_url("/")))
        await first.wait_for_function("() => window.facecast?.link?.sessionId", timeout=20_000)
        await second.goto(str(server.make_url("/")))
        await second.wait_for_selector("#history li.error", timeout=20_000)
        await asyncio.sleep(0.5)  # a late "closed" of the refused peer must not win
        result = {
            "pill": await second.inner_text("#connection"),
            "history": await second.inner_text("#history"),
            "text_disabled": await second.is_disabled("#text"),
        }
    return result


def test_a_full_server_says_so() -> None:
    require_chromium()
    result = asyncio.run(server_full_scenario())
    assert result["pill"] == "server full", result
    assert "all 1 avatar sessions are in use" in result["history"]
    assert result["text_disabled"]
