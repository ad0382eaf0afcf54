"""Animate single-target and transition instructions on photos and let the judge read them.

For each photo: calibrate it (the server's path), render its own fitted expression (the
re-render baseline), then for every class plan ``single_instruction`` from the photo's own
face exactly as the server does (planner -> timeline, no idle motion so no blink is caught)
and judge the final held frame; for every pair plan ``pair_instruction`` and judge X in the
middle of its apex hold and Y at the end. Only the judged moments are rendered.

The judge is a measuring instrument: nothing here feeds its output back into generation.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from evaluation.fidelity.config import (
    JUDGE_TO_EMOTION,
    FidelityConfig,
    pair_instruction,
    single_instruction,
)
from evaluation.fidelity.exceptions import NoPhotosError

__all__ = [
    "IMAGE_SUFFIXES",
    "FidelityRunner",
    "PairResult",
    "PhotoResult",
    "Reading",
    "list_photos",
]

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
_TOP_COEFFICIENTS = 8


class JudgementLike(Protocol):
    @property
    def label(self) -> str: ...

    @property
    def probabilities(self) -> Any: ...


class JudgeLike(Protocol):
    def judge(self, image: NDArray[np.uint8]) -> JudgementLike | None: ...


@dataclass(frozen=True)
class Reading:
    """What the judge read in one frame: its class (None: it found no face) and confidence."""

    label: str | None
    confidence: float
    probabilities: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, judgement: JudgementLike | None) -> Reading:
        if judgement is None:
            return cls(None, 0.0)
        probabilities = _as_dict(judgement.probabilities)
        return cls(
            str(judgement.label), round(probabilities.get(judgement.label, 0.0), 4), probabilities
        )

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "confidence": self.confidence,
                "probabilities": self.probabilities}  # fmt: skip


@dataclass(frozen=True)
class PairResult:
    """One transition instruction: what was understood and the two judged moments."""

    first: str
    second: str
    understood: tuple[str, ...]
    first_reading: Reading
    second_reading: Reading

    def correct(self, emotion_of: Callable[[str | None], str | None]) -> tuple[bool, bool]:
        return (
            emotion_of(self.first_reading.label) == self.first,
            emotion_of(self.second_reading.label) == self.second,
        )


@dataclass
class PhotoResult:
    """Everything measured on one photo (``frames`` are kept for the contact sheet only)."""

    name: str
    photo: Reading
    rerender: Reading
    singles: dict[str, Reading]
    understood: dict[str, tuple[str, ...]]
    apex_coefficients: dict[str, dict[str, float]]
    pairs: list[PairResult]
    seconds: float
    frames: dict[str, NDArray[np.uint8]] = field(default_factory=dict, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "photo": self.photo.to_json(),
            "rerender": self.rerender.to_json(),
            "singles": {k: v.to_json() for k, v in self.singles.items()},
            "understood": {k: list(v) for k, v in self.understood.items()},
            "apex_coefficients": self.apex_coefficients,
            "pairs": [
                {
                    "first": p.first,
                    "second": p.second,
                    "understood": list(p.understood),
                    "first_reading": p.first_reading.label,
                    "second_reading": p.second_reading.label,
                }
                for p in self.pairs
            ],
            "seconds": round(self.seconds, 2),
        }


def list_photos(paths: Iterable[Path]) -> list[Path]:
    """Image files among ``paths`` (folders are listed, sorted by name)."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out += sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            out.append(path)
        else:
            raise NoPhotosError(f"no such photo or folder: {path}")
    if not out:
        raise NoPhotosError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {list(paths)}")
    return out


class FidelityRunner:
    """Plans, renders and judges the fidelity instructions on one photo at a time.

    Args:
        config: classes, pairs, size, intensity, seed.
        judge: the image-level expression judge (``evaluation.judge.ExpressionJudge``).
        planner: the server's instruction planner (``plan(text, current_expression=...,
            current_pose=..., intensity_scale=..., seed=...)``).
        face_model: the ICT face model the renderer uses.
    """

    def __init__(
        self, config: FidelityConfig, judge: JudgeLike, planner: Any, face_model: Any
    ) -> None:
        self.config = config
        self.judge = judge
        self.planner = planner
        self.face_model = face_model

    def run_photo(self, name: str, image: NDArray[np.uint8]) -> PhotoResult:
        """Calibrate ``image`` (H, W, 3) RGB uint8 and measure every instruction on it.

        Raises:
            calibration.CalibrationError: no face could be fitted.
        """
        from calibration import calibrate
        from engines.render import AvatarRenderer, RenderConfig
        from engines.render.mesh import crop_source

        started = time.perf_counter()
        avatar = calibrate(image, model=self.face_model).avatar
        # render_off names boolean fields only (checked by FidelityConfig)
        switches: dict[str, Any] = dict.fromkeys(self.config.render_off, False)
        render_config = replace(RenderConfig(size=self.config.size), **switches)
        renderer = AvatarRenderer(avatar, self.face_model, render_config)
        _, crop = crop_source(avatar, render_config)
        start = np.asarray(avatar.expression, np.float32)
        rest_pose = np.zeros(3, np.float32)
        frames: dict[str, NDArray[np.uint8]] = {"photo": crop}

        def render(expression: NDArray[np.float32], pose: NDArray[np.float32]) -> NDArray[np.uint8]:
            return np.array(renderer.render(expression, pose), np.uint8)  # the buffer is reused

        frames["rerender"] = render(start, rest_pose)
        photo_reading = Reading.of(self.judge.judge(crop))
        rerender_reading = Reading.of(self.judge.judge(frames["rerender"]))
        singles: dict[str, Reading] = {}
        understood: dict[str, tuple[str, ...]] = {}
        apex: dict[str, dict[str, float]] = {}
        for judge_class in self.config.classes:
            emotion = JUDGE_TO_EMOTION[judge_class]
            plan, timeline = self._timeline(single_instruction(emotion), start, rest_pose)
            state = timeline.state_at(timeline.duration)
            frame = render(state.expression, state.pose)
            frames[judge_class] = frame
            singles[judge_class] = Reading.of(self.judge.judge(frame))
            understood[judge_class] = tuple(str(a.label) for a in plan.anchors)
            apex[judge_class] = _top_coefficients(state.expression)
        pairs: list[PairResult] = []
        for first, second in self.config.pairs:
            plan, timeline = self._timeline(pair_instruction(first, second), start, rest_pose)
            first_state = timeline.state_at(_first_apex_middle(timeline))
            last_state = timeline.state_at(timeline.duration)
            pairs.append(
                PairResult(
                    first,
                    second,
                    tuple(str(a.label) for a in plan.anchors),
                    Reading.of(self.judge.judge(render(first_state.expression, first_state.pose))),
                    Reading.of(self.judge.judge(render(last_state.expression, last_state.pose))),
                )
            )
        return PhotoResult(
            name, photo_reading, rerender_reading, singles, understood, apex, pairs,
            time.perf_counter() - started, frames,
        )  # fmt: skip

    def _timeline(
        self, text: str, start: NDArray[np.float32], pose: NDArray[np.float32]
    ) -> tuple[Any, Any]:
        from engines.transition import TransitionConfig, build_timeline

        plan = self.planner.plan(
            text,
            current_expression=start,
            current_pose=pose,
            intensity_scale=self.config.intensity,
            seed=self.config.seed,
        )
        timeline = build_timeline(plan, start, pose, TransitionConfig(fps=self.config.fps))
        return plan, timeline


def _first_apex_middle(timeline: Any) -> float:
    """Seconds to the middle of the first apex hold (the first anchor's end if it has none)."""
    for segment in timeline.segments:
        if segment.phase == "apex":
            return 0.5 * (segment.start + segment.end)
    for segment in timeline.segments:
        if segment.phase == "onset":
            return float(segment.end)
    return float(timeline.duration)


def _top_coefficients(expression: NDArray[np.float32]) -> dict[str, float]:
    from engines.face_model.ict import EXPRESSION_NAMES

    order = np.argsort(-expression)[:_TOP_COEFFICIENTS]
    return {
        EXPRESSION_NAMES[i]: round(float(expression[i]), 3) for i in order if expression[i] > 0.02
    }


def _as_dict(probabilities: Any) -> dict[str, float]:
    if isinstance(probabilities, dict):
        return {str(k): round(float(v), 4) for k, v in probabilities.items()}
    raise TypeError("the judge's probabilities must be a {label: probability} mapping")
