"""High-level training / evaluation steps shared by ``facecast train`` and ``facecast eval``:
corpus → tensors, the vertex Gram matrix from the ICT model, train + save + metrics."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from engines.i2fet.checkpoint import (
    CHECKPOINT_DIR,
    load_classifier,
    save_checkpoint,
)
from engines.i2fet.classifier import ExpressionClassifier
from engines.i2fet.config import ClassifierConfig, I2FETConfig, NEDConfig, TrainConfig
from engines.i2fet.data import InstructionTensors, samples_to_tensors
from engines.i2fet.evaluate import classifier_accuracy, evaluate_model
from engines.i2fet.losses import vertex_gram
from engines.i2fet.model import I2FET, PooledBaseline
from engines.i2fet.ned import NED
from engines.i2fet.train import (
    count_parameters,
    ned_pairs,
    train_classifier,
    train_i2fet,
    train_ned,
)
from engines.text import TextEncoder

__all__ = [
    "SPLITS",
    "DataConfig",
    "evaluate_ned",
    "load_data",
    "load_gram",
    "run_classifier",
    "run_i2fet",
    "run_ned",
]

logger = logging.getLogger(__name__)

SPLITS: tuple[str, ...] = ("train", "val", "test", "heldout")


@dataclass(frozen=True)
class DataConfig:
    """Which corpus to generate (``engines.instructions.CorpusConfig`` sizes and seed)."""

    corpus_seed: int = 0
    num_train: int = 30_000
    num_eval: int = 2_000
    max_anchors: int = 4

    def __post_init__(self) -> None:
        if self.num_train < 1 or self.num_eval < 1:
            raise ValueError("num_train and num_eval must be >= 1")


def load_data(config: DataConfig) -> tuple[tuple[str, ...], dict[str, InstructionTensors]]:
    """Generate the corpus; returns the emotion labels and every split as tensors."""
    from engines.instructions import EMOTIONS, CorpusConfig, generate_corpus

    started = time.perf_counter()
    corpus = generate_corpus(
        CorpusConfig(
            seed=config.corpus_seed,
            num_train=config.num_train,
            num_val=config.num_eval,
            num_test=config.num_eval,
            num_heldout=config.num_eval,
        )
    )
    labels = tuple(EMOTIONS)
    data = {
        name: samples_to_tensors(corpus.split(name), labels, config.max_anchors) for name in SPLITS
    }
    logger.info(
        "corpus: %s in %.1f s",
        ", ".join(f"{k}={len(v)}" for k, v in data.items()),
        time.perf_counter() - started,
    )
    return labels, data


def load_gram(vertex_count: int, seed: int = 0) -> torch.Tensor:
    """The (53, 53) vertex-loss Gram matrix on ``vertex_count`` ICT face vertices.

    Raises:
        engines.face_model.FaceModelError: the ICT model is not available (no download here).
    """
    from engines.face_model.ict import load_ict

    model = load_ict(allow_download=False)
    return vertex_gram(model.expression_basis, model.vertex_ranges["face"], vertex_count, seed)


def run_classifier(
    data: dict[str, InstructionTensors],
    labels: Sequence[str],
    train_config: TrainConfig,
    out: Path | None,
    command: str,
    hidden: int = 128,
) -> tuple[ExpressionClassifier, dict[str, Any]]:
    """Train the judge on the train anchors; metrics = accuracy on every split's anchors."""
    config = ClassifierConfig(labels=tuple(labels), hidden=hidden)
    result = train_classifier(data["train"], config, train_config)
    classifier = result.model
    if not isinstance(classifier, ExpressionClassifier):
        raise TypeError("trainer returned the wrong module")
    metrics: dict[str, Any] = {
        f"accuracy_{name}": round(classifier_accuracy(classifier, split), 4)
        for name, split in data.items()
    }
    metrics.update(
        seconds=round(result.seconds, 1),
        steps=train_config.steps,
        training="MLP 53→128→128→L (SiLU, dropout 0.1), Adam, cross-entropy on every ground-truth"
        " anchor of the train split",
    )
    if out is not None:
        cfg = {"labels": list(labels), "hidden": config.hidden, "layers": config.layers,
               "dropout": config.dropout}  # fmt: skip
        save_checkpoint(out, "classifier", cfg, classifier, metrics, command)
    return classifier, metrics


def evaluate_ned(ned: NED, data: InstructionTensors) -> dict[str, float]:
    """Mean absolute error of NED's neutral (expression, pose in degrees) on a split."""
    expression, pose, neutral_expression, neutral_pose = ned_pairs(data)
    with torch.inference_mode():
        pred_e, pred_p = ned(expression, pose)
    return {
        "neutral_expression_mae": round(float((pred_e - neutral_expression).abs().mean()), 5),
        "neutral_pose_mae_deg": round(
            float(torch.rad2deg((pred_p - neutral_pose).abs()).mean()), 4
        ),
        "baseline_zero_expression_mae": round(float(neutral_expression.abs().mean()), 5),
        "baseline_zero_pose_mae_deg": round(float(torch.rad2deg(neutral_pose.abs()).mean()), 4),
    }


def run_ned(
    data: dict[str, InstructionTensors],
    train_config: TrainConfig,
    out: Path | None,
    command: str,
    config: NEDConfig | None = None,
) -> tuple[NED, dict[str, Any]]:
    """Train NED; metrics on val / test / heldout."""
    config = config or NEDConfig()
    result = train_ned(data["train"], config, train_config)
    ned = result.model
    if not isinstance(ned, NED):
        raise TypeError("trainer returned the wrong module")
    metrics: dict[str, Any] = {
        name: evaluate_ned(ned, data[name]) for name in ("val", "test", "heldout")
    }
    metrics.update(seconds=round(result.seconds, 1), steps=train_config.steps)
    if out is not None:
        cfg = {"hidden": config.hidden, "latent": config.latent, "max_pose": config.max_pose}
        save_checkpoint(out, "ned", cfg, ned, metrics, command)
    return ned, metrics


def run_i2fet(
    data: dict[str, InstructionTensors],
    encoder: TextEncoder,
    model_config: I2FETConfig,
    train_config: TrainConfig,
    gram: torch.Tensor | None,
    classifier: ExpressionClassifier | None,
    out: Path | None,
    command: str,
    eval_splits: Sequence[str] = ("val", "test", "heldout"),
    eval_gram: torch.Tensor | None = None,
) -> tuple[I2FET | PooledBaseline, dict[str, Any]]:
    """Train one I2FET variant and evaluate it (judged by ``classifier`` when given).

    ``gram`` enables the vertex loss; ``eval_gram`` (default ``gram``) the vertex error metric.
    """
    eval_gram = gram if eval_gram is None else eval_gram
    result = train_i2fet(data["train"], encoder, model_config, train_config, gram)
    model = result.model
    if not isinstance(model, I2FET | PooledBaseline):
        raise TypeError("trainer returned the wrong module")
    metrics: dict[str, Any] = {
        "seconds": round(result.seconds, 1),
        "steps": train_config.steps,
        "parameters": count_parameters(model),
        "final_losses": {k: round(v, 5) for k, v in result.extra.get("final", {}).items()},
    }
    if classifier is not None:
        for name in eval_splits:
            metrics[name] = evaluate_model(
                model, encoder, classifier, data[name], model_config.labels,
                grounded=model_config.grounding, gram=eval_gram,
            )  # fmt: skip
            if model_config.grounding:
                metrics[f"{name}_text_only"] = evaluate_model(
                    model, encoder, classifier, data[name], model_config.labels, gram=eval_gram
                )
                if name == "heldout":  # the honest figure: training vocabulary (+ WordNet)
                    metrics[f"{name}_train_vocab"] = evaluate_model(
                        model, encoder, classifier, data[name], model_config.labels,
                        grounded=True, gram=eval_gram, vocabulary="train",
                    )  # fmt: skip
    if out is not None:
        save_checkpoint(out, "i2fet", model_config.to_dict(), model, metrics, command)
    return model, metrics


def default_classifier(checkpoint_dir: Path = CHECKPOINT_DIR) -> ExpressionClassifier | None:
    """The committed judge, or None when it has not been trained yet."""
    path = checkpoint_dir / "classifier.pt"
    return load_classifier(path) if path.is_file() else None
