"""Losses of I2FET: expression, pose, KL, vertices (through the ICT expression basis), plus
the slot label / count / intensity heads."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from engines.i2fet.config import TrainConfig
from engines.i2fet.data import IGNORE_LABEL, InstructionTensors
from engines.i2fet.model import I2FETOutput

__all__ = ["I2FETLoss", "VertexLoss", "vertex_gram"]

POSE_SCALE = 0.1  # radians: pose errors are measured in units of ~6 degrees


def vertex_gram(
    expression_basis: np.ndarray, vertex_range: tuple[int, int], count: int, seed: int = 0
) -> torch.Tensor:
    """(53, 53) Gram matrix G of the expression basis on ``count`` sampled face vertices.

    For an expression difference d (53,), ``d @ G @ d`` is exactly the mean squared vertex
    displacement (mm²) over the sampled vertices: G = Σ_v B_v B_vᵀ / n with B in mm. Computing
    it once turns the vertex loss into a 53×53 quadratic form (no (B, n, 3) tensors per step).

    Args:
        expression_basis: (53, V, 3) ICT expression deltas in cm.
        vertex_range: [first, stop) vertex indices to sample from (the ICT "face" part).
        count: vertices to sample (without replacement, fixed seed).
    """
    first, stop = vertex_range
    rng = np.random.default_rng(seed)
    chosen = rng.choice(np.arange(first, stop), size=min(count, stop - first), replace=False)
    basis = expression_basis[:, np.sort(chosen), :].astype(np.float64) * 10.0  # (53, n, 3) mm
    flat = basis.reshape(basis.shape[0], -1)  # (53, 3n)
    gram = flat @ flat.T / len(chosen)
    return torch.from_numpy(gram.astype(np.float32))


class VertexLoss(nn.Module):
    """Mean squared vertex error (mm²) between two expression vectors via the Gram matrix."""

    def __init__(self, gram: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("gram", gram)

    def forward(self, predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """(..., 53), (..., 53) → (...,) mean squared vertex displacement in mm²."""
        diff = predicted - target
        out: torch.Tensor = torch.einsum("...i,ij,...j->...", diff, self.gram, diff)
        return out


@dataclass
class LossTerms:
    """The total and its parts (floats for logging)."""

    total: torch.Tensor
    parts: dict[str, float]


class I2FETLoss(nn.Module):
    """Weighted sum of the I2FET training terms over the real anchor slots."""

    def __init__(self, config: TrainConfig, gram: torch.Tensor | None) -> None:
        super().__init__()
        self.config = config
        self.vertex = VertexLoss(gram) if gram is not None and config.vertex_weight > 0 else None

    def _reconstruction(
        self, expressions: torch.Tensor, poses: torch.Tensor, batch: InstructionTensors
    ) -> dict[str, torch.Tensor]:
        mask = batch.slot_mask.to(expressions.dtype)  # (B, K)
        slots = mask.sum().clamp_min(1.0)
        expression = ((expressions - batch.expressions).square().sum(-1) * mask).sum() / slots
        pose = (((poses - batch.poses) / POSE_SCALE).square().sum(-1) * mask).sum() / slots
        out = {"expression": expression, "pose": pose}
        if self.vertex is not None:
            out["vertex"] = (self.vertex(expressions, batch.expressions) * mask).sum() / slots
        return out

    def forward(
        self, output: I2FETOutput, batch: InstructionTensors, *, kl_scale: float = 1.0
    ) -> LossTerms:
        config = self.config
        mask = batch.slot_mask.to(output.expressions.dtype)
        slots = mask.sum().clamp_min(1.0)
        terms = self._reconstruction(output.expressions, output.poses, batch)
        total = terms["expression"] + config.pose_weight * terms["pose"]
        if "vertex" in terms:
            total = total + config.vertex_weight * terms["vertex"]
        if output.prior_expressions is not None and output.prior_poses is not None:
            prior = self._reconstruction(output.prior_expressions, output.prior_poses, batch)
            prior_total = prior["expression"] + config.pose_weight * prior["pose"]
            if "vertex" in prior:
                prior_total = prior_total + config.vertex_weight * prior["vertex"]
            terms["prior"] = prior_total
            total = total + config.prior_weight * prior_total
        terms["kl"] = (output.kl * mask).sum() / slots
        total = total + config.kl_weight * kl_scale * terms["kl"]
        terms["label"] = F.cross_entropy(
            output.label_logits.flatten(0, 1), batch.labels.flatten(), ignore_index=IGNORE_LABEL
        )
        terms["count"] = F.cross_entropy(output.count_logits, batch.count)
        terms["intensity"] = (
            (output.intensities - batch.intensities).square() * mask
        ).sum() / slots
        total = (
            total
            + config.label_weight * terms["label"]
            + config.count_weight * terms["count"]
            + config.intensity_weight * terms["intensity"]
        )
        return LossTerms(total, {name: float(value.detach()) for name, value in terms.items()})
