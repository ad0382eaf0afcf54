"""A test double of :class:`server.engine.AvatarEngine` (tests and transport benchmarks only).

It draws frames with numpy so that the transport, protocol, sessions, pacing and limits can be
tested without the real engines: the frame is the source photo resized, with a bar whose length
follows the expression and a shift that follows the head yaw. Not the product.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from engines.face_model.ict import EXPRESSION_NAMES
from server.engine import (
    AvatarEngine,
    CalibratedAvatar,
    FaceState,
    PlannedInstruction,
    SourceSelection,
)
from server.exceptions import EngineInputError

WORDS = {
    "happiness": ("happy", "happiness", "smile", "joy"),
    "sadness": ("sad", "sadness"),
    "disgust": ("disgust", "disgusted"),
    "anger": ("anger", "angry"),
    "surprise": ("surprise", "surprised"),
    "fear": ("fear", "afraid"),
}


def _labels_in(text: str) -> list[str]:
    """The labels of WORDS found in ``text``, in order of appearance, each once."""
    lowered = text.lower()
    found = sorted(
        (lowered.find(word), label) for label, words in WORDS.items() for word in words
        if word in lowered
    )  # fmt: skip
    labels: list[str] = []
    for _, label in found:
        if label not in labels:
            labels.append(label)
    return labels


class FakeMotion:
    """Linear interpolation between key states, 0.5 s per segment (holds the last one)."""

    def __init__(self, keys: list[FaceState], seconds_per_key: float) -> None:
        self.keys = keys
        self.seconds_per_key = seconds_per_key

    @property
    def duration(self) -> float:
        return self.seconds_per_key * (len(self.keys) - 1)

    def state_at(self, t: float) -> FaceState:
        position = min(max(t / self.seconds_per_key, 0.0), len(self.keys) - 1.0)
        index = min(int(position), len(self.keys) - 2)
        weight = np.float32(position - index)
        a, b = self.keys[index], self.keys[index + 1]
        return FaceState(
            (1 - weight) * a.expression + weight * b.expression,
            (1 - weight) * a.pose + weight * b.pose,
            "onset" if position < len(self.keys) - 1 else "hold",
            b.label,
        )


class FakeRenderer:
    fail = False

    def __init__(self, source: NDArray[np.uint8], size: int, delay: float) -> None:
        self._base = cv2.resize(source, (size, size), interpolation=cv2.INTER_AREA)
        self._size = size
        self._delay = delay
        self.calls = 0

    @property
    def size(self) -> int:
        return self._size

    def render(self, state: FaceState) -> NDArray[np.uint8]:
        self.calls += 1
        if self._delay:
            time.sleep(self._delay)
        frame = np.roll(self._base, int(state.pose[1] * 200), axis=1).copy()
        length = int(np.clip(state.expression.sum(), 0, 4) / 4 * (self._size - 20))
        frame[-40:-10, 10 : 10 + length] = (255, 40, 40)
        self._last_pose = state.pose
        return np.asarray(frame, np.uint8)

    def matte(self) -> NDArray[np.uint8]:
        """A disc around the frame's centre (shifted with the head yaw, as the picture)."""
        matte = np.zeros((self._size, self._size), np.uint8)
        shift = int(getattr(self, "_last_pose", np.zeros(3))[1] * 200)
        centre = (self._size // 2 + shift, self._size // 2)
        cv2.circle(matte, centre, self._size // 3, 255, -1, lineType=cv2.LINE_AA)
        return matte


class FakeIdle:
    def apply(self, t: float, state: FaceState) -> FaceState:
        pose = state.pose.copy()
        pose[1] += 0.002 * np.sin(t)
        return FaceState(state.expression, pose, state.phase, state.label)


class FakeEngine:
    """:class:`AvatarEngine` test double. ``render_delay`` simulates a slow renderer;
    ``fail_render`` makes every render raise."""

    name = "fake"
    expression_names = EXPRESSION_NAMES

    def __init__(
        self,
        render_delay: float = 0.0,
        plan_delay: float = 0.0,
        segment_seconds: float = 0.5,
        calibrate_delay: float = 0.0,
    ) -> None:
        self.render_delay = render_delay
        self.calibrate_delay = calibrate_delay
        self.plan_delay = plan_delay
        self.segment_seconds = segment_seconds
        self.fail_render = False
        self.renderers: list[FakeRenderer] = []
        self.calibrations = 0
        self.threads: set[str] = set()
        self._lock = threading.Lock()

    def warmup(self) -> None:
        return None

    def load_image(self, data: bytes, *, max_pixels: int, max_side: int) -> NDArray[np.uint8]:
        decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if decoded is None:
            raise EngineInputError("cannot decode this image (PNG or JPEG expected)", "bad_image")
        if decoded.shape[0] * decoded.shape[1] > max_pixels:
            raise EngineInputError("image has too many pixels", "image_too_large")
        return np.asarray(cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB), np.uint8)

    @staticmethod
    def _is_face(image: NDArray[np.uint8]) -> bool:
        return float(image.std()) > 5.0  # a uniform image is "not a face"

    def choose_source(self, frames: Sequence[NDArray[np.uint8]]) -> SourceSelection:
        scores = [{"sharpness": float(f.std()), "total": float(f.std())} for f in frames]
        faces = [i for i, f in enumerate(frames) if self._is_face(f)]
        if not faces:
            raise EngineInputError("no face in the webcam frames", "no_face")
        best = max(faces, key=lambda i: scores[i]["total"])
        return SourceSelection(best, f"frame {best} is the sharpest", scores)

    def calibrate(self, image: NDArray[np.uint8]) -> CalibratedAvatar:
        self.threads.add(threading.current_thread().name)
        if self.calibrate_delay:
            time.sleep(self.calibrate_delay)  # holds the GIL only briefly, like real work would
        if not self._is_face(image):
            raise EngineInputError("no face found in the image", "no_face")
        with self._lock:
            self.calibrations += 1
        rest = FaceState(np.zeros(53, np.float32), np.zeros(3, np.float32), "rest")
        return CalibratedAvatar(image.copy(), rest, {"landmark_nme": 0.0, "faces_found": 1})

    def renderer(self, avatar: CalibratedAvatar, size: int) -> Any:
        engine = self

        class _Renderer(FakeRenderer):
            def render(self, state: FaceState) -> NDArray[np.uint8]:
                if engine.fail_render or self.fail:
                    raise RuntimeError("fake render failure")
                return super().render(state)

        renderer = _Renderer(avatar.handle, size, self.render_delay)
        self.renderers.append(renderer)
        return renderer

    def plan(
        self, text: str, current: FaceState, intensity: float, seed: int | None = None
    ) -> PlannedInstruction:
        self.threads.add(threading.current_thread().name)
        if self.plan_delay:
            time.sleep(self.plan_delay)
        if "crash" in text.lower():
            raise RuntimeError("fake planner bug")
        # like the product planner, several sentences are planned one by one; a sentence
        # that names nothing is skipped and said so
        sentences = [part for part in re.split(r"(?<=[.!?])\s+", text.strip()) if part]
        labels: list[str] = []
        skipped: list[str] = []
        for sentence in sentences:
            found = _labels_in(sentence)
            labels.extend(found)
            if not found:
                skipped.append(sentence)
        if not labels:
            raise EngineInputError(
                f"no emotion understood in {text!r}. Try e.g.: 'smile'", "not_understood"
            )
        keys = []
        for label in labels:
            expression = np.zeros(53, np.float32)
            expression[list(WORDS).index(label) * 4 : list(WORDS).index(label) * 4 + 4] = intensity
            keys.append(FaceState(expression, np.array([0, 0.05, 0], np.float32), "apex", label))
        anchors = tuple({"label": label, "intensity": float(intensity)} for label in labels)
        return PlannedInstruction(
            keys,
            text,
            tuple(labels),
            anchors,
            (),
            {"plan": 0.1},
            pieces=len(sentences),
            skipped=tuple(skipped) if len(sentences) > 1 else (),
        )

    def timeline(self, plan: PlannedInstruction, start: FaceState, fps: float) -> FakeMotion:
        return FakeMotion([start, *plan.handle], self.segment_seconds)

    def idle_motion(self, seed: int) -> FakeIdle:
        return FakeIdle()


def test_fake_engine_follows_the_protocol() -> None:
    engine = FakeEngine()
    assert isinstance(engine, AvatarEngine)
    image = (np.arange(64 * 64 * 3) % 251).astype(np.uint8).reshape(64, 64, 3)
    avatar = engine.calibrate(image)
    renderer = engine.renderer(avatar, 64)
    rest = renderer.render(avatar.rest)
    plan = engine.plan("from disgust to a smile", avatar.rest, 1.0)
    assert plan.understood == ("disgust", "happiness")
    motion = engine.timeline(plan, avatar.rest, 30)
    assert motion.duration == 1.0
    assert not np.array_equal(renderer.render(motion.state_at(1.0)), rest)
