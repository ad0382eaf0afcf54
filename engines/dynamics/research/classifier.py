"""The paper's expression classifier for generated sequences: per-frame PCA-64 coefficients of
the deformation, concatenated over the sequence (resampled to a fixed number of frames),
three fully connected layers. Trained on the ground-truth training sequences; F1 of its
predictions on ground-truth and on generated test sequences tells whether a generated
sequence reads as its label.

Shapes: N sequences, F fixed frames, Z = 64 coefficients, L labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn
from torch.nn import functional as F

__all__ = [
    "ClassifierConfig",
    "SequenceClassifier",
    "macro_f1",
    "predict",
    "resample",
    "train_classifier",
]


@dataclass(frozen=True)
class ClassifierConfig:
    """Attributes: frames (F), coefficients (Z), hidden widths, classes, and training: Adam
    steps on mini-batches of ``batch_size`` sequences, ``lr``, ``seed``."""

    frames: int = 32
    coefficients: int = 64
    hidden: tuple[int, int] = (256, 128)
    classes: int = 8
    steps: int = 300
    batch_size: int = 64
    lr: float = 1e-3
    seed: int = 0


class SequenceClassifier(nn.Module):
    """(N, F, Z) -> (N, L) logits: three fully connected layers on the flattened sequence."""

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        self.config = config
        first, second = config.hidden
        self.layers = nn.Sequential(
            nn.Linear(config.frames * config.coefficients, first), nn.ReLU(),
            nn.Linear(first, second), nn.ReLU(),
            nn.Linear(second, config.classes),
        )  # fmt: skip

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.layers(features.reshape(features.shape[0], -1))
        return out


def resample(features: NDArray[np.floating], frames: int) -> NDArray[np.float32]:
    """(T, Z) per-frame features -> (frames, Z), linear in time over the whole sequence."""
    array = np.asarray(features, np.float64)
    source = np.linspace(0.0, 1.0, len(array))
    target = np.linspace(0.0, 1.0, frames)
    return np.stack([np.interp(target, source, array[:, z]) for z in range(array.shape[1])],
                    axis=1).astype(np.float32)  # fmt: skip


def train_classifier(
    features: NDArray[np.float32], labels: NDArray[np.int64], config: ClassifierConfig
) -> SequenceClassifier:
    """Train on (N, F, Z) features and (N,) label indices (Adam, fixed seed)."""
    generator = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    model = SequenceClassifier(config)
    x = torch.from_numpy(features)
    scale = x.std().clamp_min(1e-6)
    model.register_buffer("scale", scale)
    y = torch.from_numpy(labels)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=1e-4)
    model.train()
    for _ in range(config.steps):
        rows = torch.randint(len(x), (min(config.batch_size, len(x)),), generator=generator)
        loss = F.cross_entropy(model(x[rows] / scale), y[rows])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    model.eval()
    return model


def predict(model: SequenceClassifier, features: NDArray[np.float32]) -> NDArray[np.int64]:
    """(N,) predicted label indices."""
    with torch.inference_mode():
        scale = getattr(model, "scale", torch.tensor(1.0))
        logits = model(torch.from_numpy(features) / scale)
    return logits.argmax(dim=1).numpy().astype(np.int64)


def macro_f1(
    truth: NDArray[np.int64], predicted: NDArray[np.int64], classes: int
) -> dict[str, object]:
    """Macro F1 over the classes present in ``truth``, and per-class F1."""
    per_class: list[float] = []
    for k in range(classes):
        if not (truth == k).any():
            continue
        tp = float(((predicted == k) & (truth == k)).sum())
        fp = float(((predicted == k) & (truth != k)).sum())
        fn = float(((predicted != k) & (truth == k)).sum())
        per_class.append(2 * tp / max(2 * tp + fp + fn, 1e-12))
    return {
        "macro_f1": round(float(np.mean(per_class)), 4),
        "per_class_f1": [round(v, 4) for v in per_class],
        "accuracy": round(float((truth == predicted).mean()), 4),
    }
