"""The expression classifier: the judge of Acc1 / Acc2 / G-mean (as in the paper, which used
a classifier trained on its data). A small MLP on the 53 ICT expression coefficients."""

from __future__ import annotations

import torch
from torch import nn

from engines.i2fet.config import NUM_EXPRESSIONS, ClassifierConfig
from engines.i2fet.layers import mlp

__all__ = ["ExpressionClassifier"]


class ExpressionClassifier(nn.Module):
    """(B, 53) expression coefficients → (B, L) label logits."""

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        self.config = config
        sizes = [NUM_EXPRESSIONS] + [config.hidden] * config.layers + [len(config.labels)]
        self.net = mlp(sizes, dropout=config.dropout)

    def forward(self, expression: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net(expression)
        return out

    @torch.inference_mode()
    def predict(self, expression: torch.Tensor) -> torch.Tensor:
        """(..., 53) → (...,) int64 label indices."""
        was_training = self.training
        self.eval()
        shape = expression.shape[:-1]
        out = self.net(expression.reshape(-1, NUM_EXPRESSIONS)).argmax(-1).reshape(shape)
        self.train(was_training)
        return out
