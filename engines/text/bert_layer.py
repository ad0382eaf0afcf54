"""The post-LayerNorm transformer block shared by the BERT-family encoders (MiniLM, MPNet)."""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["BertLayer"]


class BertLayer(nn.Module):
    """One post-LayerNorm BERT block (self-attention + GELU feed-forward)."""

    def __init__(self, width: int, heads: int, hidden: int, eps: float) -> None:
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(width, width)
        self.key = nn.Linear(width, width)
        self.value = nn.Linear(width, width)
        self.attention_out = nn.Linear(width, width)
        self.attention_norm = nn.LayerNorm(width, eps=eps)
        self.intermediate = nn.Linear(width, hidden)
        self.output = nn.Linear(hidden, width)
        self.output_norm = nn.LayerNorm(width, eps=eps)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """x: (B, T, W); bias: additive attention bias broadcastable to (B, heads, T, T)
        (a (B, 1, 1, T) padding mask; MPNet adds its relative-position bias) -> (B, T, W)."""
        b, t, w = x.shape
        d = w // self.heads

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, t, self.heads, d).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(d) + bias
        context = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, w)
        x = self.attention_norm(x + self.attention_out(context))
        return self.output_norm(x + self.output(nn.functional.gelu(self.intermediate(x))))
