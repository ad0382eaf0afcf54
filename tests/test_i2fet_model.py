"""engines.i2fet models, losses and training on a tiny synthetic corpus (no corpus needed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch

from engines.i2fet.classifier import ExpressionClassifier
from engines.i2fet.config import ClassifierConfig, I2FETConfig, NEDConfig, TrainConfig
from engines.i2fet.data import InstructionTensors, samples_to_tensors
from engines.i2fet.exceptions import TrainingDataError
from engines.i2fet.losses import VertexLoss, vertex_gram
from engines.i2fet.model import build_model
from engines.i2fet.ned import NED
from engines.i2fet.train import train_classifier, train_i2fet, train_ned

LABELS = ("neutral", "happiness", "sadness", "anger")
WORDS = {"neutral": "calm", "happiness": "happy", "sadness": "sad", "anger": "angry"}


@dataclass
class FakeSample:
    text: str
    labels: tuple[str, ...]
    intensities: tuple[float, ...]
    expressions: np.ndarray
    poses: np.ndarray
    neutral_expression: np.ndarray
    neutral_pose: np.ndarray
    source_expression: np.ndarray
    subject_id: int


def fake_samples(n: int, seed: int = 0) -> list[FakeSample]:
    rng = np.random.default_rng(seed)
    prototypes = {label: np.zeros(53, np.float32) for label in LABELS}
    for i, label in enumerate(LABELS[1:]):
        prototypes[label][i * 10 : i * 10 + 6] = 0.8
    out = []
    for _ in range(n):
        count = int(rng.integers(1, 4))
        labels = tuple(str(x) for x in rng.choice(LABELS, size=count, replace=False))
        intensities = tuple(float(x) for x in rng.uniform(0.4, 1.0, count))
        neutral = rng.uniform(0, 0.05, 53).astype(np.float32)
        expressions = np.stack(
            [
                np.clip(neutral + s * prototypes[lab], 0, 1)
                for lab, s in zip(labels, intensities, strict=True)
            ]
        ).astype(np.float32)
        words = [WORDS[lab] for lab in labels]
        text = "look " + words[0] if count == 1 else "from " + " to ".join(words)
        out.append(
            FakeSample(
                text=text,
                labels=labels,
                intensities=intensities,
                expressions=expressions,
                poses=rng.normal(0, 0.05, (count, 3)).astype(np.float32),
                neutral_expression=neutral,
                neutral_pose=np.zeros(3, np.float32),
                source_expression=neutral,
                subject_id=int(rng.integers(0, 5)),
            )
        )
    return out


@pytest.fixture(scope="module")
def tiny_data() -> InstructionTensors:
    return samples_to_tensors(fake_samples(96), LABELS, 4)


@pytest.fixture(scope="module")
def encoder():
    from engines.text import get_encoder

    return get_encoder("wordllama")


TINY: dict[str, Any] = dict(
    model_dim=32, num_heads=2, hidden=64, expression_latent=4, pose_latent=2
)


@pytest.mark.parametrize("mode", ["ifed", "no_ifed", "baseline"])
def test_shapes(mode: str) -> None:
    model = build_model(I2FETConfig(labels=LABELS, mode=mode, **TINY))
    text, mask = torch.randn(3, 7, 256), torch.ones(3, 7, dtype=torch.bool)
    mask[1, 4:] = False
    source, pose = torch.rand(3, 53), torch.zeros(3, 3)
    train_out = model(text, mask, source, pose, torch.rand(3, 4, 53), torch.zeros(3, 4, 3))
    assert train_out.expressions.shape == (3, 4, 53)
    assert train_out.prior_expressions is not None
    model.eval()
    with torch.inference_mode():
        out = model(text, mask, source, pose)
    assert out.expressions.shape == (3, 4, 53) and out.poses.shape == (3, 4, 3)
    assert out.label_logits.shape == (3, 4, len(LABELS)) and out.count_logits.shape == (3, 4)
    assert out.intensities.shape == (3, 4) and out.prior_expressions is None
    assert float(out.expressions.min()) >= 0 and float(out.expressions.max()) <= 1
    assert float(out.poses.abs().max()) <= 0.6


def test_word_order_reaches_the_model(encoder) -> None:
    torch.manual_seed(0)
    model = build_model(I2FETConfig(labels=LABELS, **TINY)).eval()
    tokens = encoder.encode(["from angry to happy", "from happy to angry"])
    out = model(tokens.embeddings, tokens.mask, torch.zeros(2, 53), torch.zeros(2, 3))
    assert not torch.allclose(out.expressions[0], out.expressions[1])


def test_bad_config_and_data() -> None:
    with pytest.raises(ValueError, match="labels"):
        I2FETConfig()
    with pytest.raises(ValueError, match="mode"):
        I2FETConfig(labels=LABELS, mode="nope")
    with pytest.raises(ValueError, match="divisible"):
        I2FETConfig(labels=LABELS, model_dim=30, num_heads=4)
    with pytest.raises(TrainingDataError):
        samples_to_tensors([], LABELS, 4)
    bad = fake_samples(1)[0]
    bad.labels = ("joy",)
    with pytest.raises(TrainingDataError, match="joy"):
        samples_to_tensors([bad], LABELS, 4)


def test_vertex_gram_matches_explicit_vertices(rng: np.random.Generator) -> None:
    basis = rng.normal(0, 0.1, (53, 300, 3)).astype(np.float32)
    gram = vertex_gram(basis, (0, 300), 300)
    a, b = torch.rand(2, 53), torch.rand(2, 53)
    explicit = (
        (torch.einsum("be,evc->bvc", a - b, torch.from_numpy(basis) * 10.0) ** 2).sum(-1).mean(-1)
    )
    assert torch.allclose(VertexLoss(gram)(a, b), explicit, rtol=1e-4)


def _first_last(history: list[tuple[int, float]]) -> tuple[float, float]:
    losses = [loss for _, loss in history]
    return float(np.mean(losses[:2])), float(np.mean(losses[-2:]))


def test_i2fet_training_reduces_loss(tiny_data: InstructionTensors, encoder) -> None:
    gram = torch.eye(53) * 0.1
    config = TrainConfig(steps=60, batch_size=32, lr=3e-3, progress=False)
    result = train_i2fet(tiny_data, encoder, I2FETConfig(labels=LABELS, **TINY), config, gram)
    first, last = _first_last(result.history)
    assert last < 0.7 * first
    assert not result.model.training


def test_ned_and_classifier_training(tiny_data: InstructionTensors) -> None:
    config = TrainConfig(steps=80, batch_size=32, lr=3e-3, progress=False)
    ned = train_ned(tiny_data, NEDConfig(hidden=32, latent=8), config)
    first, last = _first_last(ned.history)
    assert last < 0.5 * first and isinstance(ned.model, NED)
    config = TrainConfig(steps=250, batch_size=32, lr=1e-2, progress=False)
    clf = train_classifier(tiny_data, ClassifierConfig(labels=LABELS, hidden=32), config)
    first, last = _first_last(clf.history)
    assert last < 0.5 * first and isinstance(clf.model, ExpressionClassifier)
    judged = clf.model.predict(tiny_data.expressions)
    accuracy = (judged == tiny_data.labels)[tiny_data.slot_mask].float().mean()
    assert accuracy > 0.9


def test_config_records_the_text_encoder() -> None:
    config = I2FETConfig(labels=LABELS, encoder="minilm")
    assert I2FETConfig.from_dict(config.to_dict()).encoder == "minilm"
    legacy = config.to_dict()
    del legacy["encoder"]  # checkpoints written before the field existed
    assert I2FETConfig.from_dict(legacy).encoder == "wordllama"
    with pytest.raises(ValueError, match="encoder"):
        I2FETConfig(labels=LABELS, encoder="")
