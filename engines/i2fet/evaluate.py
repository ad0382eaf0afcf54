"""Evaluation: Acc1, Acc2, G-mean and the confusion matrix, judged by the expression classifier.

Definitions (our instructions name 1..4 emotions, the paper's name two):

* ``acc1``: fraction of instructions whose first predicted anchor the classifier labels as the
  first emotion the instruction names (the paper's source expression).
* ``acc2``: fraction of later anchors (k ≥ 2, the paper's target expression and, for chains,
  every further one) labelled as the emotion named at that position. Instructions naming a
  single emotion contribute to ``acc1`` only.
* ``gmean``: geometric mean over emotion classes of the per-class recall over all anchors
  (the usual G-mean for many classes; 0 if a class is never recognised).
* ``confusion``: rows = named emotion, columns = classifier's label of the predicted anchor.
* ``count_accuracy``: the predicted number of anchors equals the number named.

The face before the instruction (the parameter branch's input) is by default the subject's
resting face (``source="neutral"``), as when the planner drives an avatar: the corpus' own
source for "from X to Y" is X itself, and a model may copy it instead of reading the text.
``source="corpus"`` evaluates with the corpus' source faces (the paper's protocol).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from engines.i2fet.classifier import ExpressionClassifier
from engines.i2fet.data import InstructionTensors
from engines.i2fet.grounding import grounded_text
from engines.i2fet.model import I2FET, PooledBaseline
from engines.text.base import TextEncoder

__all__ = [
    "VOCABULARIES",
    "Predictions",
    "classification_metrics",
    "classifier_accuracy",
    "evaluate_model",
    "knowledge_name",
    "predict",
    "with_source",
]

VOCABULARIES: tuple[str, ...] = ("full", "train")
"""Grounding vocabularies: the whole lexicon, or the training split's words only."""


@dataclass
class Predictions:
    """Model outputs for a whole split.

    Attributes:
        expressions: (N, K, 53); poses: (N, K, 3); intensities (N, K);
        label_ids: (N, K) slot-head labels; count: (N,) predicted anchors minus one.
    """

    expressions: torch.Tensor
    poses: torch.Tensor
    intensities: torch.Tensor
    label_ids: torch.Tensor
    count: torch.Tensor


@torch.inference_mode()
def predict(
    model: I2FET | PooledBaseline,
    encoder: TextEncoder,
    data: InstructionTensors,
    batch_size: int = 512,
    grounded: bool = False,
    vocabulary: str = "full",
    knowledge: bool = True,
    similarity: bool = True,
) -> Predictions:
    """Run the model (z = 0, deterministic) over every sample of ``data``; ``grounded`` adds
    the vocabulary's grounding suffix to each text, as the planner does, with the whole
    vocabulary (``vocabulary="full"``) or the training vocabulary only (``"train"``), plus
    WordNet for words the vocabulary does not know (``knowledge``, when installed) and
    sentence similarity for words WordNet cannot place (``similarity``, when installed)."""
    include_heldout = _include_heldout(vocabulary)
    model.eval()
    if grounded:
        limit = model.config.max_anchors
        data = replace(
            data,
            texts=[
                grounded_text(t, limit, include_heldout, knowledge, similarity)[0]
                for t in data.texts
            ],
        )
    parts: list[Any] = []
    for start in range(0, len(data), batch_size):
        batch = data.take(range(start, min(len(data), start + batch_size)))
        tokens = encoder.encode(batch.texts)
        out = model(tokens.embeddings, tokens.mask, batch.source_expression, batch.source_pose)
        parts.append(
            (
                out.expressions,
                out.poses,
                out.intensities,
                out.label_logits.argmax(-1),
                out.count_logits.argmax(-1),
            )
        )
    return Predictions(*(torch.cat(column) for column in zip(*parts, strict=True)))


def knowledge_name(similarity: bool = True) -> str:
    """ "wordnet-3.0" when WordNet grounding is available ("+mpnet" or "+minilm" with the
    similarity fallback), else "none"."""
    from engines.instructions.knowledge import default_knowledge

    knowledge = default_knowledge(False, similarity)
    if knowledge is None:
        return "none"
    if knowledge.similarity is None:
        return "wordnet-3.0"
    return f"wordnet-3.0+{knowledge.similarity.config.model}"


def _include_heldout(vocabulary: str) -> bool:
    if vocabulary not in VOCABULARIES:
        raise ValueError(f"vocabulary must be one of {VOCABULARIES}, got {vocabulary!r}")
    return vocabulary == "full"


def classification_metrics(
    judged: torch.Tensor, data: InstructionTensors, labels: Sequence[str]
) -> dict[str, Any]:
    """Acc1 / Acc2 / G-mean / confusion from classifier labels ``judged`` (N, K) of the
    predicted anchors against the labels named in ``data``."""
    truth = data.labels
    mask = data.slot_mask
    first_ok = (judged[:, 0] == truth[:, 0]).float()
    later = mask.clone()
    later[:, 0] = False
    correct = (judged == truth) & mask
    acc1 = float(first_ok.mean())
    acc2 = float(correct[later].float().mean()) if bool(later.any()) else float("nan")
    size = len(labels)
    confusion = np.zeros((size, size), np.int64)
    np.add.at(confusion, (truth[mask].numpy(), judged[mask].numpy()), 1)
    support = confusion.sum(1)
    present = support > 0
    recall = np.diag(confusion)[present] / support[present]
    gmean = float(np.exp(np.log(np.maximum(recall, 1e-12)).mean())) if present.any() else 0.0
    if np.any(recall == 0):
        gmean = 0.0
    per_class = {
        labels[int(i)]: round(float(confusion[i, i] / support[i]), 4)
        for i in np.flatnonzero(present)
    }
    return {
        "acc1": round(acc1, 4),
        "acc2": round(acc2, 4) if not math.isnan(acc2) else None,
        "gmean": round(gmean, 4),
        "anchor_accuracy": round(float(correct[mask].float().mean()), 4),
        "per_class_recall": per_class,
        "confusion": {"labels": list(labels), "matrix": confusion.tolist()},
        "samples": len(data),
        "anchors": int(mask.sum()),
        "multi_anchor_samples": int((mask.sum(1) > 1).sum()),
    }


def with_source(data: InstructionTensors, source: str) -> InstructionTensors:
    """``data`` with its source faces chosen by ``source`` ("neutral" or "corpus")."""
    if source == "corpus":
        return data
    if source != "neutral":
        raise ValueError(f"source must be 'neutral' or 'corpus', got {source!r}")
    return replace(data, source_expression=data.neutral_expression, source_pose=data.neutral_pose)


def evaluate_model(
    model: I2FET | PooledBaseline,
    encoder: TextEncoder,
    classifier: ExpressionClassifier,
    data: InstructionTensors,
    labels: Sequence[str],
    source: str = "neutral",
    grounded: bool = False,
    gram: torch.Tensor | None = None,
    vocabulary: str = "full",
    knowledge: bool = True,
    similarity: bool = True,
) -> dict[str, Any]:
    """All metrics of one model on one split (see the module docstring); with the vertex
    Gram matrix (``losses.vertex_gram``) also the RMS vertex error of the anchors in mm.
    ``vocabulary`` ("full" or "train") is the grounding vocabulary when ``grounded``;
    ``knowledge`` adds WordNet grounding of unknown words (when installed), ``similarity``
    the sentence-similarity fallback for what WordNet cannot place."""
    data = with_source(data, source)
    predictions = predict(
        model, encoder, data, grounded=grounded, vocabulary=vocabulary, knowledge=knowledge,
        similarity=similarity,
    )  # fmt: skip
    judged = classifier.predict(predictions.expressions)
    out = classification_metrics(judged, data, labels)
    mask = data.slot_mask
    out["source"] = source
    out["grounded"] = grounded
    if grounded:
        out["grounding_vocabulary"] = vocabulary
        out["grounding_knowledge"] = knowledge_name(similarity) if knowledge else "none"
    out["count_accuracy"] = round(float((predictions.count == data.count).float().mean()), 4)
    out["slot_label_accuracy"] = round(
        float((predictions.label_ids == data.labels)[mask].float().mean()), 4
    )
    out["expression_mae"] = round(
        float((predictions.expressions - data.expressions).abs().mean(-1)[mask].mean()), 5
    )
    out["pose_mae_deg"] = round(
        float(torch.rad2deg((predictions.poses - data.poses).abs().mean(-1)[mask].mean())), 4
    )
    if gram is not None:
        diff = predictions.expressions - data.expressions
        squared = torch.einsum("...i,ij,...j->...", diff, gram, diff)[mask]
        out["vertex_rmse_mm"] = round(float(squared.mean().sqrt()), 4)
    out["intensity_mae"] = round(
        float((predictions.intensities - data.intensities).abs()[mask].mean()), 4
    )
    return out


def classifier_accuracy(classifier: ExpressionClassifier, data: InstructionTensors) -> float:
    """The judge's accuracy on the ground-truth anchors of ``data``."""
    judged = classifier.predict(data.expressions)
    return float((judged == data.labels)[data.slot_mask].float().mean())
