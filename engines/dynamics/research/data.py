"""Corpus sequences as padded tensors, and their deformations computed on the fly.

Shapes: N sequences, T frames (padded to the longest), L labels, E shapes, V region vertices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from engines.dynamics.labels import MOTION_LABELS
from engines.dynamics.projection import RegionBasis
from engines.dynamics.research.corpus import DynamicSequence

__all__ = ["SequenceTensors", "region_shapes", "to_tensors"]


@dataclass
class SequenceTensors:
    """A split as tensors.

    Attributes:
        labels: (N, T, L) motion labels (zero after the end).
        weights: (N, T, E) expression coefficients (zero after the end).
        scale: (N,) face scales.
        lengths: (N,) frames of each sequence.
        moving: (N, T) bool, frames whose coefficients change (onset / offset).
        label_index: (N,) index of each sequence's label in ``MOTION_LABELS``.
    """

    labels: torch.Tensor
    weights: torch.Tensor
    scale: torch.Tensor
    lengths: torch.Tensor
    moving: torch.Tensor
    label_index: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def targets(
        self, rows: torch.Tensor, frames: torch.Tensor, shapes: torch.Tensor
    ) -> torch.Tensor:
        """(M, V, 3) deformations of (sequence ``rows[m]``, frame ``frames[m]``).

        Args:
            shapes: (E, 3V) float32 expression shapes of the region.
        """
        coeffs = self.weights[rows, frames] * self.scale[rows, None]
        return (coeffs @ shapes).reshape(len(rows), -1, 3)


def to_tensors(
    sequences: Sequence[DynamicSequence], labels: tuple[str, ...] = MOTION_LABELS
) -> SequenceTensors:
    """Pad ``sequences`` into :class:`SequenceTensors`."""
    if not sequences:
        raise ValueError("no sequences")
    frames = max(s.num_frames for s in sequences)
    count, num_shapes = len(sequences), sequences[0].weights.shape[1]
    label_array = np.zeros((count, frames, len(labels)), np.float32)
    weights = np.zeros((count, frames, num_shapes), np.float32)
    moving = np.zeros((count, frames), bool)
    for i, sequence in enumerate(sequences):
        n = sequence.num_frames
        label_array[i, :n] = sequence.labels(labels)
        weights[i, :n] = sequence.weights
        change = np.abs(np.diff(sequence.weights, axis=0)).max(axis=1) > 1e-4
        moving[i, :n - 1] |= change
        moving[i, 1:n] |= change
    return SequenceTensors(
        labels=torch.from_numpy(label_array),
        weights=torch.from_numpy(weights),
        scale=torch.tensor([s.face_scale for s in sequences], dtype=torch.float32),
        lengths=torch.tensor([s.num_frames for s in sequences], dtype=torch.int64),
        moving=torch.from_numpy(moving),
        label_index=torch.tensor([labels.index(s.label) for s in sequences], dtype=torch.int64),
    )


def region_shapes(basis: RegionBasis) -> torch.Tensor:
    """(E, 3V) float32 expression shapes of the region, for :meth:`SequenceTensors.targets`."""
    return torch.from_numpy(np.ascontiguousarray(basis.basis.reshape(basis.num_expressions, -1)))
