"""Small building blocks: sinusoidal positions, MLPs, transformer stacks."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["mlp", "sinusoidal_positions", "transformer_encoder"]


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
