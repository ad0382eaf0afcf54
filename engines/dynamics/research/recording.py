"""A person's own recording (``facecast fit-sequence``) as a dynamics sequence: its phases,
how it unfolds, and how the learned model and eased interpolation compare with it.

A fitted recording gives per-frame expression coefficients ψ_t (T, E) of one person. Here:

1. it is resampled to the model's frame rate (linear interpolation per shape);
2. the rest face is the median of its first ``rest_frames`` frames, and every frame becomes
   the change from it, ``w_t = ψ_t - ψ_rest`` (a recording's rest is rarely the model's
   neutral: the renderer's astronaut smiles at rest). Its deformation of the decoder region
   is ``Σ_e w_e X_e``: the fitted coefficients already hold the person's size, so there is no
   face scale;
3. its amplitude curve is the mean vertex displacement of that deformation per frame; the
   onset starts where the curve last rises through ``low`` of its peak before the peak, the
   apex where it first reaches ``high``, the offset where it last leaves ``high`` and ends
   where it first falls back to ``low`` (None: still moving at the end). The 10 / 90 %
   crossings are the usual rise-time convention; they make the phases a property of the
   recording, not of a label;
4. with a label, its intensity s_i is, as in the corpus (:mod:`.corpus`), the apex's mean
   displacement against the label's posed prototype; the motion labels of those phases and
   that intensity are what the models are given.

The result is a :class:`~engines.dynamics.research.corpus.DynamicSequence`, so the corpus
evaluation's measures apply unchanged (:func:`.evaluate.unfold_sequence`, the per-phase
:class:`.evaluate.ErrorTable`), and fine-tuning trains on it like on a corpus sequence.

With a label, the unfolding of every source (recording, models, eased) is measured on the
shapes of that label's posed FACS prototype (``engines.instructions.facs``), the shapes a
corpus sequence of the label moves: a fitted recording also moves shapes the label does not
(the fitter reads part of a wide-open jaw on the renderer's astronaut as lip shapes, which
switch on late), and those would set its spread.

Shapes: T frames, E = 53 expression shapes, V region vertices.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from engines.dynamics.exceptions import DynamicsError, MotionLabelError
from engines.dynamics.labels import MOTION_LABELS, NEUTRAL, PhaseTimes, mean_displacement
from engines.dynamics.model import DynamicsModel
from engines.dynamics.projection import RegionBasis
from engines.dynamics.research.corpus import DynamicSequence
from engines.dynamics.research.evaluate import (
    ErrorTable,
    eased_sequence,
    generate_deformation,
    unfold_sequence,
)
from engines.dynamics.research.unfolding import summarize_unfolding

__all__ = [
    "RECORDING_SUBJECT",
    "RecordingConfig",
    "evaluate_recording",
    "find_phases",
    "label_shape_mask",
    "recording_amplitude",
    "recording_sequence",
]

RECORDING_SUBJECT = -1  # the subject index of a recording (corpus subjects are >= 0)


@dataclass(frozen=True)
class RecordingConfig:
    """Attributes:
    rest_frames: first frames whose median is the rest face.
    low, high: shares of the amplitude's peak that bound the onset and the offset.
    min_peak_mm: a recording whose amplitude never reaches this does not move.
    """

    rest_frames: int = 3
    low: float = 0.1
    high: float = 0.9
    min_peak_mm: float = 0.05

    def __post_init__(self) -> None:
        if self.rest_frames < 1:
            raise ValueError("rest_frames must be >= 1")
        if not 0.0 < self.low < self.high < 1.0:
            raise ValueError("need 0 < low < high < 1")
        if not (math.isfinite(self.min_peak_mm) and self.min_peak_mm > 0):
            raise ValueError("min_peak_mm must be > 0")


def recording_amplitude(
    changes: NDArray[np.floating], basis: RegionBasis
) -> NDArray[np.float64]:
    """(T,) mean vertex displacement (cm) of (T, E) coefficient changes on the region."""
    deformation = basis.deform(np.asarray(changes, np.float32))
    return np.asarray(np.linalg.norm(deformation, axis=-1).mean(axis=-1), np.float64)


def _crossing(t: NDArray[np.float64], a: NDArray[np.float64], k: int, level: float) -> float:
    """Time between frames k and k+1 where ``a`` crosses ``level`` (linear)."""
    span = a[k + 1] - a[k]
    fraction = (level - a[k]) / span if abs(span) > 1e-12 else 0.5
    return float(t[k] + np.clip(fraction, 0.0, 1.0) * (t[k + 1] - t[k]))


def find_phases(
    amplitude: NDArray[np.floating],
    times: NDArray[np.floating],
    low: float = 0.1,
    high: float = 0.9,
) -> PhaseTimes:
    """Onset / apex / offset of a (T,) amplitude curve from its ``low`` / ``high`` crossings
    of the peak (see the module docstring).

    Raises:
        DynamicsError: fewer than 3 frames or a curve that never rises.
    """
    a = np.asarray(amplitude, np.float64)
    t = np.asarray(times, np.float64)
    if a.ndim != 1 or a.shape != t.shape or len(a) < 3:
        raise DynamicsError("an amplitude curve needs >= 3 frames and one time per frame")
    peak = int(np.argmax(a))
    if a[peak] <= 0.0:
        raise DynamicsError("the recording never moves from its rest face")
    a = a / a[peak]
    below = np.flatnonzero(a[: peak + 1] <= low)
    onset_start = _crossing(t, a, int(below[-1]), low) if len(below) else float(t[0])
    first_high = int(np.flatnonzero(a[: peak + 1] >= high)[0])
    apex_start = float(t[0]) if first_high == 0 else _crossing(t, a, first_high - 1, high)
    last_high = peak + int(np.flatnonzero(a[peak:] >= high)[-1])
    offset_start = float(t[-1]) if last_high == len(a) - 1 else _crossing(t, a, last_high, high)
    after = np.flatnonzero(a[last_high:] <= low)
    offset_end = None
    if len(after):
        k = last_high + int(after[0]) - 1
        offset_end = _crossing(t, a, k, low)
    apex_start = max(apex_start, onset_start + 0.5 * float(t[1] - t[0]))
    offset_start = max(offset_start, apex_start)
    if offset_end is not None and offset_end <= offset_start:
        offset_end = None
    return PhaseTimes(onset_start, apex_start, offset_start, offset_end)


def _resample(
    values: NDArray[np.floating], fps: float, target_fps: float
) -> NDArray[np.float64]:
    """(T, E) at ``fps`` -> (T', E) at ``target_fps`` over the same duration."""
    array = np.asarray(values, np.float64)
    if abs(fps - target_fps) < 1e-6:
        return array
    source_t = np.arange(len(array)) / fps
    count = math.floor(source_t[-1] * target_fps + 1e-9) + 1
    target_t = np.arange(count) / target_fps
    return np.stack([np.interp(target_t, source_t, array[:, e]) for e in range(array.shape[1])], 1)


def recording_sequence(
    expressions: NDArray[np.floating],
    fps: float,
    basis: RegionBasis,
    references: dict[str, float],
    label: str | None,
    model_fps: float,
    config: RecordingConfig | None = None,
) -> DynamicSequence:
    """A fitted recording (T, E) as a :class:`DynamicSequence` at ``model_fps``.

    Args:
        expressions: (T, E) fitted coefficients (``SequenceFit.expressions``).
        fps: their frame rate.
        basis: the decoder region's shapes.
        references: label -> the posed prototype's mean displacement (``corpus.references``).
        label: what the person performed (one of the motion labels), or None: the phases and
            the unfolding only (the sequence's label is then "neutral", its intensity 0).
        model_fps: the dynamics model's frame rate.

    Raises:
        DynamicsError: too short, never moves, or not the model's shapes.
        MotionLabelError: an unknown label.
    """
    config = config or RecordingConfig()
    values = np.asarray(expressions, np.float64)
    if values.ndim != 2 or values.shape[1] != basis.num_expressions:
        raise DynamicsError(
            f"expected (T, {basis.num_expressions}) expression coefficients, got {values.shape}"
        )
    if label is not None and label not in MOTION_LABELS:
        raise MotionLabelError(f"unknown label {label!r}; valid: {', '.join(MOTION_LABELS)}")
    if label == NEUTRAL:
        raise MotionLabelError("a recording of 'neutral' has no phases to compare")
    resampled = _resample(values, fps, model_fps)
    if len(resampled) < max(3, config.rest_frames + 2):
        raise DynamicsError(f"the recording is too short ({len(resampled)} frames)")
    rest = np.median(resampled[: config.rest_frames], axis=0)
    changes = (resampled - rest).astype(np.float32)
    times = np.arange(len(changes)) / model_fps
    amplitude = recording_amplitude(changes, basis)
    if amplitude.max() * 10.0 < config.min_peak_mm:
        raise DynamicsError(
            f"the recording barely moves (largest mean displacement {amplitude.max() * 10:.3f} mm"
            f" < {config.min_peak_mm} mm)"
        )
    phases = find_phases(amplitude, times, config.low, config.high)
    intensity = 0.0
    if label is not None:
        apex_frames = (times >= phases.apex_start) & (times <= phases.offset_start)
        apex = changes[apex_frames].mean(axis=0) if apex_frames.any() else changes[-1]
        intensity = mean_displacement(basis.deform(apex)) / references[label]
    return DynamicSequence(
        subject=RECORDING_SUBJECT,
        label=label or NEUTRAL,
        intensity=float(intensity),
        requested=float(intensity),
        fps=float(model_fps),
        phases=phases,
        weights=changes,
        face_scale=1.0,
    )


def label_shape_mask(label: str, names: Sequence[str]) -> NDArray[np.bool_]:
    """(E,) the shapes of ``label``'s posed FACS prototype."""
    from engines.instructions.facs import emotion_prototype

    return np.asarray(emotion_prototype(label, names) > 0, bool)


def _unfolding(
    coefficients: NDArray[np.floating],
    sequence: DynamicSequence,
    names: Sequence[str],
    mask: NDArray[np.bool_] | None,
) -> dict[str, object]:
    values = np.asarray(coefficients, np.float32)
    if mask is not None:
        values = np.where(mask[None, :], values, np.float32(0.0))
    return summarize_unfolding([unfold_sequence(values, sequence, names)])


def _phases_dict(phases: PhaseTimes) -> dict[str, float | None]:
    end = phases.offset_end
    return {
        "onset_start_s": round(phases.onset_start, 4),
        "apex_start_s": round(phases.apex_start, 4),
        "offset_start_s": round(phases.offset_start, 4),
        "offset_end_s": None if end is None else round(end, 4),
    }


def evaluate_recording(
    sequence: DynamicSequence,
    models: dict[str, DynamicsModel],
    basis: RegionBasis,
    names: Sequence[str],
) -> dict[str, Any]:
    """How the recording unfolds, next to each model's and eased interpolation's for the same
    label and timing, and each one's per-frame error against it (mm, per phase).

    Without a label (``sequence.label == "neutral"``) only the recording's own phases and
    unfolding are reported.
    """
    result: dict[str, Any] = {
        "label": None if sequence.label == NEUTRAL else sequence.label,
        "frames": sequence.num_frames,
        "fps": sequence.fps,
        "phases": _phases_dict(sequence.phases),
        "intensity": round(sequence.intensity, 4),
        "peak_displacement_mm": round(
            float(recording_amplitude(sequence.weights, basis).max()) * 10.0, 4
        ),
    }  # fmt: skip
    if sequence.label == NEUTRAL:
        result["unfolding"] = {"recording": _unfolding(sequence.weights, sequence, names, None)}
        return result
    mask = label_shape_mask(sequence.label, names)
    result["unfolding_shapes"] = [name for name, keep in zip(names, mask, strict=True) if keep]
    result["unfolding"] = {"recording": _unfolding(sequence.weights, sequence, names, mask)}
    target = basis.deform(sequence.weights)
    eased = eased_sequence(sequence)
    candidates: dict[str, NDArray[np.float32]] = {"eased": basis.deform(eased)}
    coefficients: dict[str, NDArray[np.float32]] = {"eased": eased}
    for name, model in models.items():
        predicted = generate_deformation(model, sequence)
        candidates[name] = predicted
        coefficients[name] = basis.project(predicted, clip=False)
    errors: dict[str, Any] = {}
    for name, deformation in candidates.items():
        result["unfolding"][name] = _unfolding(coefficients[name], sequence, names, mask)
        table = ErrorTable()
        per_frame = np.linalg.norm(deformation - target, axis=-1).mean(axis=1) * 10.0
        table.add(sequence, per_frame.astype(np.float64))
        report = table.report()
        errors[name] = {key: report[key] for key in
                        ("vertex_error_mm", "vertex_error_mm_moving_frames", "per_phase_mm",
                         "per_phase_bins_mm")}  # fmt: skip
    result["vertex_error_mm"] = errors
    return result
