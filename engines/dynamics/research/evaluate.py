"""``facecast eval dynamics``: the paper's measures on the held-out identities.

For every test sequence (subjects never seen in training) both models generate the sequence
from its motion labels alone; against the ground truth:

- per-vertex Euclidean error (mm) over all frames, per expression and over the moving frames
  (the paper's Table 2: spiral 0.39 vs PCA 0.44 mm on 4DFAB);
- per-frame error through the phases (rest, onset, apex, offset; 10 bins of each of onset,
  apex and offset: the paper's Figure 5);
- F1 of the PCA-64 + 3 FC classifier (trained on the ground-truth training sequences) on the
  ground-truth and on the generated test sequences (the paper's Table 3: 0.68 for both);
- how the expressions unfold (:mod:`.unfolding`): spread and order of the half-change times
  of the most-moving shapes per expression, for the ground truth, both models and eased
  interpolation;
- what projecting a generated deformation onto the 53 expression shapes for the renderer
  changes: the part it drops (``projection_residual_mm``) and the error of what the renderer
  receives (``vertex_error_mm_projected``, over all frames like ``vertex_error_mm``); the
  plan-time cost is a ``facecast bench`` key, ``dynamics_segment_ms_p50``.

Shapes: T frames, V region vertices, E shapes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from engines.dynamics.labels import MOTION_LABELS, NEUTRAL
from engines.dynamics.model import DynamicsModel
from engines.dynamics.research.classifier import (
    ClassifierConfig,
    macro_f1,
    predict,
    resample,
    train_classifier,
)
from engines.dynamics.research.corpus import DynamicSequence, minjerk
from engines.dynamics.research.pipeline import Workspace
from engines.dynamics.research.unfolding import Unfolding, half_change_times, summarize_unfolding

__all__ = [
    "PAPER",
    "ErrorTable",
    "eased_sequence",
    "evaluate_dynamics",
    "generate_deformation",
    "unfold_sequence",
]

logger = logging.getLogger(__name__)

# Potamias et al. 2020 on 4DFAB (as issue 13 quotes them)
PAPER: dict[str, float] = {
    "spiral_vertex_error_mm": 0.39,
    "pca_vertex_error_mm": 0.44,
    "classification_f1_generated": 0.68,
    "classification_f1_ground_truth": 0.68,
}
PHASES = ("rest", "onset", "apex", "offset")
BINS = 10


def _phase_bins(sequence: DynamicSequence) -> tuple[list[str], NDArray[np.int64]]:
    """Per frame its phase and its bin (0..BINS-1) inside that phase (-1 for rest)."""
    names = sequence.phase_names()
    t = sequence.times
    p = sequence.phases
    bins = np.full(len(t), -1, np.int64)
    spans = {"onset": (p.onset_start, p.apex_start), "apex": (p.apex_start, p.offset_start),
             "offset": (p.offset_start, p.offset_end or p.offset_start)}  # fmt: skip
    for k, name in enumerate(names):
        if name in spans:
            a, b = spans[name]
            bins[k] = min(BINS - 1, int((t[k] - a) / max(b - a, 1e-9) * BINS))
    return names, bins


class ErrorTable:
    """Accumulates per-frame vertex errors (mm) by label, phase and phase bin."""

    def __init__(self) -> None:
        self.frames: list[float] = []
        self.by_label: dict[str, list[float]] = {}
        self.by_phase: dict[str, list[float]] = {name: [] for name in PHASES}
        self.by_bin: dict[str, list[list[float]]] = {
            name: [[] for _ in range(BINS)] for name in PHASES[1:]
        }

    def add(self, sequence: DynamicSequence, errors: NDArray[np.float64]) -> None:
        names, bins = _phase_bins(sequence)
        self.frames.extend(errors.tolist())
        self.by_label.setdefault(sequence.label, []).extend(errors.tolist())
        for error, name, b in zip(errors.tolist(), names, bins.tolist(), strict=True):
            self.by_phase[name].append(error)
            if b >= 0:
                self.by_bin[name][b].append(error)

    def report(self) -> dict[str, Any]:
        moving = self.by_phase["onset"] + self.by_phase["apex"] + self.by_phase["offset"]
        def mean(values: list[float]) -> float | None:
            return round(float(np.mean(values)), 4) if values else None

        return {
            "vertex_error_mm": mean(self.frames),
            "vertex_error_mm_moving_frames": mean(moving),
            "per_expression_mm": {k: mean(v) for k, v in sorted(self.by_label.items())},
            "per_phase_mm": {k: mean(v) for k, v in self.by_phase.items()},
            "per_phase_bins_mm": {k: [mean(b) for b in bins] for k, bins in self.by_bin.items()},
        }


def generate_deformation(model: DynamicsModel, sequence: DynamicSequence) -> NDArray[np.float32]:
    """(T, V, 3) deformation the model generates from the sequence's labels."""
    with torch.inference_mode():
        labels = torch.from_numpy(sequence.labels(tuple(model.config.labels)))[None]
        return model(labels)[0].numpy()


def unfold_sequence(
    coefficients: NDArray[np.floating], sequence: DynamicSequence, names: Sequence[str]
) -> Unfolding:
    """Half-change times of the (at most 8) shapes whose coefficient changes most."""
    return half_change_times(coefficients, sequence.times, sequence.phases, names, top=8)


def eased_sequence(sequence: DynamicSequence) -> NDArray[np.float32]:
    """(T, E) the eased interpolation of the sequence's apex (min-jerk onset / offset)."""
    p = sequence.phases
    t = sequence.times
    apex_frames = (t >= p.apex_start) & (t <= p.offset_start)
    apex = sequence.weights[apex_frames].mean(axis=0) if apex_frames.any() else sequence.weights[-1]
    rise = minjerk((t - p.onset_start) / p.onset_s)
    fall = 1.0 - minjerk((t - p.offset_start) / max(p.offset_s, 1e-9))
    return (np.minimum(rise, fall)[:, None] * apex[None, :]).astype(np.float32)


def _surprise_brows_first(summary: dict[str, Any]) -> bool | None:
    shares = summary.get("half_change_share", {})
    brows = [v for k, v in shares.items() if k.startswith("brow")]
    if not brows or "jawOpen" not in shares:
        return None
    return bool(np.mean(brows) < shares["jawOpen"])


def evaluate_dynamics(
    workspace: Workspace,
    models: dict[str, DynamicsModel],
    *,
    limit: int | None = None,
    classifier: ClassifierConfig | None = None,
) -> dict[str, Any]:
    """All measures for ``models`` ({"spiral": ..., "pca": ...}) on the test split.

    Args:
        limit: evaluate only the first ``limit`` test sequences (quick runs, tests).
    """
    started = time.perf_counter()
    corpus, basis, pca = workspace.corpus, workspace.basis, workspace.pca
    names = basis.expression_names
    test = corpus.test[:limit] if limit else corpus.test
    labels = MOTION_LABELS
    classifier_config = classifier or ClassifierConfig(classes=len(labels))

    size, frames = classifier_config.coefficients, classifier_config.frames

    def features(deformation: NDArray[np.floating]) -> NDArray[np.float32]:
        return resample(pca.coefficients(deformation, size), frames)

    def truth_features_of(sequence: DynamicSequence) -> NDArray[np.float32]:
        scaled = sequence.weights * sequence.face_scale
        return resample(pca.coefficients_of_weights(scaled, basis, size), frames)

    train_features = np.stack([truth_features_of(s) for s in corpus.train])
    train_labels = np.array([labels.index(s.label) for s in corpus.train], np.int64)
    judge = train_classifier(train_features, train_labels, classifier_config)
    truth = np.array([labels.index(s.label) for s in test], np.int64)

    tables = {name: ErrorTable() for name in models}
    residual: dict[str, list[float]] = {name: [] for name in models}
    projected_error: dict[str, list[float]] = {name: [] for name in models}
    generated_features: dict[str, list[NDArray[np.float32]]] = {name: [] for name in models}
    unfold: dict[str, dict[str, list[Unfolding]]] = {
        name: {} for name in ("ground_truth", "eased", *models)
    }
    truth_features = []
    for sequence in test:
        target = corpus.deformations(sequence, basis)
        truth_features.append(truth_features_of(sequence))
        moving = sequence.label != NEUTRAL
        if moving:
            unfold["ground_truth"].setdefault(sequence.label, []).append(
                unfold_sequence(sequence.weights, sequence, names))  # fmt: skip
            unfold["eased"].setdefault(sequence.label, []).append(
                unfold_sequence(eased_sequence(sequence), sequence, names))  # fmt: skip
        for name, model in models.items():
            predicted = generate_deformation(model, sequence)
            errors = np.linalg.norm(predicted - target, axis=-1).mean(axis=1) * 10.0
            tables[name].add(sequence, errors.astype(np.float64))
            generated_features[name].append(features(predicted))
            coefficients = basis.project(predicted, clip=False)
            rebuilt = basis.deform(coefficients)
            residual[name].append(float(np.linalg.norm(predicted - rebuilt, axis=-1).mean()) * 10)
            projected_error[name].extend(
                (np.linalg.norm(rebuilt - target, axis=-1).mean(axis=1) * 10.0).tolist()
            )
            if moving:
                unfold[name].setdefault(sequence.label, []).append(
                    unfold_sequence(coefficients, sequence, names))  # fmt: skip

    result: dict[str, Any] = {
        "paper": PAPER,
        "test_sequences": len(test),
        "test_subjects": len({s.subject for s in test}),
        "train_sequences": len(corpus.train),
        "pca_rank": pca.rank,
        "pca_explained_top8": [round(float(v), 4) for v in pca.explained[:8]],
        "classification": {
            "ground_truth": macro_f1(truth, predict(judge, np.stack(truth_features)), len(labels)),
        },
    }
    for name in models:
        block = tables[name].report()
        block["projection_residual_mm"] = round(float(np.mean(residual[name])), 4)
        # what the renderer receives: the deformation projected onto the 53 shapes
        block["vertex_error_mm_projected"] = round(float(np.mean(projected_error[name])), 4)
        result[name] = block
        result["classification"][name] = macro_f1(
            truth, predict(judge, np.stack(generated_features[name])), len(labels)
        )
    result["unfolding"] = {
        source: {label: summarize_unfolding(items) for label, items in sorted(per.items())}
        for source, per in unfold.items()
    }
    result["surprise_brows_before_jaw"] = {
        source: _surprise_brows_first(per.get("surprise", {}))
        for source, per in result["unfolding"].items()
    }
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result
