"""Dynamics checkpoints: ``<name>.pt`` (config + learned float32 weights) beside
``<name>.json`` (metrics and the exact command that made it).

What a checkpoint holds, and what it does not: the LSTM, the read-out, the fully connected
layer and the spiral filters (learned weights). The mesh hierarchy (spirals, up-sampling),
the PCA basis of the baseline and anything else computed from the ICT model are
non-persistent buffers: they are rebuilt from the user's own face model when the checkpoint
is loaded, and the recorded ``hierarchy_fingerprint`` (a hash, no geometry) makes sure it is
the same hierarchy the weights were trained on.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import torch

from engines.dynamics.config import DynamicsModelConfig
from engines.dynamics.exceptions import CheckpointError
from engines.dynamics.hierarchy import MeshHierarchy
from engines.dynamics.model import DynamicsModel, build_model

__all__ = [
    "CHECKPOINT_DIR",
    "CHECKPOINT_KIND",
    "CHECKPOINT_VERSION",
    "default_checkpoint",
    "load_dynamics",
    "read_config",
    "save_dynamics",
]

logger = logging.getLogger(__name__)

CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"
CHECKPOINT_KIND = "dynamics"
CHECKPOINT_VERSION = 1


def default_checkpoint(decoder: str = "spiral") -> Path:
    """The committed checkpoint of ``decoder`` ("spiral" or "pca")."""
    return CHECKPOINT_DIR / f"dynamics_{decoder}.pt"


def save_dynamics(
    path: Path, model: DynamicsModel, metrics: dict[str, Any], command: str,
    extra: dict[str, Any] | None = None,
) -> Path:  # fmt: skip
    """Write ``path`` (.pt) and ``path.with_suffix('.json')``; returns the .pt path.

    ``extra`` (JSON-able) is stored in both, e.g. the corpus config the PCA basis is
    recomputed from.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}
    payload = {
        "version": CHECKPOINT_VERSION,
        "kind": CHECKPOINT_KIND,
        "config": model.config.to_dict(),
        "extra": extra or {},
        "state_dict": state,
    }
    partial = path.with_name(path.name + ".part")
    torch.save(payload, partial)
    partial.replace(path)
    sidecar = {
        "kind": CHECKPOINT_KIND,
        "decoder": model.config.decoder,
        "command": command,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "bytes": path.stat().st_size,
        "parameters": sum(t.numel() for t in state.values()),
        "config": model.config.to_dict(),
        "extra": extra or {},
        "metrics": metrics,
    }
    path.with_suffix(".json").write_text(json.dumps(sidecar, indent=2, sort_keys=True) + "\n")
    logger.info("saved dynamics checkpoint %s (%.2f MB)", path, path.stat().st_size / 1e6)
    return path


def _read(path: Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"dynamics checkpoint not found: {path} (train it with `facecast train dynamics`)"
        )
    try:
        payload: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for corrupt files
        raise CheckpointError(f"cannot read dynamics checkpoint {path}: {error}") from error
    if not isinstance(payload, dict) or payload.get("kind") != CHECKPOINT_KIND:
        raise CheckpointError(f"{path} is not a dynamics checkpoint")
    if payload.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"{path}: checkpoint version {payload.get('version')} unsupported")
    return payload


def read_config(path: Path) -> tuple[DynamicsModelConfig, dict[str, Any]]:
    """The model config and the ``extra`` block of a checkpoint, without building it."""
    payload = _read(path)
    try:
        return DynamicsModelConfig.from_dict(payload["config"]), dict(payload.get("extra", {}))
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: bad config: {error}") from error


def load_dynamics(path: Path, hierarchy: MeshHierarchy) -> tuple[DynamicsModel, dict[str, Any]]:
    """The model of ``path`` on ``hierarchy`` (eval mode) and its ``extra`` block.

    Raises:
        CheckpointError: missing, unreadable, or trained on another mesh hierarchy.
    """
    payload = _read(path)
    config, extra = read_config(path)
    if config.hierarchy_fingerprint != hierarchy.fingerprint:
        raise CheckpointError(
            f"{path} was trained on another mesh hierarchy (fingerprint "
            f"{config.hierarchy_fingerprint[:12]} != {hierarchy.fingerprint[:12]} of this face "
            "model); retrain it with `facecast train dynamics`"
        )
    try:
        model = build_model(config, hierarchy)
        model.load_state_dict(payload["state_dict"])
    except (RuntimeError, ValueError, KeyError) as error:
        raise CheckpointError(f"{path} does not match its config: {error}") from error
    model.eval()
    return model, extra
