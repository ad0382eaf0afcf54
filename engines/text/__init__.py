"""Text encoders behind one interface: token-level embeddings plus a mask (order survives)."""

from engines.text.base import TextEncoder, TokenBatch, check_texts
from engines.text.exceptions import EncoderUnavailableError, TextEncoderError, TextInputError
from engines.text.registry import ENCODER_NAMES, get_encoder

__all__ = [
    "ENCODER_NAMES",
    "EncoderUnavailableError",
    "TextEncoder",
    "TextEncoderError",
    "TextInputError",
    "TokenBatch",
    "check_texts",
    "get_encoder",
]
