"""The CLIP text tower (open_clip / OpenAI ViT-B-32): token-level embeddings from local weights.

This is the paper's text encoder, re-implemented in plain torch so that it needs neither
torchvision nor open_clip's import chain (``import open_clip`` pulls torchvision, whose PyPI
build does not load beside torch 2.13.0 CPU). The modules use open_clip's parameter names, so
an open_clip or OpenAI checkpoint loads with ``strict=True``:

- ``token_embedding.weight`` (V, W), ``positional_embedding`` (C, W),
- ``transformer.resblocks.{i}.{ln_1, attn.in_proj_*, attn.out_proj, ln_2, mlp.c_fc, mlp.c_proj}``,
- ``ln_final``, ``text_projection`` (W, D); vision keys in the file are ignored.

ViT-B-32's text tower: width 512, 12 layers, 8 heads, context 77, vocabulary 49408, causal
attention. laion's open_clip weights use GELU, OpenAI's original ones QuickGELU
(``activation="quick_gelu"``). The BPE vocabulary is ``bpe_simple_vocab_16e6.txt.gz`` from
the open_clip wheel (``pip install --no-deps open_clip_torch==3.3.0``) or ``vocab_path``.

Weights are never downloaded: pass ``weights_path`` (``.safetensors``, a torch state dict
``.bin``/``.pt``, or OpenAI's TorchScript ``.pt``) or set ``FACECAST_CLIP_WEIGHTS``. Without
weights the encoder refuses with :class:`EncoderUnavailableError`, unless ``random_init=True``
(tests, benchmarks of the shapes and speed).

Token-level output: the hidden states after ``ln_final`` for every real token (start, words,
end), (B, T, W), like the text conditioning of latent-diffusion models; ``project_tokens=True``
also applies ``text_projection`` (then D wide). Because attention is causal, cutting the
padding after the longest text of a batch changes nothing for the real tokens.
"""

from __future__ import annotations

import gzip
import html
import importlib.util
import logging
import os
import re
import sys
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from engines.text.base import TokenBatch, check_texts
from engines.text.exceptions import EncoderUnavailableError

__all__ = [
    "CLIP_WEIGHTS_ENV",
    "ClipBPETokenizer",
    "ClipTextConfig",
    "ClipTextEncoder",
    "ClipTextTransformer",
    "default_vocab_path",
    "load_clip_text_state_dict",
]

logger = logging.getLogger(__name__)

CLIP_WEIGHTS_ENV = "FACECAST_CLIP_WEIGHTS"
_VOCAB_NAME = "bpe_simple_vocab_16e6.txt.gz"
_NUM_MERGES = 49152 - 256 - 2
SOT, EOT = "<start_of_text>", "<end_of_text>"


# ------------------------------------------------------------------------------- config
@dataclass(frozen=True)
class ClipTextConfig:
    """Options of :class:`ClipTextEncoder` (defaults: ViT-B-32's text tower).

    Attributes:
        weights_path: checkpoint file; None reads ``$FACECAST_CLIP_WEIGHTS``.
        vocab_path: BPE merges file; None uses the open_clip wheel's copy.
        width, layers, heads, context_length, vocab_size, embed_dim: architecture. With a
            weights file, width / layers / context / vocab / embed_dim are read from it.
        activation: "gelu" (open_clip laion weights) or "quick_gelu" (OpenAI weights).
        project_tokens: apply ``text_projection`` to every token (dim = embed_dim).
        random_init: allow running without weights (random initialisation from ``seed``).
        seed: seed of the random initialisation.
        lowercase: lowercase the text before BPE (CLIP's tokenizer does).
    """

    weights_path: str | None = None
    vocab_path: str | None = None
    width: int = 512
    layers: int = 12
    heads: int = 8
    context_length: int = 77
    vocab_size: int = 49408
    embed_dim: int = 512
    activation: str = "gelu"
    project_tokens: bool = False
    random_init: bool = False
    seed: int = 0
    lowercase: bool = True

    def __post_init__(self) -> None:
        for name in ("width", "layers", "heads", "context_length", "vocab_size", "embed_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.width % self.heads:
            raise ValueError(f"width ({self.width}) must be divisible by heads ({self.heads})")
        if self.context_length < 3:
            raise ValueError("context_length must be >= 3 (start, one token, end)")
        if self.activation not in ("gelu", "quick_gelu"):
            raise ValueError(f"activation must be 'gelu' or 'quick_gelu', got {self.activation!r}")

    @property
    def dim(self) -> int:
        """Width of the returned token embeddings."""
        return self.embed_dim if self.project_tokens else self.width


# ---------------------------------------------------------------------------- tokenizer
@lru_cache(maxsize=1)
def _bytes_to_unicode() -> dict[int, str]:
    """CLIP's reversible byte -> printable unicode table (avoids whitespace / control chars)."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in codes), strict=True))


def default_vocab_path() -> Path:
    """The BPE merges shipped in the open_clip wheel (found without importing open_clip)."""
    try:
        spec = importlib.util.find_spec("open_clip")
        locations = list(spec.submodule_search_locations or []) if spec is not None else []
    except ValueError:  # open_clip already in sys.modules without a spec
        locations = list(getattr(sys.modules.get("open_clip"), "__path__", []))
    if not locations:
        raise EncoderUnavailableError(
            "the CLIP BPE vocabulary was not found: install it with "
            "`pip install --no-deps open_clip_torch==3.3.0` or pass vocab_path=... "
            f"(a copy of {_VOCAB_NAME})"
        )
    path = Path(locations[0]) / _VOCAB_NAME
    if not path.is_file():
        raise EncoderUnavailableError(f"{path} is missing from the open_clip package")
    return path


# Words, single digits, runs of other symbols, and English contractions (CLIP's pattern with
# \p{L} spelled as [^\W\d_] so that the standard library's ``re`` suffices).
_TOKEN_PATTERN = re.compile(
    r"<start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[^\W\d_]+|\d|[^\s\w]+|_+",
    re.IGNORECASE,
)


class ClipBPETokenizer:
    """CLIP's byte-level BPE tokenizer (open_clip ``SimpleTokenizer``, "lower" cleaning).

    ftfy's mojibake repair is not applied (ftfy is not a dependency); HTML entities are
    unescaped and whitespace is collapsed as in CLIP.
    """

    def __init__(self, vocab_path: str | os.PathLike[str] | None = None, lowercase: bool = True):
        path = Path(vocab_path) if vocab_path is not None else default_vocab_path()
        try:
            with gzip.open(path) as handle:
                lines = handle.read().decode("utf-8").split("\n")
        except (OSError, EOFError, UnicodeDecodeError) as error:
            raise EncoderUnavailableError(
                f"cannot read the CLIP BPE vocabulary {path}: {error}"
            ) from error
        merges = [tuple(line.split()) for line in lines[1 : _NUM_MERGES + 1]]
        if len(merges) < 1 or any(len(m) != 2 for m in merges):
            raise EncoderUnavailableError(f"{path} is not a CLIP BPE merges file")
        self.byte_encoder = _bytes_to_unicode()
        self.byte_decoder = {v: k for k, v in self.byte_encoder.items()}
        vocab = list(self.byte_encoder.values())
        vocab = vocab + [v + "</w>" for v in vocab]
        vocab += ["".join(m) for m in merges]
        vocab += [SOT, EOT]
        self.encoder = {token: i for i, token in enumerate(vocab)}
        self.decoder = {i: token for token, i in self.encoder.items()}
        self.bpe_ranks = {merge: i for i, merge in enumerate(merges)}
        self.sot_id, self.eot_id = self.encoder[SOT], self.encoder[EOT]
        self.lowercase = lowercase
        self._cache: dict[str, str] = {SOT: SOT, EOT: EOT}

    @property
    def vocab_size(self) -> int:
        return len(self.encoder)

    def _bpe(self, token: str) -> str:
        cached = self._cache.get(token)
        if cached is not None:
            return cached
        word: tuple[str, ...] = (*token[:-1], token[-1] + "</w>")
        while len(word) > 1:
            pairs = {(word[i], word[i + 1]) for i in range(len(word) - 1)}
            best = min(pairs, key=lambda p: self.bpe_ranks.get(p, 1 << 30))
            if best not in self.bpe_ranks:
                break
            first, second = best
            merged: list[str] = []
            i = 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == first and word[i + 1] == second:
                    merged.append(first + second)
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = tuple(merged)
        result = " ".join(word)
        if len(self._cache) < 50_000:
            self._cache[token] = result
        return result

    def clean(self, text: str) -> str:
        text = html.unescape(html.unescape(text))
        text = " ".join(text.split())
        return text.lower() if self.lowercase else text

    def encode(self, text: str) -> list[int]:
        """BPE ids of ``text`` (without start / end tokens)."""
        ids: list[int] = []
        for piece in _TOKEN_PATTERN.findall(self.clean(text)):
            mapped = "".join(self.byte_encoder[b] for b in piece.encode("utf-8"))
            ids.extend(self.encoder[t] for t in self._bpe(mapped).split(" "))
        return ids

    def token_text(self, token_id: int) -> str:
        """Readable form of one id ("happy", "<end_of_text>")."""
        token = self.decoder[token_id]
        if token in (SOT, EOT):
            return token
        raw = bytearray(self.byte_decoder[c] for c in token.replace("</w>", ""))
        return raw.decode("utf-8", errors="replace")

    def __call__(
        self, texts: Sequence[str], context_length: int
    ) -> tuple[torch.Tensor, list[list[int]]]:
        """(B, context_length) int64 ids with start/end tokens, zero-padded; per-text id lists.

        Texts longer than the context are cut, keeping the end token (as open_clip does).
        """
        rows: list[list[int]] = []
        for text in texts:
            ids = [self.sot_id, *self.encode(text), self.eot_id]
            if len(ids) > context_length:
                ids = [*ids[: context_length - 1], self.eot_id]
            rows.append(ids)
        batch = torch.zeros(len(rows), context_length, dtype=torch.long)
        for i, ids in enumerate(rows):
            batch[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        return batch, rows


# -------------------------------------------------------------------------------- model
class _QuickGELU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class _ResidualAttentionBlock(nn.Module):
    """Pre-norm transformer block with open_clip's parameter names."""

    def __init__(self, width: int, heads: int, activation: str) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(width)
        act: nn.Module = _QuickGELU() if activation == "quick_gelu" else nn.GELU()
        self.mlp = nn.Sequential(
            OrderedDict(
                [
                    ("c_fc", nn.Linear(width, 4 * width)),
                    ("gelu", act),
                    ("c_proj", nn.Linear(4 * width, width)),
                ]
            )
        )

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor) -> torch.Tensor:
        """(B, T, W) -> (B, T, W); ``attn_mask`` (T, T) additive (-inf above the diagonal)."""
        y = self.ln_1(x)
        x = x + self.attn(y, y, y, need_weights=False, attn_mask=attn_mask)[0]
        return x + self.mlp(self.ln_2(x))


class _Transformer(nn.Module):
    def __init__(self, width: int, layers: int, heads: int, activation: str) -> None:
        super().__init__()
        self.resblocks = nn.ModuleList(
            _ResidualAttentionBlock(width, heads, activation) for _ in range(layers)
        )

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor) -> torch.Tensor:
        for block in self.resblocks:
            x = block(x, attn_mask)
        return x


class ClipTextTransformer(nn.Module):
    """CLIP's text tower. ``forward(ids (B, T)) -> (B, T, W)`` hidden states after ``ln_final``."""

    def __init__(self, config: ClipTextConfig) -> None:
        super().__init__()
        self.config = config
        self.token_embedding = nn.Embedding(config.vocab_size, config.width)
        self.positional_embedding = nn.Parameter(torch.empty(config.context_length, config.width))
        self.transformer = _Transformer(
            config.width, config.layers, config.heads, config.activation
        )
        self.ln_final = nn.LayerNorm(config.width)
        self.text_projection = nn.Parameter(torch.empty(config.width, config.embed_dim))
        mask = torch.full((config.context_length, config.context_length), float("-inf")).triu(1)
        self.register_buffer("attn_mask", mask, persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """open_clip's initialisation (``CLIP.init_parameters``)."""
        width, layers = self.config.width, self.config.layers
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)
        proj_std = (width**-0.5) * ((2 * layers) ** -0.5)
        for block in self.transformer.resblocks:
            assert isinstance(block, _ResidualAttentionBlock)
            nn.init.normal_(block.attn.in_proj_weight, std=width**-0.5)
            nn.init.normal_(block.attn.out_proj.weight, std=proj_std)
            c_fc, c_proj = cast(nn.Linear, block.mlp.c_fc), cast(nn.Linear, block.mlp.c_proj)
            nn.init.normal_(c_fc.weight, std=(2 * width) ** -0.5)
            nn.init.normal_(c_proj.weight, std=proj_std)
        nn.init.normal_(self.text_projection, std=width**-0.5)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, T) int64 token ids, T <= context_length -> (B, T, W) float32."""
        length = ids.shape[1]
        mask: torch.Tensor = self.attn_mask  # type: ignore[assignment]
        x = self.token_embedding(ids) + self.positional_embedding[:length]
        x = self.transformer(x, mask[:length, :length])
        return self.ln_final(x)

    def pooled(self, ids: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        """(B, D) CLIP text features: the end token's state times ``text_projection``."""
        end = ids.argmax(dim=-1)  # the end token has the largest id
        return hidden[torch.arange(ids.shape[0]), end] @ self.text_projection


# ---------------------------------------------------------------------------- weights
def load_clip_text_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The text-tower tensors of an open_clip / OpenAI checkpoint (vision keys dropped).

    Raises:
        EncoderUnavailableError: missing or unreadable file, or no CLIP text tower in it.
    """
    file = Path(path)
    if not file.is_file():
        raise EncoderUnavailableError(f"CLIP weights not found: {file}")
    state: Any
    try:
        if file.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(file))
        else:
            try:
                with warnings.catch_warnings():  # "looks like a TorchScript archive"
                    warnings.simplefilter("ignore", UserWarning)
                    state = torch.load(file, map_location="cpu", weights_only=True)
            except RuntimeError as error:
                if "TorchScript" not in str(error) and "torch.jit" not in str(error):
                    raise
                with warnings.catch_warnings():  # torch.jit.load is deprecated in torch 2.13
                    warnings.simplefilter("ignore", DeprecationWarning)
                    state = torch.jit.load(str(file), map_location="cpu").state_dict()
    except EncoderUnavailableError:
        raise
    except Exception as error:
        raise EncoderUnavailableError(f"cannot read CLIP weights {file}: {error}") from error
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise EncoderUnavailableError(f"{file} does not hold a state dict")
    prefixes = (
        "token_embedding.",
        "positional_embedding",
        "transformer.",
        "ln_final.",
        "text_projection",
    )
    text: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        name = str(key).removeprefix("module.")
        if name.startswith(prefixes) and isinstance(value, torch.Tensor):
            text[name] = value.float()
    if "token_embedding.weight" not in text or "positional_embedding" not in text:
        raise EncoderUnavailableError(
            f"{file} has no CLIP text tower (token_embedding / positional_embedding missing); "
            "expected an open_clip or OpenAI CLIP checkpoint such as ViT-B-32"
        )
    if text.get("text_projection") is not None and "text_projection.weight" in text:
        raise EncoderUnavailableError(f"{file}: ambiguous text_projection")
    if "text_projection.weight" in text:  # nn.Linear form (some open_clip configs): (D, W)
        text["text_projection"] = text.pop("text_projection.weight").T.contiguous()
    return text


def _config_from_state(
    config: ClipTextConfig, state: dict[str, torch.Tensor], heads_given: bool
) -> ClipTextConfig:
    """Architecture read from the tensors; heads cannot be, so CLIP's width // 64 unless given."""
    vocab_size, width = state["token_embedding.weight"].shape
    context_length = state["positional_embedding"].shape[0]
    layers = len({k.split(".")[2] for k in state if k.startswith("transformer.resblocks.")})
    projection = state.get("text_projection")
    embed_dim = int(projection.shape[1]) if projection is not None else int(width)
    heads = config.heads if heads_given else max(1, int(width) // 64)
    return replace(
        config, vocab_size=int(vocab_size), width=int(width), context_length=int(context_length),
        layers=layers, embed_dim=embed_dim, heads=heads,
    )  # fmt: skip


# ---------------------------------------------------------------------------- encoder
class ClipTextEncoder:
    """The ``clip`` text encoder: ``encode(texts) -> TokenBatch`` (see the module docstring).

    Args:
        weights_path: checkpoint file (else ``$FACECAST_CLIP_WEIGHTS``).
        config: all options at once; keyword ``options`` override its fields.
        **options: fields of :class:`ClipTextConfig` (``random_init=True``, ``layers=2``, ...).

    Raises:
        EncoderUnavailableError: no weights (and not ``random_init``), unreadable weights or
            vocabulary.
        ValueError: bad options.
    """

    name = "clip"

    def __init__(
        self,
        weights_path: str | os.PathLike[str] | None = None,
        *,
        config: ClipTextConfig | None = None,
        **options: Any,
    ) -> None:
        known = {f.name for f in fields(ClipTextConfig)}
        unknown = set(options) - known
        if unknown:
            raise ValueError(f"unknown clip options {sorted(unknown)}; valid: {sorted(known)}")
        config = replace(config or ClipTextConfig(), **options)
        if weights_path is not None:
            config = replace(config, weights_path=str(weights_path))
        elif config.weights_path is None and os.environ.get(CLIP_WEIGHTS_ENV):
            config = replace(config, weights_path=os.environ[CLIP_WEIGHTS_ENV])
        state: dict[str, torch.Tensor] | None = None
        if config.weights_path is not None:
            state = load_clip_text_state_dict(config.weights_path)
            config = _config_from_state(config, state, heads_given="heads" in options)
        elif not config.random_init:
            raise EncoderUnavailableError(
                "the clip text encoder needs its weights on disk and never downloads them: pass "
                "weights_path=... (e.g. open_clip_pytorch_model.bin of "
                "laion/CLIP-ViT-B-32-laion2B-s34B-b79K, or OpenAI's ViT-B-32.pt with "
                f"activation='quick_gelu') or set ${CLIP_WEIGHTS_ENV}; random_init=True runs "
                "it untrained (tests only)"
            )
        self.tokenizer = ClipBPETokenizer(config.vocab_path, lowercase=config.lowercase)
        if self.tokenizer.vocab_size > config.vocab_size:
            raise ValueError(
                f"the BPE vocabulary has {self.tokenizer.vocab_size} tokens but the model only "
                f"{config.vocab_size} embeddings"
            )
        generator_state = torch.random.get_rng_state()
        try:
            torch.manual_seed(config.seed)
            self.model = ClipTextTransformer(config)
        finally:
            torch.random.set_rng_state(generator_state)
        if state is not None:
            missing, unexpected = self.model.load_state_dict(state, strict=False)
            if missing or unexpected:
                raise EncoderUnavailableError(
                    f"{config.weights_path} does not match the CLIP text tower: missing "
                    f"{missing[:5]}, unexpected {unexpected[:5]}"
                )
        self.model.eval()
        self.config = config
        self.dim = config.dim
        logger.info(
            "clip text encoder: width %d, %d layers, %s weights",
            config.width, config.layers, config.weights_path or "random",
        )  # fmt: skip

    @torch.inference_mode()
    def encode(self, texts: Sequence[str]) -> TokenBatch:
        """(B, T, dim) embeddings of the real tokens (start, BPE tokens, end) and a (B, T) mask."""
        items = check_texts(texts)
        ids, rows = self.tokenizer(items, self.config.context_length)
        length = max((len(r) for r in rows), default=0)
        if length == 0:
            empty = torch.zeros(0, 0, self.dim)
            return TokenBatch(empty, torch.zeros(0, 0, dtype=torch.bool), [])
        ids = ids[:, :length]
        hidden = self.model(ids)
        if self.config.project_tokens:
            hidden = hidden @ self.model.text_projection
        mask = torch.zeros(len(rows), length, dtype=torch.bool)
        for i, row in enumerate(rows):
            mask[i, : len(row)] = True
        hidden = hidden * mask.unsqueeze(-1)
        tokens = [[self.tokenizer.token_text(t) for t in row] for row in rows]
        return TokenBatch(hidden.float().contiguous(), mask, tokens)

    @torch.inference_mode()
    def encode_pooled(self, texts: Sequence[str]) -> torch.Tensor:
        """(B, embed_dim) CLIP sentence features (the end token, projected), unnormalised."""
        items = check_texts(texts)
        ids, rows = self.tokenizer(items, self.config.context_length)
        length = max((len(r) for r in rows), default=1)
        ids = ids[:, :length]
        return self.model.pooled(ids, self.model(ids))
