"""engines.text: the interface and the offline wordllama encoder."""

from __future__ import annotations

import pytest
import torch

import engines.text as text
from engines.text import EncoderUnavailableError, TextInputError, TokenBatch, get_encoder


@pytest.fixture(scope="module")
def encoder():
    return get_encoder("wordllama")


def test_public_api() -> None:
    assert set(text.__all__) == {
        "ENCODER_NAMES",
        "EncoderUnavailableError",
        "TextEncoder",
        "TextEncoderError",
        "TextInputError",
        "TokenBatch",
        "check_texts",
        "get_encoder",
    }


def test_shapes_and_mask(encoder) -> None:
    batch = encoder.encode(["from anger to joy", "smile", ""])
    assert isinstance(batch, TokenBatch)
    assert isinstance(encoder, text.TextEncoder)
    b, t, d = batch.embeddings.shape
    assert (b, d) == (3, encoder.dim) and batch.embeddings.dtype == torch.float32
    assert batch.mask.shape == (3, t) and batch.mask.dtype == torch.bool
    assert batch.lengths.tolist() == [len(batch.tokens[0]), len(batch.tokens[1]), 0]
    assert t == max(batch.lengths.tolist())
    # padding is zero, real tokens are not
    assert torch.all(batch.embeddings[~batch.mask] == 0)
    assert torch.all(batch.embeddings[batch.mask].abs().sum(-1) > 0)
    assert batch.pooled().shape == (3, encoder.dim)


def test_order_survives(encoder) -> None:
    batch = encoder.encode(["from anger to joy", "from joy to anger"])
    # same bag of tokens, different order: pooled vectors agree, token sequences do not
    assert torch.allclose(batch.pooled()[0], batch.pooled()[1], atol=1e-5)
    assert batch.tokens[0] != batch.tokens[1]
    assert not torch.allclose(batch.embeddings[0], batch.embeddings[1])


def test_case_insensitive_and_truncation() -> None:
    encoder = get_encoder("wordllama", max_tokens=3)
    batch = encoder.encode(["VERY SAD", "very sad", "one two three four five six"])
    assert torch.equal(batch.embeddings[0], batch.embeddings[1])
    assert batch.lengths[2] == 3


def test_bad_input(encoder) -> None:
    with pytest.raises(TextInputError):
        encoder.encode("not a list")
    with pytest.raises(TextInputError):
        encoder.encode(["ok", 3])  # type: ignore[list-item]
    with pytest.raises(EncoderUnavailableError, match="wordllama"):
        get_encoder("nope")
    with pytest.raises(ValueError, match="dim"):
        get_encoder("wordllama", dim=100)
