"""The one door between the server and the engines.

Everything the server needs from calibration, instruction planning, transitions and rendering
goes through the small :class:`AvatarEngine` protocol defined here. :class:`FacecastEngine`
implements it with the real engines (``calibration``, ``engines.i2fet``, ``engines.transition``,
``engines.render``); this is the only server module that imports them, and it translates their
exceptions into :mod:`server.exceptions` with stable client-facing codes.

Threading: the server calls ``load_image``, ``choose_source``, ``calibrate``, ``plan`` and
``timeline`` from a worker thread pool, and each session's :class:`FrameRenderer` from the render
pool, one call at a time per renderer. :class:`FacecastEngine` serialises calibration and
planning with locks, so any number of worker threads is safe.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from server.exceptions import EngineError, EngineInputError, EngineUnavailableError

__all__ = [
    "AvatarEngine",
    "CalibratedAvatar",
    "EngineConfig",
    "FaceState",
    "FacecastEngine",
    "FrameRenderer",
    "IdleSource",
    "Motion",
    "PlannedInstruction",
    "SourceSelection",
]

logger = logging.getLogger(__name__)

EXPRESSION_DIM = 53


# ------------------------------------------------------------------------------ value types
@dataclass(frozen=True)
class FaceState:
    """One frame's face parameters.

    Attributes:
        expression: (53,) float32 absolute expression coefficients.
        pose: (3,) float32 head-rotation offset (pitch, yaw, roll) radians from the source pose.
        phase: timeline phase ("onset", "apex", "offset", "neutral", "hold", "rest", ...).
        label: emotion label being performed ("" when none).
    """

    expression: NDArray[np.float32]
    pose: NDArray[np.float32]
    phase: str = "hold"
    label: str = ""


@dataclass(frozen=True)
class SourceSelection:
    """Which of the captured frames became the source, and why (one human sentence)."""

    index: int
    reason: str
    scores: list[dict[str, float]] = field(default_factory=list)


@dataclass(frozen=True)
class CalibratedAvatar:
    """A fitted avatar: the engine's own object (opaque to the server) plus what to report.

    Attributes:
        handle: the engine's avatar object, passed back to :meth:`AvatarEngine.renderer`.
        rest: the face at rest (the source's fitted expression, zero pose offset).
        report: JSON-able fit report (quality numbers, timings, top expressions).
    """

    handle: Any
    rest: FaceState
    report: dict[str, Any]


@dataclass(frozen=True)
class PlannedInstruction:
    """What the planner understood from a text; ``handle`` is the engine's own plan."""

    handle: Any
    text: str
    understood: tuple[str, ...]
    anchors: tuple[dict[str, Any], ...]
    unknown_words: tuple[str, ...] = ()
    timings_ms: dict[str, float] = field(default_factory=dict)
    pieces: int = 1
    """How many pieces a long text was planned in (1: read at once)."""
    skipped: tuple[str, ...] = ()
    """Pieces of the text that named nothing to perform (said to the user, never dropped
    silently)."""


class Motion(Protocol):
    """A timeline of face states: ``state_at(t)`` for ``t`` seconds from its start; after
    ``duration`` it holds its last state."""

    @property
    def duration(self) -> float: ...

    def state_at(self, t: float) -> FaceState: ...


class FrameRenderer(Protocol):
    """Renders one avatar; not thread-safe (one call at a time)."""

    @property
    def size(self) -> int: ...

    def render(self, state: FaceState) -> NDArray[np.uint8]:
        """(size, size, 3) uint8 RGB frame of ``state``."""
        ...

    def matte(self) -> NDArray[np.uint8]:
        """(size, size) uint8 matte of the frame :meth:`render` made last: 255 where it shows
        the person (face, hair, neck), 0 on the photo's background, soft between."""
        ...


class IdleSource(Protocol):
    """Adds blinks and slight head motion to a holding face."""

    def apply(self, t: float, state: FaceState) -> FaceState: ...


@runtime_checkable
class AvatarEngine(Protocol):
    """What the server needs from the engines."""

    name: str
    expression_names: tuple[str, ...]
    """The (53,) expression coefficients' names (ICT order, ARKit-like names)."""

    def warmup(self) -> None:
        """Load models now (instead of on first use)."""
        ...

    def load_image(self, data: bytes, *, max_pixels: int, max_side: int) -> NDArray[np.uint8]:
        """Decode an uploaded photo to (H, W, 3) uint8 RGB (EngineInputError when it cannot)."""
        ...

    def choose_source(self, frames: Sequence[NDArray[np.uint8]]) -> SourceSelection:
        """Pick the best source among webcam frames (EngineInputError ``no_face``)."""
        ...

    def calibrate(self, image: NDArray[np.uint8]) -> CalibratedAvatar:
        """Fit an avatar to a photo (EngineInputError ``no_face``)."""
        ...

    def renderer(self, avatar: CalibratedAvatar, size: int) -> FrameRenderer:
        """A renderer of ``avatar`` producing (size, size, 3) frames."""
        ...

    def plan(
        self, text: str, current: FaceState, intensity: float, seed: int | None = None
    ) -> PlannedInstruction:
        """Understand an instruction (EngineInputError ``not_understood``)."""
        ...

    def timeline(self, plan: PlannedInstruction, start: FaceState, fps: float) -> Motion:
        """The per-frame timeline performing ``plan`` from the face ``start``."""
        ...

    def idle_motion(self, seed: int) -> IdleSource:
        """Blinks and slight head motion for one session."""
        ...


# --------------------------------------------------------------------------- real engines
@dataclass(frozen=True)
class EngineConfig:
    """Options of the real engines.

    Attributes:
        planner: "auto" (the learned I2FET planner when its checkpoint loads, else the
            lexicon rules), "i2fet" (fail when it does not load) or "lexicon".
        planner_checkpoint: I2FET checkpoint folder (None = the packaged one).
        text_encoder: text encoder name for the planner ("wordllama", "minilm", "clip");
            None = the one the checkpoint records (checkpoints without it: "wordllama").
        render_backend: renderer backend name (None = the renderer's default).
        dynamics: "eased" (every shape of an emotion on one easing curve) or "learned" (each
            emotion window from the dynamics model, ``engines.dynamics``; generated at plan
            time, nothing per frame).
        dynamics_checkpoint: the dynamics model (None = the packaged one).
    """

    planner: str = "auto"
    planner_checkpoint: Path | None = None
    text_encoder: str | None = None
    render_backend: str | None = None
    dynamics: str = "eased"
    dynamics_checkpoint: Path | None = None

    def __post_init__(self) -> None:
        if self.planner not in ("auto", "i2fet", "lexicon"):
            raise ValueError(f"planner must be auto, i2fet or lexicon, got {self.planner!r}")
        if self.dynamics not in ("eased", "learned"):
            raise ValueError(f"dynamics must be eased or learned, got {self.dynamics!r}")


def _vec(values: Any, size: int) -> NDArray[np.float32]:
    array = np.asarray(values, dtype=np.float32).reshape(-1)
    if array.shape != (size,):
        raise EngineError(f"engine returned a vector of shape {array.shape}, expected ({size},)")
    return array


class _RealMotion:
    """An ``engines.transition.Timeline`` seen as a :class:`Motion`."""

    def __init__(self, timeline: Any) -> None:
        self._timeline = timeline
        self._duration = float(timeline.duration)

    @property
    def duration(self) -> float:
        return self._duration

    def state_at(self, t: float) -> FaceState:
        state = self._timeline.state_at(float(t))
        return FaceState(
            _vec(state.expression, EXPRESSION_DIM),
            _vec(state.pose, 3),
            str(getattr(state, "phase", "hold")),
            str(getattr(state, "label", "") or ""),
        )


class _RealRenderer:
    """An ``engines.render.AvatarRenderer`` seen as a :class:`FrameRenderer`."""

    def __init__(self, renderer: Any, size: int) -> None:
        self._renderer = renderer
        self._size = size

    @property
    def size(self) -> int:
        return self._size

    def render(self, state: FaceState) -> NDArray[np.uint8]:
        frame = self._renderer.render(state.expression, state.pose)
        # The renderer reuses its output buffer: the stream keeps frames, so copy.
        return np.array(frame, dtype=np.uint8, copy=True, order="C")

    def matte(self) -> NDArray[np.uint8]:
        return np.asarray(self._renderer.matte(), np.uint8)


class _RealIdle:
    def __init__(self, idle: Any) -> None:
        self._idle = idle

    def apply(self, t: float, state: FaceState) -> FaceState:
        expression, pose = self._idle.apply(float(t), state.expression, state.pose)
        return FaceState(
            np.asarray(expression, np.float32),
            np.asarray(pose, np.float32),
            state.phase,
            state.label,
        )


class FacecastEngine:
    """:class:`AvatarEngine` over the real Facecast engines. Models load on first use
    (or in :meth:`warmup`) and stay loaded; calibration and planning are serialised."""

    name = "facecast"

    def __init__(self, config: EngineConfig | None = None) -> None:
        from engines.face_model.ict import EXPRESSION_NAMES

        self.expression_names: tuple[str, ...] = tuple(EXPRESSION_NAMES)
        self.config = config or EngineConfig()
        self._load_lock = threading.Lock()
        self._calibrate_lock = threading.Lock()
        self._plan_lock = threading.Lock()
        self._model: Any = None
        self._calibrator: Any = None
        self._planner: Any = None
        self._dynamics: Any = None
        self.planner_name = "not loaded"

    # -- loading -------------------------------------------------------------------------
    def _face_model(self) -> Any:
        with self._load_lock:
            if self._model is None:
                try:
                    from engines.face_model.ict import load_ict
                except ImportError as error:
                    raise EngineUnavailableError(f"face model unavailable: {error}") from error
                self._model = load_ict(progress=False)
            return self._model

    def _get_calibrator(self) -> Any:
        model = self._face_model()
        with self._load_lock:
            if self._calibrator is None:
                try:
                    import calibration
                except ImportError as error:
                    raise EngineUnavailableError(f"calibration unavailable: {error}") from error
                self._calibrator = calibration.Calibrator(calibration.CalibrationConfig(), model)
            return self._calibrator

    def _get_planner(self) -> Any:
        with self._load_lock:
            if self._planner is None:
                self._planner = self._load_planner()
            return self._planner

    def _load_planner(self) -> Any:
        started = time.perf_counter()
        if self.config.planner in ("auto", "i2fet"):
            try:
                from engines.i2fet import InstructionPlanner

                planner = InstructionPlanner.load(
                    self.config.planner_checkpoint, encoder=self.config.text_encoder
                )
            except Exception as error:  # missing checkpoint/encoder: fall back or fail
                if self.config.planner == "i2fet":
                    raise EngineUnavailableError(
                        f"the I2FET instruction planner is not available: {error}"
                    ) from error
                logger.warning("I2FET planner unavailable (%s); using the lexicon planner", error)
            else:
                self.planner_name = "i2fet"
                logger.info("I2FET planner loaded in %.2f s", time.perf_counter() - started)
                return planner
        try:
            from engines.instructions import LexiconPlanner
        except ImportError as error:
            raise EngineUnavailableError(f"instruction planner unavailable: {error}") from error
        self.planner_name = "lexicon"
        return LexiconPlanner()

    def load_dynamics(self) -> Any:
        """The learned dynamics model (loaded once); None with eased dynamics.

        Raises:
            EngineUnavailableError: learned dynamics asked for, and the model does not load.
        """
        if self.config.dynamics != "learned":
            return None
        model = self._face_model()
        with self._load_lock:
            if self._dynamics is None:
                try:
                    from engines.dynamics import DynamicsError, LearnedDynamics
                except ImportError as error:
                    raise EngineUnavailableError(f"dynamics unavailable: {error}") from error
                try:
                    self._dynamics = LearnedDynamics.load(model, self.config.dynamics_checkpoint)
                except DynamicsError as error:
                    raise EngineUnavailableError(
                        f"the learned dynamics model is not available: {error}"
                    ) from error
            return self._dynamics

    def warmup(self) -> None:
        """Load the models and run the planner once (its first call is several times slower:
        lazy initialisation), so that the first user's instruction is as fast as the rest."""
        self._get_calibrator()
        self.load_dynamics()
        rest = FaceState(np.zeros(EXPRESSION_DIM, np.float32), np.zeros(3, np.float32))
        started = time.perf_counter()
        self.plan("smile", rest, 1.0)
        logger.info("planner warm-up call: %.0f ms", (time.perf_counter() - started) * 1e3)

    # -- AvatarEngine ---------------------------------------------------------------------
    def load_image(self, data: bytes, *, max_pixels: int, max_side: int) -> NDArray[np.uint8]:
        import calibration
        from calibration.exceptions import ImageDecodeError, ImageTooLargeError

        try:
            image = calibration.load_image(data, max_pixels=max_pixels, max_side=max_side)
        except ImageTooLargeError as error:
            raise EngineInputError(str(error), "image_too_large") from error
        except ImageDecodeError as error:
            # calibration names in-memory bytes "<bytes>"; here they are always an upload
            message = str(error).replace("<bytes>", "the uploaded file")
            raise EngineInputError(message, "bad_image") from error
        return np.asarray(image, np.uint8)

    def choose_source(self, frames: Sequence[NDArray[np.uint8]]) -> SourceSelection:
        calibrator = self._get_calibrator()
        from calibration.exceptions import CalibrationError, NoFaceError

        try:
            with self._calibrate_lock:
                choice = calibrator.choose_source_frame(list(frames))
        except NoFaceError as error:
            raise EngineInputError(
                str(error) or "no face in the webcam frames", "no_face"
            ) from error
        except CalibrationError as error:
            raise EngineInputError(str(error), "calibration_failed") from error
        scores = [
            {str(k): float(v) for k, v in score.items() if isinstance(v, int | float)}
            for score in choice.scores
        ]
        return SourceSelection(int(choice.index), str(choice.reason), scores)

    def calibrate(self, image: NDArray[np.uint8]) -> CalibratedAvatar:
        calibrator = self._get_calibrator()
        from calibration.exceptions import CalibrationError, NoFaceError

        try:
            with self._calibrate_lock:
                result = calibrator.calibrate(image)
        except NoFaceError as error:
            raise EngineInputError(str(error) or "no face found in the image", "no_face") from error
        except CalibrationError as error:
            raise EngineInputError(str(error), "calibration_failed") from error
        avatar = result.avatar
        rest = FaceState(_vec(avatar.expression, EXPRESSION_DIM), np.zeros(3, np.float32), "rest")
        return CalibratedAvatar(avatar, rest, _jsonable(dict(result.report)))

    def renderer(self, avatar: CalibratedAvatar, size: int) -> FrameRenderer:
        try:
            from engines.render import AvatarRenderer, RenderConfig
        except ImportError as error:
            raise EngineUnavailableError(f"renderer unavailable: {error}") from error
        options: dict[str, Any] = {"size": size}
        if self.config.render_backend is not None:
            options["backend"] = self.config.render_backend
        model = self._face_model()
        renderer = AvatarRenderer(avatar.handle, model, RenderConfig(**options))
        # Warm its first-use paths (mouth interior included) before it goes live.
        opened = avatar.rest.expression.copy()
        with contextlib.suppress(ValueError):
            opened[model.expression_index("jawOpen")] = 0.6
        for expression in (avatar.rest.expression, opened):
            renderer.render(expression, avatar.rest.pose)
        return _RealRenderer(renderer, size)

    def plan(
        self, text: str, current: FaceState, intensity: float, seed: int | None = None
    ) -> PlannedInstruction:
        planner = self._get_planner()
        try:
            with self._plan_lock:
                plan = planner.plan(
                    text,
                    current_expression=current.expression,
                    current_pose=current.pose,
                    intensity_scale=float(min(max(intensity, 0.01), 2.0)),
                    seed=seed,
                )
        except _not_understood_errors() as error:
            examples = list(getattr(error, "examples", []) or [])[:3]
            hint = ""
            if examples and "try" not in str(error).lower():
                hint = f" Try e.g.: {'; '.join(repr(e) for e in examples)}"
            details = {
                "unknown_words": [str(w) for w in getattr(error, "unknown_words", ()) or ()],
                "examples": [str(e) for e in getattr(error, "examples", ()) or ()][:5],
            }
            raise EngineInputError(f"{error}{hint}", "not_understood", details=details) from error
        anchors = tuple(
            {"label": str(anchor.label), "intensity": round(float(anchor.intensity), 3)}
            for anchor in plan.anchors
        )
        return PlannedInstruction(
            handle=plan,
            text=text,
            understood=tuple(str(label) for label in plan.understood),
            anchors=anchors,
            unknown_words=tuple(str(word) for word in plan.unknown_words),
            timings_ms={str(k): float(v) for k, v in dict(plan.timings_ms).items()},
            pieces=max(1, len(getattr(plan, "pieces", ()))),
            skipped=tuple(str(piece) for piece in getattr(plan, "skipped", ())),
        )

    def timeline(self, plan: PlannedInstruction, start: FaceState, fps: float) -> Motion:
        from engines.transition import TransitionConfig, build_timeline

        # live: the movement leaving the current face starts at once (no min-jerk ease-in lag)
        config = TransitionConfig(
            fps=float(fps), start_easing="responsive", dynamics=self.config.dynamics
        )
        timeline = build_timeline(
            plan.handle, start.expression, start.pose, config, dynamics=self.load_dynamics()
        )
        return _RealMotion(timeline)

    def idle_motion(self, seed: int) -> IdleSource:
        from engines.transition import IdleMotion, TransitionConfig

        return _RealIdle(IdleMotion(TransitionConfig(), seed))


def _not_understood_errors() -> tuple[type[BaseException], ...]:
    """The planners' "instruction not understood" exception classes that are installed."""
    errors: list[type[BaseException]] = []
    try:
        from engines.i2fet import InstructionNotUnderstoodError

        errors.append(InstructionNotUnderstoodError)
    except ImportError:
        pass
    try:
        from engines.instructions import NotUnderstoodError

        errors.append(NotUnderstoodError)
    except ImportError:
        pass
    return tuple(errors)


def _jsonable(value: Any) -> Any:
    """``value`` with numpy scalars/arrays turned into plain JSON types (arrays > 64 dropped)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist() if value.size <= 64 else f"<array {value.shape}>"
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
