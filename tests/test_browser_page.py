"""The page a person meets (issue 16), in Debian chromium driven by playwright, against the
server with the transport test double (the product engines are covered by
test_browser_e2e.py): the status line's next step in each state, the instruction length
counter and the server's ``too_long`` answer (one number for the length, page and server), a
long text planned in pieces, errors answering their entry (also a flood's ``rate_limited``),
the examples brought into view after "not understood", the health line when frames come late,
the box never cut off (phone and desktop), and the page reconnecting by itself after the
server restarts, with its face restored. With FACECAST_UPDATE_DOCS_IMAGES=1 it runs on the
product engines and writes the docs/images/client_state_*.png screenshots."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from aiohttp.test_utils import TestServer
from test_browser_e2e import (
    CHROMIUM_FLAGS,
    ROOT,
    require_chromium,
    wait_event,
    write_face_y4m,
)
from test_server_fakes import FakeEngine

from server.app import create_app
from server.config import ServerConfig
from server.engine import FaceState, PlannedInstruction
from server.exceptions import EngineInputError
from server.protocol import MAX_TEXT_CHARS

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]

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
    if image.shape[0] > height:
        width = image.shape[1] * height // image.shape[0]
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    palette = Image.fromarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB)).quantize(colors=128)
    palette.save(target, optimize=True)


LONG_TEXT = "smile and " * 199 + "be happy"  # 1,998 characters, as a person might paste
# several sentences, the first naming nothing: planned in pieces (FakeEngine: one per
# sentence; the product planner: sentences, then clauses), the first said to be skipped
PIECES_TEXT = (
    "We are recording a short clip for the museum's new exhibition about faces, and this is "
    "the take we will keep. Please look really surprised, as if you had just heard the news. "
    "Then smile with joy. And at the very end, look a bit sad, as if saying goodbye."
)
STEP_TEXT = "() => [document.body.dataset.step, document.getElementById('state').textContent]"
IN_VIEW = """(selectors) => selectors.map((selector) => {
  const r = document.querySelector(selector).getBoundingClientRect();
  const strip = document.getElementById('state').getBoundingClientRect();
  return {selector, top: r.top, bottom: r.bottom, left: r.left, right: r.right,
          visible: r.top >= strip.bottom - 1 && r.bottom <= innerHeight + 1
                   && r.left >= -1 && r.right <= innerWidth + 1};
})"""
COMPOSER = ["#counter", "#text", "#send", "#cancel"]


def make_app(photo: np.ndarray | None = None) -> Any:
    if UPDATE_DOCS:
        engine, config = docs_engine(), ServerConfig(size=384, fps=30.0)
    else:
        engine = ExamplesEngine(segment_seconds=2.0, calibrate_delay=2.2, plan_delay=0.2)
        config = ServerConfig(size=256, fps=30.0)
    return create_app(config, engine, warmup=UPDATE_DOCS)


async def page_scenario(photo: np.ndarray) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    result: dict[str, Any] = {"steps": {}, "shots": {}}
    steps, shots = result["steps"], result["shots"]
    flags = CHROMIUM_FLAGS
    if UPDATE_DOCS:  # the docs show the astronaut in the camera too
        video = write_face_y4m(photo, ROOT / "artifacts" / "astronaut_webcam.y4m")
        flags = [*CHROMIUM_FLAGS, f"--use-file-for-fake-video-capture={video}"]
    server = TestServer(make_app(), host="127.0.0.1")
    await server.start_server()
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=require_chromium(), args=flags, headless=True
            )
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
                "() => document.getElementById('state').textContent.match(/… [1-9][0-9]* s/)"
                " && document.querySelector('#history li.you .detail').textContent"
                " === 'calibrating the photo…'",
                timeout=60_000,
            )
            steps["calibrating"] = await page.evaluate(STEP_TEXT)
            result["calibrating_entry"] = await page.inner_text("#history li.you .detail")
            await save_state(page, "calibrating", shots)
            await page.wait_for_function(
                "() => document.body.dataset.step === 'ready'", timeout=60_000
            )
            steps["ready"] = await page.evaluate(STEP_TEXT)
            steps["stop_disabled_ready"] = await page.is_disabled("#cancel")
            result["send_disabled_empty"] = await page.is_disabled("#send")
            await page.wait_for_function(
                "() => document.querySelector('#history li.you .detail')"
                ".textContent.startsWith('avatar ready in')"
            )
            result["upload_entry"] = await page.inner_text("#history li.you .detail")
            await asyncio.sleep(0.5)
            await save_state(page, "ready", shots)

            # the counter, and the page refusing before sending; the box fully in view
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
            result["composer_phone"] = await page.evaluate(IN_VIEW, COMPOSER)
            await save_state(page, "too_long", shots)
            # code points, as the server counts: an emoji is one character, not two
            await page.fill("#text", "  \N{GRINNING FACE}" * 3 + " smile \n")
            result["counter_emoji"] = await page.inner_text("#counter")
            await page.fill("#text", "")
            result["counter_empty"] = await page.inner_text("#counter")

            # 2,000 characters sent by a script: the server's too_long answers its entry, and
            # the entry and the error give the same length (the server's count)
            command_id = await page.evaluate(
                "() => window.facecast.instruct('smile and '.repeat(200))"
            )
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

            # a long text of several sentences: planned in pieces, every emotion in order,
            # the sentence that names nothing said; Stop enabled while it runs
            await page.fill("#text", PIECES_TEXT)
            result["counter_pieces"] = await page.inner_text("#counter")
            await page.press("#text", "Enter")
            plan = await wait_event(page, "e.type === 'plan'", 30_000)
            result["pieces_plan"] = plan
            await page.wait_for_function(
                "() => document.body.dataset.step === 'animating'"
                " && document.getElementById('state').textContent.includes('surprise')",
                timeout=10_000,
            )
            steps["animating"] = await page.evaluate(STEP_TEXT)
            steps["stop_enabled_animating"] = await page.is_enabled("#cancel")
            result["pieces_entry"] = await page.locator("#history li.you").last.inner_text()
            await asyncio.sleep(0.8)  # the face on its way to surprise
            await save_state(page, "animating", shots)
            await page.click("#cancel")
            await page.wait_for_function(
                "() => document.body.dataset.step === 'ready'", timeout=10_000
            )
            steps["stop_disabled_after"] = await page.is_disabled("#cancel")

            # not understood: the examples are brought into view, and the line says so
            await page.fill("#text", "qwxz blorf")
            await page.press("#text", "Enter")
            await wait_event(page, "e.type === 'error' && e.code === 'not_understood'", 30_000)
            await page.wait_for_function(
                "() => document.body.dataset.step === 'not_understood'", timeout=5_000
            )
            await asyncio.sleep(0.3)
            steps["not_understood"] = await page.evaluate(STEP_TEXT)
            result["examples_in_view"] = await page.evaluate(
                """() => {
                  const chips = [...document.querySelectorAll('#history li.failed .examples')]
                    .at(-1);
                  const r = chips.getBoundingClientRect();
                  const h = document.getElementById('history').getBoundingClientRect();
                  const c = document.querySelector('.composer').getBoundingClientRect();
                  return {top: r.top, bottom: r.bottom, history_top: h.top,
                          history_bottom: h.bottom, viewport: innerHeight,
                          in_view: r.top >= Math.max(0, h.top) - 1
                                   && r.bottom <= Math.min(innerHeight, h.bottom, c.top) + 1};
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

            if not UPDATE_DOCS:
                # a script floods the session: every entry gets its answer (a plan, busy,
                # rate_limited with its id, or stopped), none is left open
                await page.evaluate(
                    "() => { for (let i = 0; i < 30; i++) window.facecast.instruct('smile'); }"
                )
                await asyncio.sleep(1.2)
                await page.click("#cancel")
                await asyncio.sleep(1.0)
                result["flood"] = await page.evaluate(
                    """() => [...document.querySelectorAll('#history li.you')].slice(-30)
                        .map((li) => [li.dataset.code || '', li.querySelector('.detail')
                        .textContent])"""
                )

            # the server stalls for 0.8 s: the page says the stream is late, measured
            await page.wait_for_function(
                "() => window.facecast.health && window.facecast.health.frames > 30"
            )
            result["health_before"] = await page.evaluate("() => window.facecast.health")
            time.sleep(0.8)  # blocks the server's event loop: no frame is sent meanwhile
            await page.wait_for_selector("#health:not([hidden])", timeout=5_000)
            await page.wait_for_function(  # frames again: the pause is over, and measured
                "() => window.facecast.health.late >= 1 && !window.facecast.health.stalledMs",
                timeout=5_000,
            )
            result["health_text"] = await page.inner_text("#health")
            result["health"] = await page.evaluate("() => window.facecast.health")
            await save_state(page, "late", shots)

            # a desktop viewport: the box and its counter in view too
            await page.set_viewport_size({"width": 1280, "height": 720})
            await page.fill("#text", LONG_TEXT)
            await asyncio.sleep(0.3)
            result["composer_desktop"] = await page.evaluate(IN_VIEW, COMPOSER)
            await save_state(page, "too_long_desktop", shots)
            await page.fill("#text", "")
            await page.set_viewport_size({"width": 390, "height": 844})

            # the server restarts on the same port: the page reconnects by itself and puts
            # the face back (the photo stays in the page), no reload
            port = server.port
            old_session = await page.evaluate("() => window.facecast.link.sessionId")
            await server.close()
            await page.wait_for_function(
                "() => document.body.dataset.step === 'reconnecting'", timeout=20_000
            )
            steps["reconnecting"] = await page.evaluate(STEP_TEXT)
            result["text_disabled_down"] = await page.is_disabled("#text")
            await asyncio.sleep(1.5)  # down for a while: a few attempts fail
            await save_state(page, "reconnecting", shots)
            server = TestServer(make_app(), host="127.0.0.1", port=port)
            await server.start_server()
            await page.wait_for_function(
                "() => [...document.querySelectorAll('#history li.you .detail')]"
                ".some((d) => d.textContent.startsWith('face restored in'))",
                timeout=60_000,
            )
            await page.wait_for_function(
                "() => document.body.dataset.step === 'ready'", timeout=10_000
            )
            result["new_session"] = await page.evaluate("() => window.facecast.link.sessionId")
            result["old_session"] = old_session
            result["connects"] = await page.evaluate("() => window.facecast.connects")
            result["restore_entry"] = await page.locator("#history li.you").last.inner_text()
            await page.fill("#text", "look surprised")
            await page.press("#text", "Enter")
            result["plan_after_restart"] = await wait_event(
                page, "e.type === 'plan' && e.text === 'look surprised'", 30_000
            )
            result["navigations"] = await page.evaluate(
                "() => performance.getEntriesByType('navigation').length"
            )
            await browser.close()
    finally:
        await server.close()
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
    assert result["calibrating_entry"] == "calibrating the photo…"
    assert steps["ready"][0] == "ready" and steps["ready"][1].startswith(
        "Type an instruction, e.g."
    )
    # the upload's entry: the time it took, step by step
    assert result["upload_entry"].startswith("avatar ready in "), result["upload_entry"]
    assert "(reading " in result["upload_entry"] and " · calibrating " in result["upload_entry"]
    assert steps["animating"][1].startswith("Performing surprise")
    assert "Stop" in steps["animating"][1]
    assert steps["not_understood"][0] == "not_understood"
    assert "examples" in steps["not_understood"][1]
    assert steps["after_not_understood_next"][0] == "animating"
    # controls only when they do something: Stop while something runs, Send with a text
    assert steps["stop_disabled_idle"] and steps["stop_disabled_ready"]
    assert steps["stop_enabled_animating"] and steps["stop_disabled_after"]
    assert result["send_disabled_empty"]
    # the counter refuses before sending: no entry, no message
    assert result["counter"] == (
        f"1998 / {MAX_TEXT_CHARS} characters: too long, "
        f"shorten it by {1998 - MAX_TEXT_CHARS} to send"
    )
    assert result["send_disabled_over"]
    assert result["entries_added_by_refused"] == 0 and result["events_after_refused"] == 0
    assert result["counter_empty"] == f"0 / {MAX_TEXT_CHARS}"
    assert result["counter_emoji"] == f"13 / {MAX_TEXT_CHARS}"  # 3 × (emoji + 2 spaces) + smile
    # nothing of the box is cut off, on a phone and on a desktop
    for name in ("composer_phone", "composer_desktop"):
        assert all(box["visible"] for box in result[name]), (name, result[name])
    # the server's answer to a script's 2,000 characters: too_long, in its own entry, with
    # one number for its length (the text without its trailing space: 1,999)
    error = result["too_long_error"]
    assert error["code"] == "too_long"
    assert error["details"] == {"length": 1999, "limit": MAX_TEXT_CHARS}
    assert f"limit is {MAX_TEXT_CHARS}" in result["too_long_entry"]
    assert "Shorten it" in result["too_long_entry"]
    assert "(1999 characters)" in result["too_long_entry"]
    assert "1999 characters long" in result["too_long_entry"]
    assert "crash the planner" in result["engine_error_entry"]
    assert "The server failed on this" in result["engine_error_entry"]
    assert "Try again" in result["engine_error_entry"]
    # a long text planned in pieces, every emotion in order, the empty sentence said
    plan = result["pieces_plan"]
    assert result["counter_pieces"] == f"{len(PIECES_TEXT)} / {MAX_TEXT_CHARS}"
    assert plan["pieces"] >= 3
    assert plan["understood"][0] == "surprise" and plan["understood"][-1] == "sadness"
    assert "happiness" in plan["understood"]
    assert plan["skipped"] and plan["skipped"][0].startswith("We are recording")
    assert f"planned in {plan['pieces']} parts" in result["pieces_entry"]
    assert "nothing to perform in “We are recording" in result["pieces_entry"]
    # the examples are visible, inside the history box and the viewport, above the box
    assert result["examples_in_view"]["in_view"], result["examples_in_view"]
    assert result["text_after_example"] == result["last_example"]
    if not UPDATE_DOCS:
        flood = result["flood"]
        assert all(detail for _, detail in flood), flood  # every entry answered
        codes = {code for code, _ in flood}
        assert "rate_limited" in codes, flood  # the rate limit answers with the entry's id
        assert any(detail.startswith("understood") for _, detail in flood), flood
    # the stall measured: the health line says so, with the gap
    assert result["health"]["longestMs"] >= 600, result["health"]
    assert result["health_text"].startswith("The stream is late: "), result["health_text"]
    assert "longest 0.8 s" in result["health_text"] or "longest 0.9 s" in result["health_text"]
    # the server restarted: reconnected by itself, a new session, the face put back, no reload
    assert steps["reconnecting"][1].startswith("The connection to the server was lost."), steps
    assert "Trying again" in steps["reconnecting"][1]
    assert result["text_disabled_down"]
    assert result["new_session"] != result["old_session"]
    assert result["connects"] >= 3  # failed attempts while it was down, then the one that worked
    assert "face restored in" in result["restore_entry"]
    assert result["plan_after_restart"]["understood"] == ["surprise"]
    assert result["navigations"] == 1
    if UPDATE_DOCS:
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        for name, shot in result["shots"].items():
            target = DOCS_IMAGES / f"client_state_{name}.png"
            small_copy(shot, target)
            assert target.stat().st_size < 200_000, target
