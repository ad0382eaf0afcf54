"""Fine-tuning a trained dynamics model on a person's own recordings (``facecast train
dynamics --fine-tune seq.npz --label LABEL``).

The recordings (:mod:`.recording`: changes from their rest face, with the phases found in
their amplitude curve and their label's intensity) are mixed with a replay of the corpus'
training sequences, so that the model learns how this person performs the label without
forgetting the others: each recording is repeated until the recordings make up
``recording_share`` of the sequences the batches are drawn from. Training is the corpus
training loop itself (:func:`.train.train_dynamics`: L1 + temporal coherence, Adam with a
short warm-up and a cosine decay), started from the checkpoint's weights at a lower rate.

Reported before and after: the per-vertex error against every recording (mm, all frames and
the moving ones) and on the first ``heldout`` held-out corpus sequences (forgetting).

Shapes: T frames, V region vertices.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from engines.dynamics.model import DynamicsModel, PCADecoder, build_model
from engines.dynamics.research.corpus import DynamicSequence
from engines.dynamics.research.data import region_shapes, to_tensors
from engines.dynamics.research.evaluate import ErrorTable, generate_deformation
from engines.dynamics.research.pipeline import Workspace, heldout_error_mm
from engines.dynamics.research.train import TrainConfig, train_dynamics

__all__ = ["FineTuneConfig", "FineTuneResult", "fine_tune", "recording_error_mm"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FineTuneConfig:
    """Attributes:
    steps: Adam steps.
    lr: peak learning rate (the corpus training's is 2e-3).
    recording_share: share of the sequences drawn that are the recordings.
    replay: corpus training sequences replayed (evenly spaced over the split, all labels).
    batch_size, pairs, temporal_weight: as in :class:`.train.TrainConfig`.
    seed: batch order.
    threads: torch threads.
    heldout: held-out corpus sequences the forgetting is measured on.
    progress: show a progress bar.
    """

    steps: int = 300
    lr: float = 5e-4
    recording_share: float = 0.5
    replay: int = 96
    batch_size: int = 16
    pairs: int = 4
    temporal_weight: float = 2.0
    seed: int = 0
    threads: int = 1
    heldout: int = 64
    progress: bool = True

    def __post_init__(self) -> None:
        if self.steps < 1 or self.replay < 1 or self.heldout < 1:
            raise ValueError("steps, replay and heldout must be >= 1")
        if not 0.0 < self.recording_share < 1.0:
            raise ValueError("recording_share must be in (0, 1)")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError("lr must be > 0")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FineTuneResult:
    """The fine-tuned model (eval mode) and its metrics (before / after)."""

    model: DynamicsModel
    metrics: dict[str, Any]


def recording_error_mm(
    model: DynamicsModel, recordings: Sequence[DynamicSequence], workspace: Workspace
) -> dict[str, float | None]:
    """Per-vertex error (mm) of what ``model`` generates from each recording's labels against
    the recording: over all frames and over the moving ones (onset, apex, offset)."""
    table = ErrorTable()
    for sequence in recordings:
        predicted = generate_deformation(model, sequence)
        target = workspace.basis.deform(sequence.weights)
        table.add(sequence, np.linalg.norm(predicted - target, axis=-1).mean(axis=1) * 10.0)
    report = table.report()
    return {"all_frames": report["vertex_error_mm"],
            "moving_frames": report["vertex_error_mm_moving_frames"]}  # fmt: skip


def _copy_model(model: DynamicsModel, workspace: Workspace) -> DynamicsModel:
    """A new model with ``model``'s weights (the hierarchy's sparse buffers cannot be
    deep-copied; they are shared, like the PCA basis)."""
    tuned = build_model(model.config, workspace.hierarchy)
    tuned.load_state_dict(model.state_dict())
    if isinstance(tuned.decoder, PCADecoder):
        tuned.decoder.set_basis(*workspace.pca.decoder_tensors())
    return tuned


def fine_tune(
    model: DynamicsModel,
    workspace: Workspace,
    recordings: Sequence[DynamicSequence],
    config: FineTuneConfig | None = None,
) -> FineTuneResult:
    """Fine-tune a copy of ``model`` (``model`` itself is not changed) on ``recordings`` plus
    corpus replay.

    Raises:
        ValueError: no recordings, or a recording without a label.
    """
    config = config or FineTuneConfig()
    if not recordings:
        raise ValueError("fine-tuning needs at least one recording")
    if any(sequence.intensity <= 0 for sequence in recordings):
        raise ValueError("every recording needs a label (its motion labels are the input)")
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    train = workspace.corpus.train
    picks = np.linspace(0, len(train) - 1, min(config.replay, len(train))).round().astype(int)
    replay = [train[int(i)] for i in np.unique(picks)]
    repeats = max(1, round(config.recording_share / (1.0 - config.recording_share)
                           * len(replay) / len(recordings)))  # fmt: skip
    data = to_tensors([*replay, *(list(recordings) * repeats)], tuple(model.config.labels))

    def measure(candidate: DynamicsModel) -> dict[str, Any]:
        heldout = heldout_error_mm(candidate, workspace, config.heldout)
        return {"recording_mm": recording_error_mm(candidate, recordings, workspace),
                "heldout_mm": round(heldout, 4)}  # fmt: skip

    before = measure(model)
    tuned = _copy_model(model, workspace)
    train_config = TrainConfig(
        steps=config.steps, batch_size=config.batch_size, pairs=config.pairs, lr=config.lr,
        temporal_weight=config.temporal_weight, seed=config.seed, threads=config.threads,
        progress=config.progress,
    )  # fmt: skip
    result = train_dynamics(tuned, data, region_shapes(workspace.basis), train_config)
    after = measure(result.model)
    metrics: dict[str, Any] = {
        "before": before,
        "after": after,
        "recordings": len(recordings),
        "recording_repeats": repeats,
        "replay_sequences": len(replay),
        "seconds": round(result.seconds, 1),
        "steps_done": result.steps_done,
        "fine_tune": config.to_dict(),
        "history": [(step, round(loss * 10.0, 4))
                    for step, loss in result.history[:: max(1, len(result.history) // 50)]],
    }  # fmt: skip
    logger.info("fine-tuned %s: recording %s -> %s mm, held-out %.4f -> %.4f mm",
                model.config.decoder, before["recording_mm"]["all_frames"],
                after["recording_mm"]["all_frames"], before["heldout_mm"],
                after["heldout_mm"])  # fmt: skip
    return FineTuneResult(result.model, metrics)
