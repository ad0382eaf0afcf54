"""NED: the neutral encoder-decoder. From any face of a subject (expression + pose) it
predicts that subject's neutral expression and pose (the transition midpoints)."""

from __future__ import annotations

import torch
from torch import nn

from engines.i2fet.config import NUM_EXPRESSIONS, POSE_DIM, NEDConfig
from engines.i2fet.layers import mlp, source_parameters

__all__ = ["NED"]


class NED(nn.Module):
    """Four fully connected layers each way: (B, 56) → (B, latent) → (B, 56)."""

    def __init__(self, config: NEDConfig | None = None) -> None:
        super().__init__()
        self.config = config or NEDConfig()
        hidden, latent = self.config.hidden, self.config.latent
        size = NUM_EXPRESSIONS + POSE_DIM
        self.encoder = mlp([size, hidden, hidden, hidden, latent])
        self.decoder = mlp([latent, hidden, hidden, hidden, size])

    def forward(
        self, expression: torch.Tensor, pose: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 53), (B, 3) → neutral expression (B, 53) in [0, 1], neutral pose (B, 3) rad."""
        max_pose = self.config.max_pose
        latent = self.encoder(source_parameters(expression, pose, max_pose))
        out = self.decoder(torch.nn.functional.silu(latent))
        neutral_expression = torch.sigmoid(out[:, :NUM_EXPRESSIONS])
        neutral_pose = max_pose * torch.tanh(out[:, NUM_EXPRESSIONS:])
        return neutral_expression, neutral_pose
