"""Small building blocks: sinusoidal positions, MLPs, transformer stacks, text projection,
masked mean pooling and the normalised source parameters."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
from torch import nn

__all__ = [
    "masked_mean",
    "mlp",
    "sinusoidal_positions",
    "source_parameters",
    "text_projection",
    "transformer_encoder",
]


def sinusoidal_positions(length: int, dim: int) -> torch.Tensor:
    """(length, dim) fixed sinusoidal position table (Vaswani et al.); generalises to lengths
    not seen in training, unlike a learned table."""
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    frequency = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency[: dim // 2])
    return table


def mlp(sizes: Sequence[int], *, dropout: float = 0.0) -> nn.Sequential:
    """Linear layers of the given sizes with SiLU between them (none after the last)."""
    if len(sizes) < 2:
        raise ValueError(f"an MLP needs at least input and output sizes, got {list(sizes)}")
    modules: list[nn.Module] = []
    for index, (size_in, size_out) in enumerate(itertools.pairwise(sizes)):
        modules.append(nn.Linear(size_in, size_out))
        if index < len(sizes) - 2:
            modules.append(nn.SiLU())
            if dropout > 0:
                modules.append(nn.Dropout(dropout))
    return nn.Sequential(*modules)


def transformer_encoder(dim: int, heads: int, layers: int, dropout: float) -> nn.Module:
    """A pre-norm transformer encoder stack, or identity for ``layers == 0``."""
    if layers == 0:
        return nn.Identity()
    layer = nn.TransformerEncoderLayer(
        dim, heads, 2 * dim, dropout, activation="gelu", batch_first=True, norm_first=True
    )
    return nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)


def text_projection(text_dim: int, dim: int) -> nn.Sequential:
    """LayerNorm then Linear: text-encoder features (..., text_dim) → (..., dim)."""
    return nn.Sequential(nn.LayerNorm(text_dim), nn.Linear(text_dim, dim))


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, T, D) values, (B, T) bool mask (True = real token) → (B, D) mean of the real tokens
    (zeros where a row has none)."""
    weights = mask.to(values.dtype).unsqueeze(-1)  # (B, T, 1)
    return (values * weights).sum(1) / weights.sum(1).clamp_min(1.0)


def source_parameters(
    expression: torch.Tensor, pose: torch.Tensor, max_pose: float
) -> torch.Tensor:
    """(B, 53) expression, (B, 3) pose in radians → (B, 56), the pose scaled by ``max_pose``."""
    return torch.cat([expression, pose / max_pose], dim=-1)
