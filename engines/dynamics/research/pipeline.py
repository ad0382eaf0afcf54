"""The research pipeline: face model -> hierarchy -> corpus -> train -> checkpoint, and
loading a checkpoint with everything it does not store recomputed from the user's model.

Both checkpoints record the corpus config they were trained on (``extra["corpus"]``): the
PCA baseline's basis is the PCA of that corpus' training deformations, recomputed here at
load time (it is derived from the ICT shapes, so it is never saved).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engines.dynamics.checkpoint import load_dynamics, read_config, save_dynamics
from engines.dynamics.config import DynamicsModelConfig, HierarchyConfig
from engines.dynamics.exceptions import CheckpointError
from engines.dynamics.hierarchy import MeshHierarchy, load_hierarchy
from engines.dynamics.model import DynamicsModel, PCADecoder, build_model
from engines.dynamics.projection import RegionBasis
from engines.dynamics.research.corpus import DynamicsCorpus, DynamicsCorpusConfig, generate_corpus
from engines.dynamics.research.data import region_shapes, to_tensors
from engines.dynamics.research.pca import DeformationPCA, corpus_pca
from engines.dynamics.research.train import TrainConfig, train_dynamics
from engines.face_model.ict import FaceModelData

__all__ = [
    "Workspace",
    "corpus_config_from",
    "heldout_error_mm",
    "load_research_model",
    "prepare",
    "train_and_save",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Workspace:
    """Everything derived from the face model that training and evaluation share."""

    face_model: FaceModelData
    hierarchy: MeshHierarchy
    basis: RegionBasis
    corpus: DynamicsCorpus
    pca: DeformationPCA


def prepare(
    face_model: FaceModelData,
    corpus_config: DynamicsCorpusConfig | None = None,
    hierarchy_config: HierarchyConfig | None = None,
) -> Workspace:
    """Hierarchy (cached), region basis, corpus and the PCA of its training split."""
    hierarchy = load_hierarchy(face_model, hierarchy_config)
    basis = RegionBasis(face_model, hierarchy.region_vertices)
    corpus = generate_corpus(face_model, basis, corpus_config)
    return Workspace(face_model, hierarchy, basis, corpus, corpus_pca(corpus.train, basis))


def corpus_config_from(extra: dict[str, Any]) -> DynamicsCorpusConfig:
    """The corpus config stored in a checkpoint's ``extra`` block."""
    try:
        values = dict(extra["corpus"])
        for key in ("intensities", "lead_s", "tail_s", "tempo_range"):
            values[key] = tuple(values[key])
        return DynamicsCorpusConfig(**values)
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"the checkpoint does not record its corpus: {error}") from error


def heldout_error_mm(model: DynamicsModel, workspace: Workspace, limit: int = 64) -> float:
    """Mean per-vertex error (mm) on the first ``limit`` test sequences (a quick check)."""
    errors = []
    with torch.inference_mode():
        for sequence in workspace.corpus.test[:limit]:
            labels = torch.from_numpy(sequence.labels(model.config.labels))[None]
            predicted = model(labels)[0].numpy()
            target = workspace.corpus.deformations(sequence, workspace.basis)
            errors.append(np.linalg.norm(predicted - target, axis=-1).mean())
    return float(np.mean(errors) * 10.0)


def train_and_save(
    workspace: Workspace,
    decoder: str,
    train_config: TrainConfig,
    path: Path | None,
    command: str,
    model_overrides: dict[str, Any] | None = None,
) -> tuple[DynamicsModel, dict[str, Any]]:
    """Train one decoder on the workspace's training split; save it when ``path`` is given.

    Returns:
        the model and its metrics (also in the checkpoint's JSON).
    """
    config = DynamicsModelConfig(
        decoder=decoder,
        fps=workspace.corpus.config.fps,
        hierarchy=workspace.hierarchy.config,
        hierarchy_fingerprint=workspace.hierarchy.fingerprint,
        pca_rank=workspace.pca.rank,
        **(model_overrides or {}),
    )
    torch.manual_seed(train_config.seed)
    model = build_model(config, workspace.hierarchy)
    if isinstance(model.decoder, PCADecoder):
        model.decoder.set_basis(*workspace.pca.decoder_tensors())
    data = to_tensors(workspace.corpus.train, config.labels)
    result = train_dynamics(model, data, region_shapes(workspace.basis), train_config)
    metrics: dict[str, Any] = {
        "seconds": round(result.seconds, 1),
        "steps_done": result.steps_done,
        "final_train_mm": {k: round(v * 10.0, 4) for k, v in result.final.items()},
        "test_vertex_error_mm_first64": round(heldout_error_mm(model, workspace), 4),
        "pca_rank": workspace.pca.rank,
        "train": train_config.to_dict(),
        "history": [(step, round(loss * 10.0, 4))
                    for step, loss in result.history[:: max(1, len(result.history) // 100)]],
    }
    if path is not None:
        extra = {"corpus": _jsonable(asdict(workspace.corpus.config))}
        save_dynamics(path, model, metrics, command, extra)
    return model, metrics


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


def load_research_model(
    path: Path, face_model: FaceModelData, workspace: Workspace | None = None
) -> tuple[DynamicsModel, Workspace]:
    """A checkpoint with its corpus (and for the PCA baseline, its basis) recomputed.

    ``workspace``: reuse one already prepared for the same corpus config.

    Raises:
        CheckpointError: missing, unreadable, another hierarchy, or no corpus recorded.
    """
    started = time.perf_counter()
    config, extra = read_config(path)
    corpus_config = corpus_config_from(extra)
    if workspace is None or workspace.corpus.config != corpus_config:
        workspace = prepare(face_model, corpus_config, config.hierarchy)
    model, _ = load_dynamics(path, workspace.hierarchy)
    if isinstance(model.decoder, PCADecoder):
        if workspace.pca.rank != config.pca_rank:
            raise CheckpointError(
                f"{path}: the recomputed PCA has rank {workspace.pca.rank}, the checkpoint was "
                f"trained with {config.pca_rank}"
            )
        model.decoder.set_basis(*workspace.pca.decoder_tensors())
    logger.info("loaded %s (%s) in %.1f s", path.name, config.decoder,
                time.perf_counter() - started)  # fmt: skip
    return model, workspace


def describe(model: DynamicsModel) -> dict[str, Any]:
    """Sizes for reports."""
    config: DynamicsModelConfig = model.config
    return {
        "decoder": config.decoder,
        "parameters": sum(p.numel() for p in model.parameters()),
        "latent": config.latent,
        "channels": list(config.channels),
        "linear_levels": config.linear_levels,
    }
