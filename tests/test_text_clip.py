"""The CLIP (ViT-B-32) text tower: tokenizer, weights loading, token embeddings, clear errors."""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from engines.text import EncoderUnavailableError, TokenBatch, get_encoder
from engines.text.clip import (
    CLIP_WEIGHTS_ENV,
    ClipBPETokenizer,
    ClipTextConfig,
    ClipTextEncoder,
    ClipTextTransformer,
)

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("open_clip") is None,
    reason="the CLIP BPE vocabulary comes from open_clip_torch (pip install --no-deps)",
)
TINY: dict[str, Any] = {"width": 64, "layers": 2, "heads": 2, "embed_dim": 32}


@pytest.fixture(scope="module")
def tokenizer() -> ClipBPETokenizer:
    return ClipBPETokenizer()


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random tiny text tower saved like an open_clip checkpoint (plus vision keys)."""
    torch.manual_seed(0)
    model = ClipTextTransformer(ClipTextConfig(**TINY))
    state = {f"module.{k}": v for k, v in model.state_dict().items()}
    state["module.visual.conv1.weight"] = torch.zeros(4, 3, 2, 2)
    state["module.logit_scale"] = torch.tensor(4.6)
    path = tmp_path_factory.mktemp("clip") / "tiny_clip.pt"
    torch.save({"state_dict": state, "epoch": 3}, path)
    return path


def test_tokenizer_matches_known_clip_ids(tokenizer: ClipBPETokenizer) -> None:
    assert tokenizer.vocab_size == 49408
    assert (tokenizer.sot_id, tokenizer.eot_id) == (49406, 49407)
    # ids of OpenAI CLIP's tokenizer for these words
    assert tokenizer.encode("a photo of a cat") == [320, 1125, 539, 320, 2368]
    ids, rows = tokenizer(["Hello,  WORLD!"], context_length=77)
    assert ids.shape == (1, 77) and ids[0, 0] == 49406
    assert [tokenizer.token_text(t) for t in rows[0]] == [
        "<start_of_text>", "hello", ",", "world", "!", "<end_of_text>",
    ]  # fmt: skip
    _, long_rows = tokenizer(["word " * 200], context_length=77)
    assert len(long_rows[0]) == 77 and long_rows[0][-1] == tokenizer.eot_id
    assert tokenizer.encode("") == [] and tokenizer.encode("ünïcödé 😀 &amp;")


def test_random_tiny_encoder_gives_token_batches() -> None:
    encoder = ClipTextEncoder(random_init=True, **TINY)
    assert encoder.name == "clip" and encoder.dim == 64
    batch = encoder.encode(["Turn this face from anger to joy", "make her smile", ""])
    assert isinstance(batch, TokenBatch)
    assert batch.embeddings.shape == (3, 9, 64) and batch.embeddings.dtype == torch.float32
    assert batch.mask.sum(dim=1).tolist() == [9, 5, 2]
    assert batch.tokens[1] == ["<start_of_text>", "make", "her", "smile", "<end_of_text>"]
    assert torch.all(batch.embeddings[1, 5:] == 0)  # padding is zero
    # order matters: the same words in another order give other embeddings
    a, b = encoder.encode(["from anger to joy", "from joy to anger"]).embeddings
    assert not torch.allclose(a, b)
    projected = ClipTextEncoder(random_init=True, project_tokens=True, **TINY)
    assert projected.encode(["hi"]).embeddings.shape[-1] == 32


def test_padding_does_not_change_real_tokens() -> None:
    encoder = ClipTextEncoder(random_init=True, **TINY)
    alone = encoder.encode(["make her smile"]).embeddings[0]
    together = encoder.encode(["make her smile", "look surprised then very angry"]).embeddings[0]
    torch.testing.assert_close(alone, together[: alone.shape[0]], atol=1e-5, rtol=1e-5)


def test_weights_file_round_trip(tiny_weights: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    encoder = ClipTextEncoder(tiny_weights, heads=2)
    assert (encoder.config.width, encoder.config.layers, encoder.config.embed_dim) == (64, 2, 32)
    torch.manual_seed(0)
    reference = ClipTextTransformer(ClipTextConfig(**TINY))
    ids, _ = encoder.tokenizer(["happily surprised"], 77)
    ids = ids[:, :5]
    torch.testing.assert_close(encoder.model(ids), reference(ids))
    # through the registry and the environment variable
    monkeypatch.setenv(CLIP_WEIGHTS_ENV, str(tiny_weights))
    by_name = get_encoder("clip", heads=2)
    assert by_name.dim == 64
    torch.testing.assert_close(
        by_name.encode(["joy"]).embeddings, encoder.encode(["joy"]).embeddings
    )


def test_safetensors_weights(tiny_weights: Path, tmp_path: Path) -> None:
    from safetensors.torch import save_file

    state = torch.load(tiny_weights, weights_only=True)["state_dict"]
    path = tmp_path / "open_clip_model.safetensors"
    save_file({k.removeprefix("module."): v.contiguous() for k, v in state.items()}, str(path))
    encoder = ClipTextEncoder(path, heads=2)
    reference = ClipTextEncoder(tiny_weights, heads=2)
    torch.testing.assert_close(
        encoder.encode(["sad"]).embeddings, reference.encode(["sad"]).embeddings
    )


def test_openai_torchscript_weights(tmp_path: Path) -> None:
    """OpenAI ships ViT-B-32.pt as a TorchScript archive: its parameters load too."""
    import warnings

    torch.manual_seed(2)
    model = ClipTextTransformer(ClipTextConfig(**TINY)).eval()
    ids = torch.tensor([[49406, 320, 1125, 49407]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(model, ids)
    path = tmp_path / "ViT-tiny.pt"
    traced.save(str(path))
    encoder = ClipTextEncoder(path, heads=2)
    torch.testing.assert_close(encoder.model(ids), model(ids))


def test_real_vit_b_32_shapes_with_random_init() -> None:
    encoder = ClipTextEncoder(random_init=True)
    n_params = sum(p.numel() for p in encoder.model.parameters())
    assert n_params == 63_428_096  # open_clip ViT-B-32 text tower + projection
    batch = encoder.encode(["look surprised, then angry, then laugh"])
    assert batch.embeddings.shape[0] == 1 and batch.embeddings.shape[2] == 512
    assert encoder.encode_pooled(["a"]).shape == (1, 512)


def test_asking_without_weights_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(CLIP_WEIGHTS_ENV, raising=False)
    with pytest.raises(EncoderUnavailableError, match="weights_path"):
        get_encoder("clip")
    with pytest.raises(EncoderUnavailableError, match="not found"):
        ClipTextEncoder(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(EncoderUnavailableError, match="cannot read"):
        ClipTextEncoder(junk)
    other = tmp_path / "other.pt"
    torch.save({"fc.weight": torch.zeros(2, 2)}, other)
    with pytest.raises(EncoderUnavailableError, match="no CLIP text tower"):
        ClipTextEncoder(other)
    with pytest.raises(ValueError, match="unknown clip options"):
        ClipTextEncoder(random_init=True, colour="red")
    with pytest.raises(ValueError, match="divisible"):
        ClipTextConfig(width=65, heads=2)


def test_matches_open_clip_text_transformer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parity with open_clip's own TextTransformer (imported without torchvision)."""
    spec = importlib.util.find_spec("open_clip")
    assert spec is not None and spec.submodule_search_locations
    package = types.ModuleType("open_clip")
    package.__path__ = list(spec.submodule_search_locations)
    fake_tv = types.ModuleType("torchvision")
    fake_ops = types.ModuleType("torchvision.ops")
    fake_misc = types.ModuleType("torchvision.ops.misc")
    fake_misc.FrozenBatchNorm2d = nn.BatchNorm2d  # type: ignore[attr-defined]
    encoder = ClipTextEncoder(random_init=True, **TINY)
    fakes = {
        "open_clip": package,
        "torchvision": fake_tv,
        "torchvision.ops": fake_ops,
        "torchvision.ops.misc": fake_misc,
    }
    for name, module in fakes.items():
        monkeypatch.setitem(sys.modules, name, module)
    for name in [n for n in sys.modules if n.startswith("open_clip.")]:
        monkeypatch.delitem(sys.modules, name)
    try:
        from open_clip.transformer import TextTransformer
    except ImportError as error:  # pragma: no cover - depends on open_clip internals
        pytest.skip(f"open_clip's transformer module does not import here: {error}")
    torch.manual_seed(1)
    theirs = TextTransformer(context_length=77, vocab_size=49408, width=64, heads=2, layers=2,
                             output_dim=32, output_tokens=True).eval()  # fmt: skip
    encoder.model.load_state_dict(theirs.state_dict(), strict=True)
    ids, rows = encoder.tokenizer(["Turn this face from anger to joy", "smile"], 77)
    with torch.no_grad():
        pooled, tokens = theirs(ids)
        ours = encoder.model(ids)
        ours_pooled = encoder.model.pooled(ids, ours)
    for i, row in enumerate(rows):
        torch.testing.assert_close(ours[i, : len(row)], tokens[i, : len(row)], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(ours_pooled, pooled, atol=1e-5, rtol=1e-4)
