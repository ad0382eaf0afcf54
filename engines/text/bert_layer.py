"""What the BERT-family encoders (MiniLM, MPNet) share: the post-LayerNorm transformer block,
the mapping of Hugging Face parameter names, tokenizing, padding and mean pooling."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from engines.text.base import TokenBatch, check_texts

__all__ = ["BertLayer", "SentenceTransformerEncoder", "map_hf_name"]

logger = logging.getLogger(__name__)


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


def map_hf_name(
    name: str, fixed: Mapping[str, str], layer_parts: Mapping[str, str]
) -> str | None:
    """A Hugging Face parameter name in our layout: ``fixed`` maps whole names (embeddings),
    ``layer_parts`` the module paths inside ``encoder.layer.<i>.`` to :class:`BertLayer`
    attributes; None for parameters we do not use (poolers, buffers)."""
    if name in fixed:
        return fixed[name]
    if not name.startswith("encoder.layer."):
        return None
    index, rest = name.removeprefix("encoder.layer.").split(".", 1)
    module, kind = rest.rsplit(".", 1)
    return f"layers.{index}.{layer_parts[module]}.{kind}" if module in layer_parts else None


class SentenceTransformerEncoder:
    """What the BERT-family encoders share: tokenizing with a ``tokenizers.Tokenizer``
    (special tokens added, cut to ``max_tokens``), padding, running ``self._model`` frozen,
    and mean pooling to sentence embeddings.

    Subclasses set ``self._tokenizer``, ``self._model`` ((B, T) ids and mask -> (B, T, W)),
    ``self._pad`` (the padding id), ``self.dim`` (W) and ``self._max_tokens``.
    """

    name = ""
    dim: int
    _tokenizer: Any
    _model: nn.Module
    _pad: int
    _max_tokens: int

    def tokenize(self, texts: Sequence[str]) -> tuple[list[list[int]], list[list[str]]]:
        """Token ids and tokens per text, special tokens included, cut to ``max_tokens``
        (the last, closing token kept; a warning is logged)."""
        items = check_texts(texts)
        ids: list[list[int]] = []
        tokens: list[list[str]] = []
        limit = self._max_tokens
        for text, encoding in zip(items, self._tokenizer.encode_batch(items), strict=True):
            row_ids, row_tokens = list(encoding.ids), list(encoding.tokens)
            if len(row_ids) > limit:
                logger.warning("text cut to %d tokens: %r", limit, text[:80])
                row_ids = row_ids[: limit - 1] + row_ids[-1:]
                row_tokens = row_tokens[: limit - 1] + row_tokens[-1:]
            ids.append(row_ids)
            tokens.append(row_tokens)
        return ids, tokens

    def encode(self, texts: Sequence[str]) -> TokenBatch:
        """Contextual embeddings: (B, T, W) float32 (zeros where padded), (B, T) bool mask."""
        ids, tokens = self.tokenize(texts)
        length = max((len(row) for row in ids), default=1)
        index = torch.full((len(ids), length), self._pad, dtype=torch.int64)
        mask = torch.zeros((len(ids), length), dtype=torch.bool)
        for row, row_ids in enumerate(ids):
            index[row, : len(row_ids)] = torch.tensor(row_ids, dtype=torch.int64)
            mask[row, : len(row_ids)] = True
        with torch.inference_mode():
            hidden = self._model(index, mask) if ids else torch.zeros((0, length, self.dim))
        embeddings = (hidden * mask.unsqueeze(-1)).float().clone()
        return TokenBatch(embeddings=embeddings, mask=mask, tokens=tokens)

    def embed_sentences(self, texts: Sequence[str]) -> torch.Tensor:
        """Sentence embeddings as sentence-transformers makes them for these models: the mean
        of the token vectors (mask-weighted, special tokens included), L2 normalised:
        (B, W) float32."""
        batch = self.encode(texts)
        weights = batch.mask.unsqueeze(-1).float()
        pooled = (batch.embeddings * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        return nn.functional.normalize(pooled, dim=-1)
