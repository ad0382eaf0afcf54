"""Motion labels (Potamias et al. 2020): per frame, a one-hot of the expression times its
amplitude.

The amplitude follows the expression's phases, 0 at neutral, rising linearly to 1 over the
onset, 1 at the apex, falling linearly to 0 over the offset, and is scaled by the
expression's intensity ``s_i``. As in the paper, ``s_i`` comes from the mean absolute
deformation: the mean per-vertex displacement of the sequence's apex divided by that of the
label's posed FACS prototype (``engines.instructions.facs``) on the generic face, so that a
posed apex has ``s_i`` = 1. The neutral label never moves (``s_i`` = 0).

Shapes: T frames, L labels, V vertices, E expression shapes.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from engines.dynamics.exceptions import MotionLabelError
from engines.instructions.facs import emotion_prototype
from engines.instructions.vocabulary import BASIC_EMOTIONS

__all__ = [
    "MOTION_LABELS",
    "NEUTRAL",
    "PhaseTimes",
    "label_references",
    "mean_displacement",
    "motion_labels",
    "phase_amplitude",
]

MOTION_LABELS: tuple[str, ...] = BASIC_EMOTIONS
NEUTRAL = "neutral"
MAX_SECONDS = 120.0


@dataclass(frozen=True)
class PhaseTimes:
    """When an expression's phases start and end, seconds from the first frame.

    Attributes:
        onset_start: the face starts to move.
        apex_start: the apex is reached (end of the onset).
        offset_start: the apex is left (start of the offset).
        offset_end: back to neutral; None when the apex is held to the end.
    """

    onset_start: float
    apex_start: float
    offset_start: float
    offset_end: float | None

    def __post_init__(self) -> None:
        values = [self.onset_start, self.apex_start, self.offset_start]
        if self.offset_end is not None:
            values.append(self.offset_end)
        if not all(math.isfinite(v) and 0.0 <= v <= MAX_SECONDS for v in values):
            raise MotionLabelError(f"phase times must be in [0, {MAX_SECONDS}] s, got {values}")
        if not all(a <= b for a, b in itertools.pairwise(values)):
            raise MotionLabelError(f"phase times must be in order, got {values}")
        if self.apex_start - self.onset_start <= 0:
            raise MotionLabelError("the onset must last longer than 0 s")
        if self.offset_end is not None and self.offset_end - self.offset_start <= 0:
            raise MotionLabelError("the offset must last longer than 0 s")

    @property
    def onset_s(self) -> float:
        return self.apex_start - self.onset_start

    @property
    def offset_s(self) -> float:
        return 0.0 if self.offset_end is None else self.offset_end - self.offset_start


def phase_amplitude(times: NDArray[np.floating], phases: PhaseTimes) -> NDArray[np.float32]:
    """(T,) amplitude in [0, 1] at ``times`` (seconds): 0, linear up, 1, linear down, 0."""
    t = np.asarray(times, np.float64)
    rise = np.clip((t - phases.onset_start) / phases.onset_s, 0.0, 1.0)
    if phases.offset_end is None:
        return rise.astype(np.float32)
    fall = np.clip((phases.offset_end - t) / phases.offset_s, 0.0, 1.0)
    return np.minimum(rise, fall).astype(np.float32)


def motion_labels(
    label: str,
    intensity: float,
    amplitude: NDArray[np.floating],
    labels: Sequence[str] = MOTION_LABELS,
) -> NDArray[np.float32]:
    """(T, L) one-hot of ``label`` times ``intensity`` (s_i) times ``amplitude`` (T,).

    Raises:
        MotionLabelError: unknown label, or an intensity that is negative or not finite.
    """
    if label not in labels:
        raise MotionLabelError(f"unknown motion label {label!r}; valid: {', '.join(labels)}")
    if not (math.isfinite(intensity) and intensity >= 0.0):
        raise MotionLabelError(f"intensity must be a finite number >= 0, got {intensity}")
    out = np.zeros((len(amplitude), len(labels)), np.float32)
    if label != NEUTRAL:
        out[:, list(labels).index(label)] = float(intensity) * np.asarray(amplitude, np.float32)
    return out


def mean_displacement(deformation: NDArray[np.floating]) -> float:
    """Mean per-vertex Euclidean displacement of a (V, 3) deformation."""
    return float(np.linalg.norm(np.asarray(deformation, np.float64), axis=-1).mean())


def label_references(
    region_basis: NDArray[np.floating],
    expression_names: Sequence[str],
    labels: Sequence[str] = MOTION_LABELS,
) -> dict[str, float]:
    """Mean displacement of every label's posed prototype on the generic face (the s_i = 1
    reference; 0 for neutral).

    Args:
        region_basis: (E, V, 3) expression shapes restricted to the decoder region.
        expression_names: the E shape names.
    """
    basis = np.asarray(region_basis, np.float64)
    out: dict[str, float] = {}
    for label in labels:
        if label == NEUTRAL:
            out[label] = 0.0
            continue
        prototype = emotion_prototype(label, expression_names).astype(np.float64)
        out[label] = mean_displacement(np.tensordot(prototype, basis, axes=1))
    return out
