"""The OBS browser source ``/overlay`` (issue 14) in Debian chromium driven by playwright.

On the real engines (the astronaut as the broadcast face): transparent pixels outside the
renderer's matte and opaque ones inside it, ``?bg=green`` and ``?bg=#RRGGBB`` keying with the
exact colour, ``&mirror=1``, no controls. On the transport test double: the overlay
reconnecting by itself after the server restarts, and the main page's mirror setting (on by
default, remembered). ``FACECAST_UPDATE_DOCS_IMAGES=1`` (or a missing file) rewrites
docs/images/obs_overlay.png (transparent over a checkerboard, green, a custom colour).
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import cv2
import numpy as np
import pytest
from aiohttp.test_utils import TestServer
from test_browser_e2e import CHROMIUM_FLAGS, ROOT, require_chromium, served_browser
from test_server_fakes import FakeEngine

from server.app import BROADCAST, FACECAST_KEY, create_app
from server.config import ServerConfig

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]

DOCS_IMAGE = ROOT / "docs" / "images" / "obs_overlay.png"
UPDATE_DOCS = os.environ.get("FACECAST_UPDATE_DOCS_IMAGES") == "1" or not DOCS_IMAGE.exists()
SIZE = 512


def decode(png: bytes) -> np.ndarray:
    """(H, W, 4) RGBA of a PNG screenshot."""
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    if image.shape[2] == 3:
        image = np.concatenate([image, np.full((*image.shape[:2], 1), 255, np.uint8)], 2)
    return cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA)


def region(mask: np.ndarray, margin: int = 5) -> np.ndarray:
    """``mask`` shrunk by ``margin`` px (away from the soft edge and the codec's ringing)."""
    kernel = np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)
    return cv2.erode(mask.astype(np.uint8), kernel).astype(bool)


async def open_overlay(browser: Any, url: str) -> Any:
    page = await browser.new_page(viewport={"width": SIZE, "height": SIZE})
    await page.goto(url)
    await page.wait_for_function(
        "() => window.facecast && window.facecast.frames >= 15", timeout=30_000
    )
    return page


async def overlay_scenario(astronaut: np.ndarray) -> dict[str, Any]:
    from server.engine import EngineConfig, FacecastEngine

    config = ServerConfig(size=SIZE, fps=30.0, idle_motion=False)
    engine = FacecastEngine(EngineConfig(planner="lexicon"))
    app = create_app(config, engine, startup_image=astronaut, warmup=False)
    result: dict[str, Any] = {}
    async with served_browser(app) as (server, browser):
        broadcast = app[FACECAST_KEY].sessions[BROADCAST]
        deadline = time.monotonic() + 60
        while broadcast.avatar is None and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert broadcast.avatar is not None
        base = str(server.make_url("/overlay"))
        page = await open_overlay(browser, base)
        result["controls"] = await page.evaluate(
            "() => document.querySelectorAll('button, input, select, textarea, a').length"
        )
        result["transparent"] = decode(await page.screenshot(omit_background=True))
        latest = broadcast.frames.latest()
        assert latest is not None and latest.matte is not None
        result["matte"], result["image"] = latest.matte.copy(), latest.image.copy()
        result["background"] = await page.evaluate("() => window.facecast.background")
        await page.close()
        for name, query in (
            ("green", "?bg=green"),
            ("custom", "?bg=%23ff00ff"),
            ("mirror", "?mirror=1"),
        ):
            page = await open_overlay(browser, base + query)
            result[name] = decode(await page.screenshot(omit_background=True))
            await page.close()
        page = await open_overlay(browser, base + "?bg=plaid")
        result["bad_bg"] = await page.evaluate(
            "() => [window.facecast.background, window.facecast.error]"
        )
        await page.close()
    return result


def checkerboard(size: int, cell: int = 16) -> np.ndarray:
    rows, cols = np.indices((size, size)) // cell
    board = np.where(((rows + cols) % 2)[..., None] == 0, 200, 150)
    return np.repeat(board, 3, axis=2).astype(np.float32)


def write_docs_image(result: dict[str, Any]) -> None:
    from PIL import Image

    shot = result["transparent"].astype(np.float32)
    alpha = shot[..., 3:] / 255.0
    over = shot[..., :3] * alpha + checkerboard(SIZE) * (1 - alpha)
    panels = [over, result["green"][..., :3], result["custom"][..., :3]]
    strip = np.concatenate(
        [cv2.resize(p.astype(np.uint8), (320, 320), interpolation=cv2.INTER_AREA) for p in panels],
        1,
    )
    Image.fromarray(strip).quantize(colors=192).save(DOCS_IMAGE, optimize=True)


def test_overlay_keys_the_background(astronaut: np.ndarray) -> None:
    require_chromium()
    result = asyncio.run(overlay_scenario(astronaut))
    assert result["controls"] == 0
    assert result["background"] == "transparent"
    matte = result["matte"]
    outside, inside = region(matte == 0), region(matte == 255)
    assert outside.mean() > 0.2 and inside.mean() > 0.3  # the astronaut: both are large
    alpha = result["transparent"][..., 3]
    print(
        f"\noverlay: transparent outside the matte {np.mean(alpha[outside] == 0):.4f}, "
        f"opaque inside {np.mean(alpha[inside] == 255):.4f}"
    )
    assert np.mean(alpha[outside] == 0) >= 0.995
    assert np.mean(alpha[inside] == 255) >= 0.99
    colour = result["transparent"][..., :3].astype(np.float32)
    assert np.abs(colour[inside] - result["image"][inside]).mean() < 12  # the avatar itself
    for name, key in (("green", (0, 255, 0)), ("custom", (255, 0, 255))):
        shot = result[name]
        assert np.all(shot[..., 3] == 255)  # a key colour is opaque
        assert np.mean(np.all(shot[..., :3][outside] == key, axis=1)) >= 0.995, name
        assert np.mean(np.all(shot[..., :3][inside] == key, axis=1)) == 0.0, name
    mirrored = result["mirror"][..., 3]
    assert np.mean(mirrored[outside[:, ::-1]] == 0) >= 0.995
    assert np.mean(mirrored[inside[:, ::-1]] == 255) >= 0.99
    assert result["bad_bg"][0] == "transparent" and "bg must be" in result["bad_bg"][1]
    if UPDATE_DOCS:
        write_docs_image(result)


async def restart_scenario(astronaut: np.ndarray) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    engine = FakeEngine()
    config = ServerConfig(size=256, fps=30.0)

    async def start(port: int | None) -> TestServer:
        server = TestServer(
            create_app(config, engine, startup_image=astronaut, warmup=False),
            host="127.0.0.1",
            port=port,
        )
        await server.start_server()
        return server

    result: dict[str, Any] = {}
    server = await start(None)
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=require_chromium(), args=CHROMIUM_FLAGS, headless=True
            )
            # the main page: the self view is mirrored by default, and the choice is kept
            page = await browser.new_page()
            await page.goto(str(server.make_url("/")))
            transform = "() => getComputedStyle(document.getElementById('avatar')).transform"
            await page.wait_for_function("() => document.body.dataset.mirror === 'yes'")
            result["mirror_default"] = await page.evaluate(transform)
            result["webcam_transform"] = await page.evaluate(
                "() => getComputedStyle(document.getElementById('webcam')).transform"
            )
            await page.click("summary")
            await page.uncheck("#mirror")
            result["mirror_off"] = await page.evaluate(transform)
            await page.reload()
            await page.wait_for_function("() => document.body.dataset.mirror !== undefined")
            result["mirror_after_reload"] = await page.evaluate(transform)
            await page.close()
            # the overlay reconnects by itself after the server restarts on the same port
            page = await open_overlay(browser, str(server.make_url("/overlay")))
            port = server.port
            await server.close()
            await page.wait_for_function(
                "() => document.body.dataset.connection === 'reconnecting'", timeout=20_000
            )
            frames_down = await page.evaluate("() => window.facecast.frames")
            await asyncio.sleep(1.0)
            server = await start(port)
            await page.wait_for_function(
                f"() => window.facecast.frames > {frames_down} + 15", timeout=30_000
            )
            result["connects"] = await page.evaluate("() => window.facecast.connects")
            await browser.close()
    finally:
        await server.close()
    return result


def test_overlay_reconnects_and_the_page_mirror_setting(astronaut: np.ndarray) -> None:
    require_chromium()
    result = asyncio.run(restart_scenario(astronaut))
    assert result["mirror_default"] == "matrix(-1, 0, 0, 1, 0, 0)"
    assert result["mirror_default"] == result["webcam_transform"]  # like the camera preview
    assert result["mirror_off"] == "none"
    assert result["mirror_after_reload"] == "none"  # remembered
    assert result["connects"] >= 2
