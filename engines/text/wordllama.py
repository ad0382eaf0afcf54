"""The default text encoder: wordllama's tokenizer and token-embedding matrix, fully offline.

wordllama ships its 256-d embedding matrix (32k LLaMA-2 tokens, fp16) and tokenizer inside the
wheel. Its ``WordLlama.load()`` pools tokens and may reach for the network; here we read the two
files directly and return one vector per token. Positional information is added by the model
that consumes the tokens (the I2FET text branch).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engines.text.base import TokenBatch, check_texts
from engines.text.exceptions import EncoderUnavailableError

__all__ = ["WordLlamaConfig", "WordLlamaEncoder"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WordLlamaConfig:
    """Options of :class:`WordLlamaEncoder`.

    Attributes:
        config_name: wordllama model configuration (the wheel ships ``l2_supercat``).
        dim: embedding width, one of the truncations the model supports (64..1024); the wheel's
            matrix is 256 wide, smaller values truncate it (Matryoshka embeddings).
        max_tokens: texts are cut to this many tokens (a warning is logged).
        lowercase: lowercase before tokenizing ("SAD" and "sad" tokenize differently otherwise).
        normalize: scale every token vector to unit length.
    """

    config_name: str = "l2_supercat"
    dim: int = 256
    max_tokens: int = 64
    lowercase: bool = True
    normalize: bool = False

    def __post_init__(self) -> None:
        if self.dim not in (64, 128, 256):
            raise ValueError(f"dim must be 64, 128 or 256 for the shipped weights, got {self.dim}")
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {self.max_tokens}")


def _package_dir() -> Path:
    try:
        import wordllama
    except ImportError as error:  # pragma: no cover - wordllama is a pinned dependency
        raise EncoderUnavailableError(
            "wordllama is not installed; `pip install wordllama==0.4.0.post1`"
        ) from error
    return Path(wordllama.__file__).resolve().parent


class WordLlamaEncoder:
    """Token-level wordllama embeddings (B, T, dim) with a (B, T) mask; never uses the network."""

    name = "wordllama"

    def __init__(self, config: WordLlamaConfig | None = None) -> None:
        self.config = config or WordLlamaConfig()
        self.dim = self.config.dim
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from safetensors import safe_open
        from tokenizers import Tokenizer

        package = _package_dir()
        weights = package / "weights" / f"{self.config.config_name}_256.safetensors"
        tokenizer_file = package / "tokenizers" / f"{self.config.config_name}_tokenizer_config.json"
        for path in (weights, tokenizer_file):
            if not path.is_file():
                raise EncoderUnavailableError(
                    f"wordllama file missing: {path} (reinstall wordllama==0.4.0.post1)"
                )
        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        with safe_open(str(weights), framework="np", device="cpu") as handle:
            matrix = handle.get_tensor("embedding.weight")[:, : self.dim]
        matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        if self.config.normalize:
            matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-6)
        self._matrix = matrix
        self.vocab_size = int(matrix.shape[0])

    def tokenize(self, texts: Sequence[str]) -> tuple[list[list[int]], list[list[str]]]:
        """Token ids and token strings per text (cut to ``max_tokens``)."""
        items = check_texts(texts)
        if self.config.lowercase:
            items = [t.lower() for t in items]
        encodings = self._tokenizer.encode_batch(items, add_special_tokens=False)
        ids: list[list[int]] = []
        tokens: list[list[str]] = []
        for text, encoding in zip(items, encodings, strict=True):
            row_ids = list(encoding.ids)
            row_tokens = list(encoding.tokens)
            if len(row_ids) > self.config.max_tokens:
                logger.warning("text cut to %d tokens: %r", self.config.max_tokens, text[:80])
                row_ids = row_ids[: self.config.max_tokens]
                row_tokens = row_tokens[: self.config.max_tokens]
            ids.append(row_ids)
            tokens.append(row_tokens)
        return ids, tokens

    def encode(self, texts: Sequence[str]) -> TokenBatch:
        """Embed every token: (B, T, dim) float32, (B, T) bool mask, token strings.

        T is the longest text's token count (at least 1, so an empty text gives one padded
        position and an all-False mask row).
        """
        ids, tokens = self.tokenize(texts)
        batch = len(ids)
        length = max([1, *(len(row) for row in ids)])
        index = np.zeros((batch, length), dtype=np.int64)
        mask = np.zeros((batch, length), dtype=bool)
        for row, row_ids in enumerate(ids):
            index[row, : len(row_ids)] = np.clip(row_ids, 0, self.vocab_size - 1)
            mask[row, : len(row_ids)] = True
        embeddings = self._matrix[index] * mask[..., None]
        return TokenBatch(
            embeddings=torch.from_numpy(embeddings.astype(np.float32, copy=False)),
            mask=torch.from_numpy(mask),
            tokens=tokens,
        )
