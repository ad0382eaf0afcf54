"""What ``facecast eval fidelity`` asks for: the classes, the instructions and the pairs."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from types import MappingProxyType

__all__ = [
    "DEFAULT_PAIRS",
    "JUDGE_TO_EMOTION",
    "FidelityConfig",
    "pair_instruction",
    "single_instruction",
]

# The judge's seven FER2013 classes -> Facecast's emotion labels.
JUDGE_TO_EMOTION: MappingProxyType[str, str] = MappingProxyType(
    {
        "angry": "anger",
        "disgust": "disgust",
        "fear": "fear",
        "happy": "happiness",
        "sad": "sadness",
        "surprise": "surprise",
        "neutral": "neutral",
    }
)

# Acc2: "Turn this face from X to Y" for every ordered pair of the six non-neutral classes.
DEFAULT_PAIRS: tuple[tuple[str, str], ...] = tuple(
    itertools.permutations(("anger", "disgust", "fear", "happiness", "sadness", "surprise"), 2)
)


def single_instruction(emotion: str) -> str:
    """The single-target instruction of one class ("Make this face show surprise")."""
    if emotion == "neutral":
        return "Make this face neutral"
    return f"Make this face show {emotion}"


def pair_instruction(first: str, second: str) -> str:
    """The transition instruction of a pair ("Turn this face from disgust to happiness")."""
    return f"Turn this face from {first} to {second}"


@dataclass(frozen=True)
class FidelityConfig:
    """Options of one fidelity run.

    Attributes:
        classes: judge classes asked for one by one (Acc1, per-class recall, G-mean).
        pairs: (X, Y) emotion pairs of the transition instructions (Acc2); empty: no Acc2.
        size: rendered frame size (px).
        intensity: the server's intensity control (scales every apex).
        seed: None (default): the planner's deterministic mean anchors, as the server plans
            (``server.session`` passes no seed); an int draws that CVAE prior sample, the
            same for every photo (``facecast animate --sample``).
        fps: timeline frame rate (only the judged moments are rendered).
        sheet_cell: px of one cell of the contact sheets.
        render_off: boolean ``RenderConfig`` parts switched off, e.g. ``("wrinkles",
            "eye_fill", "mouth_cavity")``, to measure what each adds.
    """

    classes: tuple[str, ...] = tuple(JUDGE_TO_EMOTION)
    pairs: tuple[tuple[str, str], ...] = DEFAULT_PAIRS
    size: int = 512
    intensity: float = 1.0
    seed: int | None = None
    fps: float = 30.0
    sheet_cell: int = 192
    render_off: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = [c for c in self.classes if c not in JUDGE_TO_EMOTION]
        if unknown:
            raise ValueError(f"unknown judge classes {unknown}; known: {list(JUDGE_TO_EMOTION)}")
        if not self.classes:
            raise ValueError("classes must not be empty")
        known = set(JUDGE_TO_EMOTION.values())
        bad = [p for p in self.pairs if p[0] not in known or p[1] not in known or p[0] == p[1]]
        if bad:
            raise ValueError(f"pairs must name two different emotions of {sorted(known)}: {bad}")
        from engines.render import RenderConfig

        switches = {k for k, v in RenderConfig.__dataclass_fields__.items() if v.type == "bool"}
        unknown_parts = [p for p in self.render_off if p not in switches]
        if unknown_parts:
            raise ValueError(
                f"unknown renderer parts {unknown_parts}; switchable: {sorted(switches)}"
            )
        if not (0.0 < self.intensity <= 2.0):
            raise ValueError(f"intensity must be in (0, 2], got {self.intensity}")
        if self.size % 16 or not (64 <= self.size <= 1024):
            raise ValueError(f"size must be a multiple of 16 in [64, 1024], got {self.size}")
