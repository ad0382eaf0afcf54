"""The page a person meets (issue 16), in Debian chromium driven by playwright, against the
server with the transport test double (the product engines are covered by
test_browser_e2e.py): the status line's next step in each state, the instruction length
counter and the server's ``too_long`` answer, errors answering their entry, the examples
brought into view after "not understood". With FACECAST_UPDATE_DOCS_IMAGES=1 it also writes
the docs/images/client_state_*.png screenshots."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from test_browser_e2e import (
    CHROMIUM_FLAGS,
    ROOT,
    require_chromium,
    served_browser,
    wait_event,
    write_face_y4m,
)
from test_server_fakes import FakeEngine

from server.app import create_app
from server.config import ServerConfig
from server.engine import FaceState, PlannedInstruction
from server.exceptions import EngineInputError
from server.protocol import MAX_TEXT_CHARS

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(180)]

DOCS_IMAGES = ROOT / "docs" / "images"
UPDATE_DOCS = bool(os.environ.get("FACECAST_UPDATE_DOCS_IMAGES"))


class ExamplesEngine(FakeEngine):
    """FakeEngine whose "not understood" carries the unknown words and examples, as the
    real planner's does (server.engine.FacecastEngine.plan)."""

    def plan(
        self, text: str, current: FaceState, intensity: float, seed: int | None = None
    ) -> PlannedInstruction:
        if "blorf" in text:
            raise EngineInputError(
                f"no emotion understood in {text!r}",
                "not_understood",
                details={
                    "unknown_words": ["qwxz", "blorf"],
                    "examples": ["smile", "look surprised, then smile", "from anger to joy"],
                },
            )
        return super().plan(text, current, intensity, seed)


def docs_engine() -> Any:
    """The product engines, for the docs screenshots (a real rendered face): calibration held
    2 s longer so that its count shows, and "crash" a planner fault as in FakeEngine."""
    from server.engine import FacecastEngine

    class DocsEngine(FacecastEngine):
        def calibrate(self, image: Any) -> Any:
            time.sleep(2.0)
            return super().calibrate(image)

        def plan(
            self, text: str, current: FaceState, intensity: float, seed: int | None = None
        ) -> PlannedInstruction:
            if "crash" in text:
                raise RuntimeError("planner bug")
            return super().plan(text, current, intensity, seed)

    return DocsEngine()


async def save_state(page: Any, name: str, shots: dict[str, Path]) -> None:
    """A screenshot of the page as it is (artifacts/; docs/images/ when asked)."""
    path = ROOT / "artifacts" / f"client_state_{name}.png"
    path.parent.mkdir(exist_ok=True)
    await page.screenshot(path=str(path))
    shots[name] = path


def small_copy(shot: Path, target: Path, height: int = 844) -> None:
    from PIL import Image

    image = cv2.imread(str(shot))
    width = image.shape[1] * height // image.shape[0]
    small = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    palette = Image.fromarray(cv2.cvtColor(small, cv2.COLOR_BGR2RGB)).quantize(colors=128)
    palette.save(target, optimize=True)


LONG_TEXT = "smile and " * 199 + "be happy"  # 1,998 characters, as a person might paste
STEP_TEXT = "() => [document.body.dataset.step, document.getElementById('state').textContent]"


async def page_scenario(photo: np.ndarray) -> dict[str, Any]:
    if UPDATE_DOCS:
        engine, config = docs_engine(), ServerConfig(size=384, fps=30.0)
    else:
        engine = ExamplesEngine(segment_seconds=2.0, calibrate_delay=2.2, plan_delay=0.2)
        config = ServerConfig(size=256, fps=30.0)
    app = create_app(config, engine, warmup=UPDATE_DOCS)
    result: dict[str, Any] = {"steps": {}, "shots": {}}
    steps, shots = result["steps"], result["shots"]
    flags = None
    if UPDATE_DOCS:  # the docs show the astronaut in the camera too
        video = write_face_y4m(photo, ROOT / "artifacts" / "astronaut_webcam.y4m")
        flags = [*CHROMIUM_FLAGS, f"--use-file-for-fake-video-capture={video}"]
    async with served_browser(app, flags) as (server, browser):
        # a phone: the chat comes below the avatar, so the history can fall below the fold
        page = await browser.new_page(viewport={"width": 390, "height": 844})
        await page.goto(str(server.make_url("/")))
        await page.wait_for_function("() => document.body.dataset.step === 'no_avatar'")
        steps["no_avatar"] = await page.evaluate(STEP_TEXT)
        steps["stop_disabled_idle"] = await page.is_disabled("#cancel")
        await save_state(page, "no_avatar", shots)

        ok, png = cv2.imencode(".png", cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
        assert ok
        await page.set_input_files(
            "#photo",
            files=[{"name": "astronaut.png", "mimeType": "image/png", "buffer": png.tobytes()}],
        )
        await page.wait_for_function(
            "() => document.getElementById('state').textContent.includes('… 1 s')",
            timeout=10_000,
        )
        steps["calibrating"] = await page.evaluate(STEP_TEXT)
        await save_state(page, "calibrating", shots)
        await page.wait_for_function("() => document.body.dataset.step === 'ready'", timeout=20_000)
        steps["ready"] = await page.evaluate(STEP_TEXT)
        steps["stop_disabled_ready"] = await page.is_disabled("#cancel")
        await asyncio.sleep(0.5)
        await save_state(page, "ready", shots)

        # the counter, and the page refusing before sending
        await page.fill("#text", LONG_TEXT)
        result["counter"] = await page.inner_text("#counter")
        result["send_disabled_over"] = await page.is_disabled("#send")
        entries = await page.locator("#history li").count()
        sent = len(await page.evaluate("() => window.facecast.events"))
        await page.press("#text", "Enter")
        await asyncio.sleep(0.5)
        result["entries_added_by_refused"] = await page.locator("#history li").count() - entries
        result["events_after_refused"] = (
            len(await page.evaluate("() => window.facecast.events")) - sent
        )
        await save_state(page, "too_long", shots)
        await page.fill("#text", "")
        result["counter_empty"] = await page.inner_text("#counter")
        result["send_disabled_empty_ok"] = await page.is_disabled("#send")

        # the same 2,000 characters sent by a script: the server's too_long answers its entry
        command_id = await page.evaluate("() => window.facecast.instruct('smile and '.repeat(200))")
        error = await wait_event(page, f"e.type === 'error' && e.id === '{command_id}'", 10_000)
        result["too_long_error"] = error
        result["too_long_entry"] = await page.inner_text("#history li[data-code='too_long']")

        # an engine fault answers the entry that caused it, with what to do next
        await page.fill("#text", "crash the planner")
        await page.press("#text", "Enter")
        await wait_event(page, "e.type === 'error' && e.code === 'engine_error'", 10_000)
        result["engine_error_entry"] = await page.inner_text(
            "#history li[data-code='engine_error']"
        )

        # an instruction runs: Stop enabled, the line says what it performs
        await page.fill("#text", "look surprised")
        await page.press("#text", "Enter")
        await page.wait_for_function(
            "() => document.body.dataset.step === 'animating'"
            " && document.getElementById('state').textContent.includes('surprise')",
            timeout=10_000,
        )
        steps["animating"] = await page.evaluate(STEP_TEXT)
        steps["stop_enabled_animating"] = await page.is_enabled("#cancel")
        await asyncio.sleep(0.8)  # the face on its way to surprise
        await save_state(page, "animating", shots)
        await page.click("#cancel")
        await page.wait_for_function("() => document.body.dataset.step === 'ready'", timeout=10_000)
        steps["stop_disabled_after"] = await page.is_disabled("#cancel")

        # not understood: the examples are brought into view, and the line says so
        await page.fill("#text", "qwxz blorf")
        await page.press("#text", "Enter")
        await wait_event(page, "e.type === 'error' && e.code === 'not_understood'", 10_000)
        await page.wait_for_function(
            "() => document.body.dataset.step === 'not_understood'", timeout=5_000
        )
        await asyncio.sleep(0.3)
        steps["not_understood"] = await page.evaluate(STEP_TEXT)
        result["examples_in_view"] = await page.evaluate(
            """() => {
              const chips = [...document.querySelectorAll('#history li.failed .examples')].at(-1);
              const r = chips.getBoundingClientRect();
              const h = document.getElementById('history').getBoundingClientRect();
              return {top: r.top, bottom: r.bottom, history_top: h.top,
                      history_bottom: h.bottom, viewport: innerHeight,
                      in_view: r.top >= Math.max(0, h.top) - 1
                               && r.bottom <= Math.min(innerHeight, h.bottom) + 1};
            }"""
        )
        await save_state(page, "not_understood", shots)
        chips = page.locator("#history li.failed button.example")
        result["last_example"] = (await chips.all_inner_texts())[-1]
        await chips.last.click()
        result["text_after_example"] = await page.input_value("#text")
        await page.fill("#text", "smile")
        await page.press("#text", "Enter")
        await page.wait_for_function("() => document.body.dataset.step === 'animating'")
        steps["after_not_understood_next"] = await page.evaluate(STEP_TEXT)
    return result


def test_the_page_says_the_next_step_counts_characters_and_answers_each_entry(
    astronaut: np.ndarray,
) -> None:
    require_chromium()
    result = asyncio.run(page_scenario(astronaut))
    steps = result["steps"]
    assert steps["no_avatar"] == [
        "no_avatar",
        "Press “Capture my face” or upload a photo to begin.",
    ]
    assert steps["calibrating"][0] == "calibrating"
    assert steps["calibrating"][1].startswith("Calibrating your face… ")
    assert steps["ready"][0] == "ready" and steps["ready"][1].startswith(
        "Type an instruction, e.g."
    )
    assert steps["animating"][1].startswith("Performing surprise")
    assert "Stop" in steps["animating"][1]
    assert steps["not_understood"][0] == "not_understood"
    assert "examples" in steps["not_understood"][1]
    assert steps["after_not_understood_next"][0] == "animating"
    # Stop only while something runs
    assert steps["stop_disabled_idle"] and steps["stop_disabled_ready"]
    assert steps["stop_enabled_animating"] and steps["stop_disabled_after"]
    # the counter refuses before sending: no entry, no message
    assert result["counter"] == (
        f"1998 / {MAX_TEXT_CHARS} characters: too long, "
        f"shorten it by {1998 - MAX_TEXT_CHARS} to send"
    )
    assert result["send_disabled_over"]
    assert result["entries_added_by_refused"] == 0 and result["events_after_refused"] == 0
    assert result["counter_empty"] == f"0 / {MAX_TEXT_CHARS}"
    # the server's answer to a script's 2,000 characters: too_long, in its own entry
    error = result["too_long_error"]
    assert error["code"] == "too_long" and error["details"]["limit"] == MAX_TEXT_CHARS
    assert f"limit is {MAX_TEXT_CHARS}" in result["too_long_entry"]
    assert "Shorten it" in result["too_long_entry"]
    assert "(2000 characters)" in result["too_long_entry"]  # the entry shows it shortened
    assert "crash the planner" in result["engine_error_entry"]
    assert "The server failed on this" in result["engine_error_entry"]
    assert "Try again" in result["engine_error_entry"]
    # the examples are visible, inside the history box and the viewport
    assert result["examples_in_view"]["in_view"], result["examples_in_view"]
    assert result["text_after_example"] == result["last_example"]
    if UPDATE_DOCS:
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        for name, shot in result["shots"].items():
            target = DOCS_IMAGES / f"client_state_{name}.png"
            small_copy(shot, target)
            assert target.stat().st_size < 150_000, target
