"""A session: one avatar, its timeline and the frames it produces, driven by commands.

A session is independent of any transport. WebRTC peers, websockets, the kiosk and the
virtual camera all attach to sessions: outputs read :attr:`Session.frames` (latest frame wins),
controllers call :meth:`Session.handle` with parsed commands and receive events through a
listener callback.

Frame production: one producer task per session ticks at the target frame rate; at each tick it
samples the current motion (timeline of the running instruction, or rest) plus idle motion
(blinks, slight head motion) and renders it in the shared render thread pool, keeping only the
newest frame. Planning runs in the work pool; decoding photos, choosing the source and
calibrating in the heavy pool, so that an instruction never waits behind another session's
photos (each session has at most one job in a pool at a time: sessions take turns). Commands
run one at a time from a short queue; ``cancel`` jumps the queue and stops the running one.
Uploads and captures hold their image bytes while they wait: at most
``max_heavy_jobs_per_session`` of them per session (:meth:`Session.reserve_heavy`).

Closing a session settles every command it holds: the running upload or capture and those
waiting answer ``closed``, so no request is left waiting for a session that is gone.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

from server.config import ServerConfig
from server.engine import (
    AvatarEngine,
    CalibratedAvatar,
    FaceState,
    FrameRenderer,
    IdleSource,
    Motion,
)
from server.exceptions import EngineInputError, LimitError, ServerError, SessionError
from server.frames import FrameSlot
from server.imagecheck import read_header
from server.motion import EaseMotion
from server.placeholder import placeholder_frame
from server.protocol import (
    LIMITS,
    Cancel,
    Capture,
    Command,
    Done,
    ErrorEvent,
    Event,
    Instruct,
    Ping,
    PlanEvent,
    Progress,
    Set,
    Status,
)
from server.thumbnail import jpeg_data_url

__all__ = [
    "Executors",
    "PhotoUpload",
    "Session",
    "SessionSettings",
    "StillsCapture",
    "WebcamSource",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")
EventListener = Callable[[Event], None]
FaceListener = Callable[[FaceState, float], None]
"""Called with each frame's face (idle motion included) and its ``time.monotonic()``."""

_MAX_PENDING = 8
_PROGRESS_INTERVAL = 0.25
_MAX_RENDER_FAILURES = 3
_CANCEL_EASE_SECONDS = 0.6


class WebcamSource(Protocol):
    """Frames of a peer's webcam, for ``capture``."""

    async def collect(self, seconds: float, max_frames: int) -> list[NDArray[np.uint8]]:
        """Up to ``max_frames`` (H, W, 3) uint8 RGB frames spread over the next ``seconds``."""
        ...


@dataclass(frozen=True)
class Executors:
    """Thread pools: ``render`` for frames, ``work`` for planning, ``heavy`` for decoding
    photos, choosing the source and calibrating (None: ``work`` does it too)."""

    render: Executor
    work: Executor
    heavy: Executor | None = None


@dataclass
class SessionSettings:
    """What ``set`` changes."""

    fps: float
    size: int
    intensity: float
    idle: bool

    def to_dict(self) -> dict[str, Any]:
        return {"fps": self.fps, "size": self.size, "intensity": self.intensity, "idle": self.idle}


@dataclass(frozen=True)
class PhotoUpload(Command):
    """Internal command (not on the wire): calibrate from uploaded image bytes."""

    TYPE = "upload"
    data: bytes = b""
    result: asyncio.Future[dict[str, Any]] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class StillsCapture(PhotoUpload):
    """Internal command (not on the wire): choose the source among still photos the page took
    of its own camera, then calibrate. Stills are full quality; the first seconds of a
    browser's WebRTC video are not (its send bitrate is still ramping up: the frames a
    ``capture`` collects then hold about half the detail)."""

    TYPE = "capture"
    stills: tuple[bytes, ...] = ()


@dataclass
class _RunningMotion:
    motion: Motion
    started: float
    command: str
    command_id: str | None
    finished: bool = False
    last_progress: float = -1.0
    received_at: float | None = None  # when the instruction arrived (latency statistics)


class Session:
    """One avatar stream.

    Args:
        session_id: short unique id (clients may attach to it by this id).
        config: server configuration (defaults for the settings, limits).
        engine: the engines behind :class:`server.engine.AvatarEngine`.
        executors: the shared thread pools.
        kind: ``"peer"`` (one browser) or ``"broadcast"`` (kiosk, virtual camera, websocket).
        seed: seed of the idle motion.
        key: the secret that drives a private session (``server.access``); never sent in a
            status, an event or ``/api/status`` (None for the broadcast: its operator token).
    """

    def __init__(
        self,
        session_id: str,
        config: ServerConfig,
        engine: AvatarEngine,
        executors: Executors,
        *,
        kind: str = "peer",
        seed: int = 0,
        key: str | None = None,
    ) -> None:
        self.id = session_id
        self.key = key
        self.kind = kind
        self.config = config
        self.engine = engine
        self.executors = executors
        self.settings = SessionSettings(
            config.fps, config.size, config.intensity, config.idle_motion
        )
        self.frames = FrameSlot()
        self.webcam: WebcamSource | None = None
        self.avatar: CalibratedAvatar | None = None
        self._renderer: FrameRenderer | None = None
        self._idle: IdleSource | None = None
        self._seed = seed
        self._motion: _RunningMotion | None = None
        self._listeners: dict[int, EventListener] = {}
        self._face_listeners: dict[int, FaceListener] = {}
        self._listener_ids = itertools.count()
        self._queue: asyncio.Queue[Command] = asyncio.Queue(maxsize=_MAX_PENDING)
        self._received_at: dict[int, float] = {}
        self.instruct_latencies_ms: collections.deque[float] = collections.deque(maxlen=200)
        """Instruction received -> first frame of its motion rendered (milliseconds)."""
        self._running: asyncio.Task[None] | None = None
        self._running_command: Command | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False
        self._started_at = time.monotonic()
        self._last_activity = time.monotonic()
        self._demo_counter = itertools.count(1)
        self._placeholder: NDArray[np.uint8] | None = None
        self._render_failures = 0
        self._kick = asyncio.Event()
        self._last_rendered: (
            tuple[FrameRenderer, FaceState, NDArray[np.uint8], NDArray[np.uint8] | None] | None
        ) = None
        self.frames_rendered = 0
        self.state = "no_avatar"
        self._heavy_reserved = 0

    # ------------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start the producer and the command worker (inside the running event loop)."""
        if self._tasks:
            return
        self._tasks = [
            asyncio.create_task(self._produce(), name=f"session-{self.id}-producer"),
            asyncio.create_task(self._work(), name=f"session-{self.id}-worker"),
        ]

    async def close(self) -> None:
        """Stop every task; listeners get a final ``closed`` status."""
        if self._closed:
            return
        self._closed = True
        self._set_state("closed", "session closed")
        _settle(self._running_command, "session closed", "closed")
        if self._running is not None:
            self._running.cancel()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._running is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._running
        while not self._queue.empty():
            _settle(self._queue.get_nowait(), "session closed", "closed")
        self._listeners.clear()
        self._face_listeners.clear()

    @property
    def closed(self) -> bool:
        return self._closed

    # ------------------------------------------------------------------------- events
    def add_listener(self, listener: EventListener) -> Callable[[], None]:
        """Send this session's events to ``listener``; returns the function that removes it."""
        key = next(self._listener_ids)
        self._listeners[key] = listener

        def remove() -> None:
            self._listeners.pop(key, None)

        return remove

    @property
    def listeners(self) -> int:
        return len(self._listeners)

    def add_face_listener(self, listener: FaceListener) -> Callable[[], None]:
        """Call ``listener(state, now)`` with every frame's face while there is an avatar
        (whether or not anyone watches the video: VMC, iFacialMocap); returns the function
        that removes it. Listeners run on the event loop and must be quick."""
        key = next(self._listener_ids)
        self._face_listeners[key] = listener

        def remove() -> None:
            self._face_listeners.pop(key, None)

        return remove

    def _notify_face(self, state: FaceState, now: float) -> None:
        for listener in list(self._face_listeners.values()):
            try:
                listener(state, now)
            except Exception:  # a broken output must not break the session
                logger.exception("session %s: face listener failed", self.id)

    def emit(self, event: Event) -> None:
        for listener in list(self._listeners.values()):
            try:
                listener(event)
            except Exception:  # a broken listener must not break the session
                logger.exception("session %s: listener failed", self.id)

    def status(self, message: str = "") -> Status:
        return Status(
            state=self.state,
            message=message,
            session=self.id,
            has_avatar=self.avatar is not None,
            settings=self.settings.to_dict(),
            limits=dict(LIMITS),
            demo_idle_seconds=self._demo_idle_seconds(),
        )

    def _demo_idle_seconds(self) -> float | None:
        """Seconds without input after which this session plays its demo loop (None: never)."""
        if self.kind != "broadcast" or self.config.demo_idle_seconds <= 0:
            return None
        return None if not self.config.demo_instructions else self.config.demo_idle_seconds

    def _set_state(self, state: str, message: str) -> None:
        self.state = state
        self.emit(self.status(message))

    # ------------------------------------------------------------------------ commands
    @contextlib.contextmanager
    def reserve_heavy(self) -> Iterator[None]:
        """Hold one of the session's ``max_heavy_jobs_per_session`` upload/capture places for
        the ``with`` block (take it before reading the request body: a refused upload costs
        nothing).

        Raises:
            LimitError: ``busy`` when every place is taken.
            SessionError: the session is closed.
        """
        if self._closed:
            raise SessionError("this session is closed", "closed")
        limit = self.config.max_heavy_jobs_per_session
        if self._heavy_reserved >= limit:
            raise LimitError(
                f"this session already has {limit} uploads or captures running or waiting; "
                "wait for them to finish",
                "busy",
            )
        self._heavy_reserved += 1
        try:
            yield
        finally:
            self._heavy_reserved -= 1

    def _check_settings(self, command: Set) -> None:
        """``setting_too_high`` for a size or fps over the server's caps (the broadcast is
        everyone's stream: one client must not make it cost several times more for all)."""
        limits = (
            ("size", command.size, self.config.max_stream_size),
            ("fps", command.fps, self.config.max_stream_fps),
        )
        for name, value, limit in limits:
            if value is not None and value > limit:
                raise LimitError(
                    f"{name} {value:g} is over this server's limit of {limit:g}",
                    "setting_too_high",
                    details={"field": name, "limit": limit},
                )

    def handle(self, command: Command) -> None:
        """Accept a parsed command: urgent ones run now, others wait their turn.

        Raises:
            LimitError: ``busy`` when too many commands are waiting; ``setting_too_high`` for
                a ``set`` over the server's size or fps cap.
            SessionError: the session is closed.
        """
        if self._closed:
            raise SessionError("this session is closed", "closed")
        if isinstance(command, Ping):  # liveness only: the connection answers its own pong
            return  # (and not a person's activity: a client's keep-alive never stops the demo)
        if isinstance(command, Set):
            self._check_settings(command)
        self._last_activity = time.monotonic()
        if isinstance(command, Cancel):
            self._cancel(command)
            return
        try:
            self._queue.put_nowait(command)
            if isinstance(command, Instruct):
                self._received_at[id(command)] = time.monotonic()
        except asyncio.QueueFull:
            raise LimitError(
                f"{_MAX_PENDING} commands are already waiting; wait for them or send cancel",
                "busy",
            ) from None

    async def upload_photo(self, data: bytes, command_id: str | None = None) -> dict[str, Any]:
        """Calibrate the avatar from an uploaded photo (queued like a command); the result."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.handle(PhotoUpload(id=command_id, data=data, result=future))
        return await _awaited(future)

    async def capture_stills(
        self, stills: list[bytes], command_id: str | None = None
    ) -> dict[str, Any]:
        """Choose the source among ``stills`` (image bytes) and calibrate (queued like a
        command); the result, as ``capture`` reports it."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.handle(StillsCapture(id=command_id, stills=tuple(stills), result=future))
        return await _awaited(future)

    def _cancel(self, command: Cancel) -> None:
        dropped = 0
        while not self._queue.empty():
            item = self._queue.get_nowait()
            self._received_at.pop(id(item), None)
            dropped += 1
            if isinstance(item, PhotoUpload) and item.result is not None and not item.result.done():
                item.result.set_exception(SessionError("cancelled", "cancelled"))
            elif isinstance(item, Instruct):  # its entry gets an answer: it will not run
                self.emit(
                    Done(
                        id=item.id, command="instruct",
                        result={"cancelled": True, "started": False},
                    )
                )  # fmt: skip
        stopped = self._running is not None and not self._running.done()
        if self._running is not None:
            self._running.cancel()
            planning = self._running_command
            if stopped and isinstance(planning, Instruct):  # stopped while being planned
                self.emit(
                    Done(
                        id=planning.id, command="instruct",
                        result={"cancelled": True, "started": False},
                    )
                )  # fmt: skip
        running = self._motion
        eased = False
        if running is not None and not running.finished and self.avatar is not None:
            now = time.monotonic()
            current = running.motion.state_at(now - running.started)
            self._motion = _RunningMotion(
                EaseMotion(current, self.avatar.rest, _CANCEL_EASE_SECONDS), now, "cancel", None
            )
            self._motion.finished = True  # no progress/done for the ease itself
            if running.command == "instruct":
                self.emit(
                    Done(id=running.command_id, command="instruct", result={"cancelled": True})
                )
            eased = True
        self.emit(
            Done(
                id=command.id,
                command="cancel",
                result={"stopped_command": stopped, "dropped": dropped, "easing_to_rest": eased},
            )
        )
        if self.avatar is not None:
            self._set_state("ready", "cancelled")

    async def _work(self) -> None:
        while True:
            command = await self._queue.get()
            self._running_command = command
            self._running = asyncio.create_task(self._run(command))
            await asyncio.wait({self._running})
            if (
                self._running.cancelled()
                and isinstance(command, PhotoUpload)
                and command.result is not None
                and not command.result.done()
            ):
                command.result.set_exception(SessionError("cancelled", "cancelled"))
            self._running = None
            self._running_command = None  # its image bytes are not held beyond its turn

    async def _run(self, command: Command) -> None:
        try:
            if isinstance(command, Instruct):
                await self._instruct(command)
            elif isinstance(command, Capture):
                await self._capture(command)
            elif isinstance(command, Set):
                await self._apply_settings(command)
            elif isinstance(command, PhotoUpload):
                if isinstance(command, StillsCapture):
                    result = await self._capture_stills(command)
                else:
                    result = await self._upload(command)
                if command.result is not None and not command.result.done():
                    command.result.set_result(result)
            else:
                raise SessionError(f"{command.TYPE} cannot be handled here", "bad_message")
        except asyncio.CancelledError:
            raise
        except Exception as error:
            details = None
            if isinstance(error, ServerError):
                code, message, details = error.code, error.message, error.details
            else:
                logger.exception("session %s: %s failed", self.id, command.TYPE)
                code, message = "engine_error", f"{command.TYPE} failed: {error}"
            if (
                isinstance(command, PhotoUpload)
                and command.result is not None
                and not command.result.done()
            ):
                command.result.set_exception(ServerError(message, code, details=details))
            self.emit(
                ErrorEvent(
                    code=code, message=message, id=command.id, command=command.TYPE, details=details
                )
            )
            summary = "instruction not understood" if code == "not_understood" else message
            self._set_state("ready" if self.avatar else "no_avatar", summary)

    async def _in_worker(self, function: Callable[..., T], *args: Any) -> T:
        """Planning work (the work pool)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executors.work, function, *args)

    async def _in_heavy(self, function: Callable[..., T], *args: Any) -> T:
        """Decoding, source choice, calibration, renderer set-up (the heavy pool)."""
        loop = asyncio.get_running_loop()
        pool = self.executors.heavy or self.executors.work
        return await loop.run_in_executor(pool, function, *args)

    # -- instruct ---------------------------------------------------------------------
    async def _instruct(self, command: Instruct) -> None:
        if self.avatar is None:
            raise SessionError(
                "there is no avatar yet: capture your face from the webcam or upload a photo first",
                "no_avatar",
            )
        received_at = self._received_at.pop(id(command), None)
        intensity = self.settings.intensity if command.intensity is None else command.intensity
        self._set_state("planning", f"planning: {command.text}")
        current = self.current_state()
        plan = await self._in_worker(self.engine.plan, command.text, current, intensity, None)
        # Continue from the face as it is now (no jump), even if a transition is running.
        sampled_at = time.monotonic()
        start = self.current_state(sampled_at)
        motion = await self._in_worker(self.engine.timeline, plan, start, self.settings.fps)
        # One frame of lead: the frame rendered right now is already the transition's second
        # frame (its first one equals the face as it is, so it would show no change).
        lead = 1.0 / self.settings.fps
        previous = self._motion
        if previous is not None and not previous.finished and previous.command == "instruct":
            # The new instruction takes over mid-transition: the old one ends here.
            previous.finished = True
            self.emit(
                Done(id=previous.command_id, command="instruct", result={"interrupted": True})
            )
        self._motion = _RunningMotion(
            motion, sampled_at - lead, "instruct", command.id, received_at=received_at
        )
        self._kick.set()  # render the new motion now, not at the next tick
        self.emit(
            PlanEvent(
                id=command.id,
                text=plan.text,
                understood=list(plan.understood),
                anchors=[dict(anchor) for anchor in plan.anchors],
                unknown_words=list(plan.unknown_words),
                duration=round(float(motion.duration), 3),
                timings_ms=dict(plan.timings_ms),
                pieces=plan.pieces,
                skipped=list(plan.skipped),
            )
        )
        understood = " → ".join(plan.understood) or "?"
        self._set_state("animating", f"performing: {understood}")

    # -- capture / upload ---------------------------------------------------------------
    async def _capture(self, command: Capture) -> None:
        if self.webcam is None:
            raise SessionError(
                "no webcam video reaches this session: allow the camera in the browser "
                "or upload a photo instead",
                "no_webcam",
            )
        seconds = command.seconds if command.seconds else self.config.capture_seconds
        self._set_state("capturing", f"hold still and look at the camera ({seconds:.1f} s)")
        frames = await self.webcam.collect(seconds, self.config.capture_max_frames)
        if not frames:
            raise SessionError("no webcam frames arrived during the capture", "no_webcam")
        await self._choose_source(frames, command.id)

    async def _capture_stills(self, command: StillsCapture) -> dict[str, Any]:
        self._set_state("calibrating", f"reading {len(command.stills)} stills")
        await self._in_heavy(_check_stills, command.stills, self.config)
        frames = []
        for data in command.stills:
            try:
                frames.append(await self._read_image(data))
            except ServerError as error:  # one unreadable still does not spoil the rest
                logger.info("session %s: a capture still was skipped: %s", self.id, error)
        if not frames:
            raise SessionError("none of the captured stills could be read", "bad_image")
        return await self._choose_source(frames, command.id)

    async def _read_image(self, data: bytes) -> Any:
        """Image bytes → (H, W, 3) RGB in a worker, within the upload pixel and side limits
        (checked from the header before decoding)."""
        return await self._in_heavy(
            _load_image,
            self.engine,
            data,
            self.config.max_upload_pixels,
            self.config.max_image_side,
        )

    async def _choose_source(self, frames: list[Any], command_id: str | None) -> dict[str, Any]:
        """Pick the best of ``frames`` (engine.choose_source), calibrate it, report it. Each step
        is a ``progress`` event answering ``command_id`` (phase ``choosing``, ``calibrating``)."""
        count = len(frames)
        self._set_state("calibrating", f"choosing the best of {count} frames")
        self.emit(
            Progress(
                id=command_id, command="capture", fraction=0.0, phase="choosing",
                message=f"choosing the best of {count} stills",
            )
        )  # fmt: skip
        choice = await self._in_heavy(self.engine.choose_source, frames)
        if not 0 <= choice.index < count:
            raise ServerError(f"source selection returned index {choice.index}", "engine_error")
        self.emit(
            Progress(
                id=command_id, command="capture", fraction=0.5, phase="calibrating",
                message=f"calibrating still {choice.index + 1} of {count} ({choice.reason})",
            )
        )  # fmt: skip
        result = await self._install_avatar(frames[choice.index])
        result.update(
            {
                "index": choice.index,
                "frames": len(frames),
                "reason": choice.reason,
                "scores": choice.scores,
                "thumbnail": jpeg_data_url(frames[choice.index]),
            }
        )
        self.emit(Done(id=command_id, command="capture", result=result))
        self._set_state("ready", f"avatar ready: {choice.reason}")
        return result

    async def _upload(self, command: PhotoUpload) -> dict[str, Any]:
        self._set_state("calibrating", "reading the photo")
        image = await self._read_image(command.data)
        self.emit(
            Progress(
                id=command.id, command="upload", fraction=0.5, phase="calibrating",
                message="calibrating the photo",
            )
        )  # fmt: skip
        result = await self._install_avatar(image)
        result["reason"] = "uploaded photo"
        result["thumbnail"] = jpeg_data_url(image)
        self.emit(Done(id=command.id, command="upload", result=result))
        self._set_state("ready", "avatar ready from the uploaded photo")
        return result

    async def set_avatar_image(self, image: NDArray[np.uint8]) -> dict[str, Any]:
        """Calibrate from an image already in memory (start-up photo of the broadcast)."""
        result = await self._install_avatar(image)
        self._set_state("ready", "avatar ready")
        return result

    async def _install_avatar(self, image: NDArray[np.uint8]) -> dict[str, Any]:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise SessionError(
                f"source image must be (H, W, 3) uint8, got {image.shape}", "bad_image"
            )
        started = time.perf_counter()
        avatar = await self._in_heavy(self.engine.calibrate, image)
        renderer = await self._in_heavy(self.engine.renderer, avatar, self.settings.size)
        self.avatar = avatar
        self._renderer = renderer
        self._idle = self.engine.idle_motion(self._seed)
        self._motion = None
        self._render_failures = 0
        return {
            "report": avatar.report,
            "source_size": [int(image.shape[1]), int(image.shape[0])],
            "seconds": round(time.perf_counter() - started, 3),
        }

    # -- set ------------------------------------------------------------------------------
    async def _apply_settings(self, command: Set) -> None:
        if command.size is not None and command.size != self.settings.size:
            if self.avatar is not None:
                self._renderer = await self._in_heavy(
                    self.engine.renderer, self.avatar, command.size
                )
            self.settings.size = command.size
        if command.fps is not None:
            self.settings.fps = command.fps
        if command.intensity is not None:
            self.settings.intensity = command.intensity
        if command.idle is not None:
            self.settings.idle = command.idle
        self.emit(Done(id=command.id, command="set", result=self.settings.to_dict()))
        self.emit(self.status("settings changed"))

    # ------------------------------------------------------------------------ frames
    def current_state(self, now: float | None = None) -> FaceState:
        """The face (without idle motion) at monotonic time ``now``."""
        if self.avatar is None:
            raise SessionError("no avatar", "no_avatar")
        running = self._motion
        if running is None:
            return self.avatar.rest
        now = time.monotonic() if now is None else now
        return running.motion.state_at(max(0.0, now - running.started))

    def _advance(self, now: float) -> FaceState | None:
        """Sample the motion at ``now``; emits progress and ``done`` of the running instruction."""
        if self.avatar is None:
            return None
        running = self._motion
        if running is None:
            return self.avatar.rest
        elapsed = max(0.0, now - running.started)
        state = running.motion.state_at(elapsed)
        if not running.finished:
            duration = max(running.motion.duration, 1e-6)
            if elapsed >= running.motion.duration:
                running.finished = True
                self.emit(
                    Progress(
                        id=running.command_id,
                        command=running.command,
                        fraction=1.0,
                        phase=state.phase,
                        label=state.label,
                    )
                )
                self.emit(
                    Done(
                        id=running.command_id,
                        command=running.command,
                        result={"duration": round(running.motion.duration, 3)},
                    )
                )
                self._set_state("ready", "done: ready for the next instruction")
            elif now - running.last_progress >= _PROGRESS_INTERVAL:
                running.last_progress = now
                self.emit(
                    Progress(
                        id=running.command_id,
                        command=running.command,
                        fraction=round(elapsed / duration, 3),
                        phase=state.phase,
                        label=state.label,
                    )
                )
        return state

    def _maybe_demo(self, now: float) -> None:
        if (
            self.config.demo_idle_seconds <= 0
            or self.kind != "broadcast"
            or self.avatar is None
            or not self.config.demo_instructions
            or (self._motion is not None and not self._motion.finished)
            or self._running is not None
            or now - self._last_activity < self.config.demo_idle_seconds
        ):
            return
        number = next(self._demo_counter)
        text = self.config.demo_instructions[(number - 1) % len(self.config.demo_instructions)]
        with contextlib.suppress(ServerError):
            self.handle(Instruct(id=f"demo-{number}", text=text))

    def _placeholder_image(self) -> NDArray[np.uint8]:
        if self._placeholder is None or self._placeholder.shape[0] != self.settings.size:
            # the broadcast (kiosk, websocket) has no camera of its own: only an upload helps
            message = "Upload a face" if self.kind == "broadcast" else "Capture or upload a face"
            self._placeholder = placeholder_frame(self.settings.size, message)
        return self._placeholder

    async def _produce(self) -> None:
        loop = asyncio.get_running_loop()
        next_tick = time.monotonic()
        while True:
            now = time.monotonic()
            state = self._advance(now)
            self._maybe_demo(now)
            watched = self.frames.viewers > 0
            if state is not None and (watched or self._face_listeners):
                if self.settings.idle and self._idle is not None:
                    state = self._idle.apply(now - self._started_at, state)
                self._notify_face(state, now)
            if watched:
                renderer = self._renderer
                if renderer is None or state is None:
                    self.frames.put(self._placeholder_image())
                else:
                    await self._render(loop, renderer, state)
            period = 1.0 / self.settings.fps
            next_tick += period
            now = time.monotonic()
            if next_tick < now - period:  # fell behind: skip ticks instead of catching up
                next_tick = now
            if next_tick > now:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._kick.wait(), next_tick - now)
            if self._kick.is_set():
                self._kick.clear()
                next_tick = time.monotonic()

    async def _render(
        self, loop: asyncio.AbstractEventLoop, renderer: FrameRenderer, state: FaceState
    ) -> None:
        want_matte = self.frames.matte_viewers > 0
        last = self._last_rendered
        if (
            last is not None
            and last[0] is renderer
            and np.array_equal(last[1].expression, state.expression)
            and np.array_equal(last[1].pose, state.pose)
            and (last[3] is not None or not want_matte)
        ):
            # the face did not move: same picture, no render
            self.frames.put(last[2], last[3] if want_matte else None)
            return
        sampled = self._motion  # the motion ``state`` was sampled from
        try:
            image, matte = await loop.run_in_executor(
                self.executors.render, _render_frame, renderer, state, want_matte
            )
        except Exception as error:
            self._render_failures += 1
            logger.exception("session %s: render failed", self.id)
            if self._render_failures >= _MAX_RENDER_FAILURES and renderer is self._renderer:
                self.avatar, self._renderer, self._motion = None, None, None
                self.emit(
                    ErrorEvent(
                        code="render_failed",
                        message=f"rendering failed repeatedly ({error}); capture or upload again",
                    )
                )
                self._set_state("no_avatar", "rendering failed")
            return
        self._render_failures = 0
        if renderer is self._renderer:  # not replaced meanwhile (new avatar or size)
            self.frames.put(image, matte)
            self.frames_rendered += 1
            self._last_rendered = (renderer, state, image, matte)
            running = self._motion
            if running is not None and running is sampled and running.received_at is not None:
                # The first frame rendered from an instruction's motion.
                latency = (time.monotonic() - running.received_at) * 1000
                self.instruct_latencies_ms.append(latency)
                running.received_at = None


def _render_frame(
    renderer: FrameRenderer, state: FaceState, with_matte: bool
) -> tuple[NDArray[np.uint8], NDArray[np.uint8] | None]:
    """One frame and, when asked, its matte (one call: the renderer is not thread-safe and
    the matte belongs to the frame just rendered)."""
    image = renderer.render(state)
    return image, (renderer.matte() if with_matte else None)


def _load_image(engine: AvatarEngine, data: bytes, max_pixels: int, max_side: int) -> Any:
    """Decode ``data`` if its header promises at most ``max_pixels`` decoded pixels."""
    header = read_header(data, max_side)
    if header.decoded_pixels > max_pixels:
        raise EngineInputError(
            f"the {header.width}x{header.height} image decodes to "
            f"{header.decoded_pixels / 1e6:.1f} Mpx, over the limit of {max_pixels / 1e6:.1f} Mpx; "
            f"downscale it first (e.g. to {max_side} px on the longer side)",
            "image_too_large",
        )
    return engine.load_image(data, max_pixels=max_pixels, max_side=max_side)


def _check_stills(stills: Sequence[bytes], config: ServerConfig) -> None:
    """``capture_too_large`` when the stills together decode to over ``max_capture_pixels``
    (from their headers; an unreadable still counts nothing: it is skipped later)."""
    total = 0
    for data in stills:
        with contextlib.suppress(EngineInputError):
            total += read_header(data, config.max_image_side).decoded_pixels
    if total > config.max_capture_pixels:
        raise LimitError(
            f"the {len(stills)} stills decode to {total / 1e6:.1f} Mpx together, over the "
            f"limit of {config.max_capture_pixels / 1e6:.1f} Mpx per capture; send fewer or "
            "smaller stills",
            "capture_too_large",
        )


async def _awaited(future: asyncio.Future[T]) -> T:
    """The result of ``future``, which is dropped on the way out: an exception it raises gets
    this frame in its traceback, and a frame still holding the future would make a cycle
    (future → exception → traceback → frame → future) that only a full garbage collection
    frees, with every image of the upload in it (+60 MB per few captures without)."""
    try:
        return await future
    finally:
        del future


def _settle(command: Command | None, message: str, code: str) -> None:
    """Answer a held upload/capture whose session is going away."""
    if (
        isinstance(command, PhotoUpload)
        and command.result is not None
        and not command.result.done()
    ):
        command.result.set_exception(SessionError(message, code))


def sample_frames(frames: Sequence[Any], count: int) -> list[Any]:
    """``count`` items spread evenly over ``frames`` (all when there are fewer)."""
    if len(frames) <= count:
        return list(frames)
    picks = np.linspace(0, len(frames) - 1, count).round().astype(int)
    return [frames[i] for i in picks]
