"""Corpus samples → padded tensors for training and evaluation.

A sample is anything with the attributes of ``engines.instructions.InstructionSample``
(text, labels, intensities, expressions (K, 53), poses (K, 3), neutral_expression (53,),
neutral_pose (3,), source_expression (53,), subject_id; optionally source_pose (3,)).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from engines.i2fet.config import NUM_EXPRESSIONS, POSE_DIM
from engines.i2fet.exceptions import TrainingDataError

__all__ = ["InstructionTensors", "samples_to_tensors"]

IGNORE_LABEL = -100


@dataclass
class InstructionTensors:
    """A corpus split as tensors (N samples, K anchor slots).

    Attributes:
        texts: N instruction texts.
        source_expression: (N, 53); source_pose: (N, 3).
        expressions: (N, K, 53) anchors, zero-padded; poses: (N, K, 3).
        slot_mask: (N, K) bool, True for real anchors.
        labels: (N, K) int64 label indices, IGNORE_LABEL (-100) where padded.
        intensities: (N, K) float32, zero where padded.
        count: (N,) int64 number of anchors minus one.
        neutral_expression: (N, 53); neutral_pose: (N, 3).
        subject_id: (N,) int64.
    """

    texts: list[str]
    source_expression: torch.Tensor
    source_pose: torch.Tensor
    expressions: torch.Tensor
    poses: torch.Tensor
    slot_mask: torch.Tensor
    labels: torch.Tensor
    intensities: torch.Tensor
    count: torch.Tensor
    neutral_expression: torch.Tensor
    neutral_pose: torch.Tensor
    subject_id: torch.Tensor

    def __len__(self) -> int:
        return len(self.texts)

    def take(self, index: torch.Tensor | Sequence[int]) -> InstructionTensors:
        """The rows ``index`` (a batch)."""
        idx = torch.as_tensor(index, dtype=torch.long)
        return InstructionTensors(
            texts=[self.texts[int(i)] for i in idx],
            source_expression=self.source_expression[idx],
            source_pose=self.source_pose[idx],
            expressions=self.expressions[idx],
            poses=self.poses[idx],
            slot_mask=self.slot_mask[idx],
            labels=self.labels[idx],
            intensities=self.intensities[idx],
            count=self.count[idx],
            neutral_expression=self.neutral_expression[idx],
            neutral_pose=self.neutral_pose[idx],
            subject_id=self.subject_id[idx],
        )


def _array(value: Any, shape: tuple[int, ...], what: str, index: int) -> np.ndarray:
    out = np.asarray(value, dtype=np.float32)
    if out.shape != shape:
        raise TrainingDataError(f"sample {index}: {what} has shape {out.shape}, expected {shape}")
    return out


def samples_to_tensors(
    samples: Sequence[Any], labels: Sequence[str], max_anchors: int
) -> InstructionTensors:
    """Stack corpus samples into :class:`InstructionTensors`.

    Raises:
        TrainingDataError: no samples, an unknown label, too many anchors, wrong shapes.
    """
    if not samples:
        raise TrainingDataError("no samples to train or evaluate on")
    label_index = {label: i for i, label in enumerate(labels)}
    n, k = len(samples), max_anchors
    source_expression = np.zeros((n, NUM_EXPRESSIONS), np.float32)
    source_pose = np.zeros((n, POSE_DIM), np.float32)
    expressions = np.zeros((n, k, NUM_EXPRESSIONS), np.float32)
    poses = np.zeros((n, k, POSE_DIM), np.float32)
    slot_mask = np.zeros((n, k), bool)
    label_ids = np.full((n, k), IGNORE_LABEL, np.int64)
    intensities = np.zeros((n, k), np.float32)
    neutral_expression = np.zeros((n, NUM_EXPRESSIONS), np.float32)
    neutral_pose = np.zeros((n, POSE_DIM), np.float32)
    subject_id = np.zeros(n, np.int64)
    texts: list[str] = []
    for i, sample in enumerate(samples):
        count = len(sample.labels)
        if not 1 <= count <= k:
            raise TrainingDataError(f"sample {i} ({sample.text!r}) has {count} anchors, max {k}")
        for j, label in enumerate(sample.labels):
            if label not in label_index:
                raise TrainingDataError(f"sample {i}: unknown label {label!r}")
            label_ids[i, j] = label_index[label]
        texts.append(str(sample.text))
        expressions[i, :count] = _array(
            sample.expressions, (count, NUM_EXPRESSIONS), "expressions", i
        )
        poses[i, :count] = _array(sample.poses, (count, POSE_DIM), "poses", i)
        intensities[i, :count] = np.asarray(sample.intensities, np.float32)[:count]
        slot_mask[i, :count] = True
        neutral_expression[i] = _array(sample.neutral_expression, (NUM_EXPRESSIONS,), "neutral", i)
        neutral_pose[i] = _array(sample.neutral_pose, (POSE_DIM,), "neutral_pose", i)
        source_expression[i] = _array(
            sample.source_expression, (NUM_EXPRESSIONS,), "source_expression", i
        )
        source = getattr(sample, "source_pose", None)
        source_pose[i] = (
            neutral_pose[i] if source is None else _array(source, (3,), "source_pose", i)
        )
        subject_id[i] = int(getattr(sample, "subject_id", 0))
    return InstructionTensors(
        texts=texts,
        source_expression=torch.from_numpy(source_expression),
        source_pose=torch.from_numpy(source_pose),
        expressions=torch.from_numpy(expressions),
        poses=torch.from_numpy(poses),
        slot_mask=torch.from_numpy(slot_mask),
        labels=torch.from_numpy(label_ids),
        intensities=torch.from_numpy(intensities),
        count=torch.from_numpy(slot_mask.sum(1) - 1),
        neutral_expression=torch.from_numpy(neutral_expression),
        neutral_pose=torch.from_numpy(neutral_pose),
        subject_id=torch.from_numpy(subject_id),
    )
