"""The training loss of Potamias et al. (2020): L1 reconstruction plus temporal coherence.

Shapes: P consecutive frame pairs, V vertices.
"""

from __future__ import annotations

import torch

__all__ = ["dynamics_loss"]


def dynamics_loss(
    predicted: torch.Tensor, target: torch.Tensor, temporal_weight: float
) -> tuple[torch.Tensor, dict[str, float]]:
    """L1 on every vertex of every frame, plus ``temporal_weight`` × L1 between the frame-to-
    frame motion of the prediction and of the target (the temporal-coherence term: a
    generated sequence must move like the real one, not only pass through its frames).

    Args:
        predicted, target: (P, 2, V, 3) pairs of consecutive frames (cm).

    Returns:
        the loss and its parts as floats (``l1``, ``temporal``).
    """
    if predicted.shape != target.shape or predicted.ndim != 4 or predicted.shape[1] != 2:
        raise ValueError(f"expected matching (P, 2, V, 3) tensors, got {tuple(predicted.shape)}")
    l1 = (predicted - target).abs().mean()
    motion_predicted = predicted[:, 1] - predicted[:, 0]
    motion_target = target[:, 1] - target[:, 0]
    temporal = (motion_predicted - motion_target).abs().mean()
    total = l1 + temporal_weight * temporal
    return total, {"l1": float(l1.detach()), "temporal": float(temporal.detach())}
