"""Checkpoints: ``<name>.pt`` (config + float32 weights) beside ``<name>.json`` (metrics and the
exact command that made it)."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import torch

from engines.i2fet.classifier import ExpressionClassifier
from engines.i2fet.config import ClassifierConfig, I2FETConfig, NEDConfig
from engines.i2fet.exceptions import CheckpointError
from engines.i2fet.model import I2FET, PooledBaseline, build_model
from engines.i2fet.ned import NED

__all__ = [
    "CHECKPOINT_DIR",
    "CHECKPOINT_VERSION",
    "load_classifier",
    "load_i2fet",
    "load_ned",
    "save_checkpoint",
]

logger = logging.getLogger(__name__)

CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"
CHECKPOINT_VERSION = 1


def save_checkpoint(
    path: Path,
    kind: str,
    config: dict[str, Any],
    module: torch.nn.Module,
    metrics: dict[str, Any],
    command: str,
) -> Path:
    """Write ``path`` (.pt) and ``path.with_suffix('.json')``; returns the .pt path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {name: tensor.detach().clone() for name, tensor in module.state_dict().items()}
    payload = {"version": CHECKPOINT_VERSION, "kind": kind, "config": config, "state_dict": state}
    partial = path.with_name(path.name + ".part")
    torch.save(payload, partial)
    partial.replace(path)
    sidecar = {
        "kind": kind,
        "command": command,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "bytes": path.stat().st_size,
        "parameters": sum(t.numel() for t in state.values()),
        "config": config,
        "metrics": metrics,
    }
    path.with_suffix(".json").write_text(json.dumps(sidecar, indent=2, sort_keys=True) + "\n")
    logger.info("saved %s checkpoint %s (%.1f MB)", kind, path, path.stat().st_size / 1e6)
    return path


def _read(path: Path, kind: str) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"{kind} checkpoint not found: {path} (train it with `facecast train {kind}`)"
        )
    try:
        payload: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for corrupt files
        raise CheckpointError(f"cannot read {kind} checkpoint {path}: {error}") from error
    if payload.get("kind") != kind:
        raise CheckpointError(f"{path} holds a {payload.get('kind')!r} checkpoint, not {kind!r}")
    if payload.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"{path}: checkpoint version {payload.get('version')} unsupported")
    return payload


def _restore(module: torch.nn.Module, payload: dict[str, Any], path: Path) -> None:
    try:
        module.load_state_dict(payload["state_dict"])
    except RuntimeError as error:
        raise CheckpointError(f"{path} does not match its config: {error}") from error
    module.eval()


def load_i2fet(path: Path) -> I2FET | PooledBaseline:
    payload = _read(path, "i2fet")
    model = build_model(I2FETConfig.from_dict(payload["config"]))
    _restore(model, payload, path)
    return model


def load_ned(path: Path) -> NED:
    payload = _read(path, "ned")
    model = NED(NEDConfig(**payload["config"]))
    _restore(model, payload, path)
    return model


def load_classifier(path: Path) -> ExpressionClassifier:
    payload = _read(path, "classifier")
    config = dict(payload["config"])
    config["labels"] = tuple(config["labels"])
    model = ExpressionClassifier(ClassifierConfig(**config))
    _restore(model, payload, path)
    return model
