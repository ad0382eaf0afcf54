"""The text-encoder interface: token-level embeddings plus a padding mask.

Keeping one vector per token (rather than a pooled sentence vector) preserves word order, so a
downstream model can tell "from anger to joy" from "from joy to anger".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch

from engines.text.exceptions import TextInputError

__all__ = ["TextEncoder", "TokenBatch", "check_texts"]


@dataclass(frozen=True)
class TokenBatch:
    """Token embeddings of a batch of texts, right-padded.

    Attributes:
        embeddings: (B, T, D) float32; padded positions are zero.
        mask: (B, T) bool, True where a real token is.
        tokens: B lists of token strings (the real tokens only, in order).
    """

    embeddings: torch.Tensor
    mask: torch.Tensor
    tokens: list[list[str]]

    @property
    def batch_size(self) -> int:
        return int(self.embeddings.shape[0])

    @property
    def lengths(self) -> torch.Tensor:
        """(B,) int64 number of real tokens per text."""
        return self.mask.sum(dim=1)

    def pooled(self) -> torch.Tensor:
        """(B, D) mean of the real token embeddings (zeros for an empty text)."""
        weights = self.mask.to(self.embeddings.dtype).unsqueeze(-1)
        total = (self.embeddings * weights).sum(dim=1)
        return total / weights.sum(dim=1).clamp_min(1.0)


@runtime_checkable
class TextEncoder(Protocol):
    """Anything that turns texts into a :class:`TokenBatch`."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> TokenBatch:
        """Encode ``texts`` into (B, T, dim) token embeddings and a (B, T) mask."""
        ...


def check_texts(texts: Sequence[str]) -> list[str]:
    """Validate the argument of ``encode``: a non-string sequence of strings."""
    if isinstance(texts, str | bytes):
        raise TextInputError("encode() takes a sequence of strings, not a single string")
    out = list(texts)
    for index, text in enumerate(out):
        if not isinstance(text, str):
            raise TextInputError(f"texts[{index}] is {type(text).__name__}, expected str")
    return out
