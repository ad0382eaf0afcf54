"""Sessions without any transport: commands in, events and frames out (a pipecat-style harness)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
from test_server_fakes import FakeEngine

from server.config import ServerConfig
from server.exceptions import LimitError, SessionError
from server.protocol import Cancel, Event, Instruct, Ping, Set
from server.session import Executors, Session

pytestmark = pytest.mark.timeout(60)


class Harness:
    """Runs sessions on a fake engine and records their events."""

    def __init__(self, engine: FakeEngine, **options: Any) -> None:
        self.engine = engine
        self.config = ServerConfig(**{"size": 64, "fps": 30.0, **options})
        self.executors = Executors(ThreadPoolExecutor(2), ThreadPoolExecutor(1))
        self.events: dict[str, list[dict[str, Any]]] = {}

    def session(self, name: str, kind: str = "peer") -> Session:
        session = Session(name, self.config, self.engine, self.executors, kind=kind)
        self.events[name] = []
        session.add_listener(lambda event: self._record(name, event))
        session.start()
        return session

    def _record(self, name: str, event: Event) -> None:
        self.events[name].append(event.to_dict())

    def of(self, name: str, type_: str, **match: Any) -> list[dict[str, Any]]:
        return [
            e
            for e in self.events[name]
            if e["type"] == type_ and all(e.get(k) == v for k, v in match.items())
        ]

    async def until(self, check: Callable[[], Any], timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            await asyncio.sleep(0.02)
        raise TimeoutError("condition not met")

    def close(self) -> None:
        self.executors.render.shutdown()
        self.executors.work.shutdown()


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())


def face() -> np.ndarray:
    return (np.arange(96 * 96 * 3) % 199).astype(np.uint8).reshape(96, 96, 3)


def test_cancel_jumps_the_queue_and_eases_back_to_rest() -> None:
    async def scenario() -> None:
        harness = Harness(FakeEngine(plan_delay=0.3, segment_seconds=1.0), idle_motion=False)
        session = harness.session("a")
        await session.set_avatar_image(face())
        for number in range(3):
            session.handle(Instruct(id=f"i{number}", text="anger"))
        await asyncio.sleep(0.1)  # i0 is planning, i1 and i2 wait
        session.handle(Cancel(id="c"))
        done = harness.of("a", "done", command="cancel")
        assert done and done[0]["result"] == {
            "stopped_command": True,
            "dropped": 2,
            "easing_to_rest": False,
        }
        # every one of them is answered: none of the three will run
        for number in range(3):
            done = harness.of("a", "done", id=f"i{number}")
            assert done and done[0]["result"] == {"cancelled": True, "started": False}, number
        await asyncio.sleep(0.5)
        assert not harness.of("a", "plan")  # nothing planned after the cancel
        # Cancel during a transition: the face eases back to rest from where it is.
        session.handle(Instruct(id="j", text="anger"))
        await harness.until(lambda: harness.of("a", "plan", id="j"))
        await asyncio.sleep(0.5)
        before = session.current_state().expression.sum()
        session.handle(Cancel(id="c2"))
        assert abs(session.current_state().expression.sum() - before) < 0.3  # no jump
        await asyncio.sleep(0.8)
        assert session.current_state().expression.sum() == pytest.approx(0.0, abs=1e-5)
        assert harness.of("a", "done", command="instruct", id="j")[0]["result"]["cancelled"]
        await session.close()
        harness.close()

    run(scenario)


def test_queue_limit_and_closed_session_are_reported() -> None:
    async def scenario() -> None:
        harness = Harness(FakeEngine(plan_delay=0.2))
        session = harness.session("a")
        await session.set_avatar_image(face())
        with pytest.raises(LimitError) as info:
            for number in range(20):
                session.handle(Instruct(id=str(number), text="smile"))
        assert info.value.code == "busy"
        session.handle(Cancel())
        await session.close()
        with pytest.raises(SessionError):
            session.handle(Instruct(text="smile"))
        harness.close()

    run(scenario)


def test_set_changes_size_fps_and_intensity() -> None:
    async def scenario() -> None:
        harness = Harness(FakeEngine())
        session = harness.session("a")
        session.frames.attach()
        await session.set_avatar_image(face())
        session.handle(Set(id="s", size=128, fps=15.0, intensity=0.5))
        await harness.until(lambda: harness.of("a", "done", command="set"))
        assert session.settings.to_dict() == {
            "fps": 15.0,
            "size": 128,
            "intensity": 0.5,
            "idle": True,
        }
        await asyncio.sleep(0.2)
        latest = session.frames.latest()
        assert latest is not None and latest.image.shape == (128, 128, 3)
        session.handle(Instruct(id="i", text="smile"))
        plan = await harness.until(lambda: harness.of("a", "plan", id="i"))
        assert plan[0]["anchors"][0]["intensity"] == 0.5
        # The first frame of the instruction's motion is timed (instruction -> frame).
        latencies = await harness.until(lambda: list(session.instruct_latencies_ms))
        assert len(latencies) == 1 and 0 < latencies[0] < 1000
        # 15 fps: about 15 frames a second.
        start = session.frames_rendered
        await asyncio.sleep(1.0)
        assert 8 <= session.frames_rendered - start <= 20
        await session.close()
        harness.close()

    run(scenario)


def test_slow_calibration_never_stalls_other_sessions() -> None:
    async def scenario() -> None:
        engine = FakeEngine()
        harness = Harness(engine, fps=30.0)
        busy, other = harness.session("busy"), harness.session("other")
        other.frames.attach()
        await other.set_avatar_image(face())
        await asyncio.sleep(0.2)
        engine.calibrate_delay = 1.0
        calibration = asyncio.ensure_future(busy.set_avatar_image(face()))
        start, started = other.frames_rendered, time.monotonic()
        await asyncio.sleep(0.8)
        rate = (other.frames_rendered - start) / (time.monotonic() - started)
        assert not calibration.done()
        assert rate > 20, f"other session rendered {rate:.1f} fps during a calibration"
        await calibration
        assert any(name.startswith("ThreadPoolExecutor") for name in engine.threads)
        await busy.close()
        await other.close()
        harness.close()

    run(scenario)


def test_broadcast_demo_loop_plays_when_idle() -> None:
    async def scenario() -> None:
        harness = Harness(FakeEngine(segment_seconds=0.2), demo_idle_seconds=0.3)
        broadcast = harness.session("broadcast", kind="broadcast")
        peer = harness.session("peer")
        await broadcast.set_avatar_image(face())
        await peer.set_avatar_image(face())
        plans = await harness.until(lambda: harness.of("broadcast", "plan"), timeout=5)
        assert plans[0]["id"] == "demo-1" and plans[0]["understood"]
        await asyncio.sleep(0.5)
        assert not harness.of("peer", "plan")  # only the broadcast session demos
        # the pages learn when the demo plays (the kiosk says so); a peer has none
        assert broadcast.status().demo_idle_seconds == 0.3
        assert peer.status().demo_idle_seconds is None
        await broadcast.close()
        await peer.close()
        harness.close()

    run(scenario)


def test_the_demo_resumes_after_a_visitor_and_keep_alives_do_not_stop_it() -> None:
    async def scenario() -> None:
        harness = Harness(FakeEngine(segment_seconds=0.1), demo_idle_seconds=0.8)
        broadcast = harness.session("broadcast", kind="broadcast")
        await broadcast.set_avatar_image(face())
        await harness.until(lambda: harness.of("broadcast", "plan", id="demo-1"), timeout=5)
        broadcast.handle(Instruct(id="visitor", text="look sad"))
        visitor_at = time.monotonic()

        # a client's keep-alive pings are not a person: they never hold the demo back
        def demos() -> list[dict[str, Any]]:
            return [p for p in harness.of("broadcast", "plan") if p["id"] != "visitor"][1:]

        resumed_after = None
        while resumed_after is None and time.monotonic() - visitor_at < 4.0:
            broadcast.handle(Ping(id="keepalive"))
            await asyncio.sleep(0.1)
            if demos():
                resumed_after = time.monotonic() - visitor_at
        assert resumed_after is not None and 0.7 <= resumed_after <= 2.5, resumed_after
        assert demos()[0]["id"] == "demo-2"
        await broadcast.close()
        harness.close()

    run(scenario)


def test_capture_and_upload_report_each_step_to_their_entry() -> None:
    async def scenario() -> None:
        harness = Harness(FakeEngine(calibrate_delay=0.1))
        session = harness.session("a")
        import cv2

        ok, png = cv2.imencode(".png", face())
        assert ok
        await session.capture_stills([png.tobytes()] * 3, "cap")
        steps = [(e["phase"], e["message"]) for e in harness.of("a", "progress", id="cap")]
        assert [phase for phase, _ in steps] == ["choosing", "calibrating"]
        assert steps[0][1] == "choosing the best of 3 stills"
        assert steps[1][1].startswith("calibrating still 1 of 3")
        assert harness.of("a", "done", id="cap")
        await session.upload_photo(png.tobytes(), "up")
        assert [e["phase"] for e in harness.of("a", "progress", id="up")] == ["calibrating"]
        await session.close()
        harness.close()

    run(scenario)


def test_an_instruction_taken_over_mid_transition_is_done_as_interrupted() -> None:
    """Every instruction gets exactly one ``done``, also when the next one replaces it while it
    is still moving (the page marks it "interrupted"; a script waiting for it does not hang)."""

    async def scenario() -> None:
        harness = Harness(FakeEngine(segment_seconds=1.0), idle_motion=False)
        session = harness.session("a")
        await session.set_avatar_image(face())
        session.handle(Instruct(id="first", text="anger"))
        await harness.until(lambda: harness.of("a", "plan", id="first"))
        await asyncio.sleep(0.3)
        session.handle(Instruct(id="second", text="happy"))
        await harness.until(lambda: harness.of("a", "plan", id="second"))
        first = harness.of("a", "done", id="first")
        assert [d["result"] for d in first] == [{"interrupted": True}]
        types = [(e["type"], e.get("id")) for e in harness.events["a"]]
        assert types.index(("done", "first")) < types.index(("plan", "second"))
        await harness.until(lambda: harness.of("a", "done", id="second"), timeout=5)
        assert "interrupted" not in harness.of("a", "done", id="second")[0]["result"]
        assert len(harness.of("a", "done", id="first")) == 1
        await session.close()
        harness.close()

    run(scenario)


def test_uploaded_photo_comes_back_as_a_thumbnail() -> None:
    async def scenario() -> None:
        import cv2

        harness = Harness(FakeEngine())
        session = harness.session("a")
        ok, png = cv2.imencode(".png", face())
        assert ok
        result = await session.upload_photo(png.tobytes(), "u1")
        assert result["thumbnail"].startswith("data:image/jpeg;base64,")
        done = harness.of("a", "done", id="u1", command="upload")
        assert done and done[0]["result"]["thumbnail"] == result["thumbnail"]
        await session.close()
        harness.close()

    run(scenario)


def test_error_details_reach_the_client_and_the_status_stays_short() -> None:
    from server.exceptions import EngineInputError

    class Puzzled(FakeEngine):
        def plan(self, text: str, current: Any, intensity: float, seed: Any = None) -> Any:
            details = {"unknown_words": ["door"], "examples": ["smile"]}
            raise EngineInputError(
                "no emotion understood in 'door'", "not_understood", details=details
            )

    async def scenario() -> None:
        harness = Harness(Puzzled())
        session = harness.session("a")
        await session.set_avatar_image(face())
        session.handle(Instruct(id="x", text="open the door"))
        error = (await harness.until(lambda: harness.of("a", "error", id="x")))[0]
        assert error["details"] == {"unknown_words": ["door"], "examples": ["smile"]}
        status = await harness.until(lambda: harness.of("a", "status", state="ready")[-1:])
        assert status[0]["message"] == "instruction not understood"
        session.handle(Set(id="s", fps=20))
        await harness.until(lambda: harness.of("a", "done", id="s"))
        assert "details" not in harness.of("a", "done", id="s")[0]  # absent when None
        await session.close()
        harness.close()

    run(scenario)
