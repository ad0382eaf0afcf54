"""What aiohttp's own loggers may write: no traceback for a client's mistake, no secret.

Two logging filters, installed once by :func:`install_log_policy` (``create_app`` calls it):

* :class:`ClientFaultFilter` on ``aiohttp.server``: a request aiohttp's parser refuses (HTTP
  400: a request line or header too long, a malformed header) is logged at WARNING as one
  line, and a connection the client reset (e.g. a websocket reset before its handshake
  completed) at INFO as one line, instead of ERROR with a traceback. Server faults (any other
  exception) keep their traceback.
* :class:`SecretMaskFilter` on ``aiohttp.access``: the value of every ``token=`` and ``key=``
  query parameter (request line, Referer, and the structured ``extra`` fields) is written as
  ``***``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError

__all__ = ["ClientFaultFilter", "SecretMaskFilter", "install_log_policy", "mask_secrets"]

_SECRET_PARAMETER = re.compile(r"(?i)((?:^|[?&;\s\"'])(?:token|key)=)[^&;#\s\"']*")
_MAX_DETAIL_CHARS = 200


def mask_secrets(text: str) -> str:
    """``text`` with the value of every ``token=`` and ``key=`` parameter replaced by ``***``."""
    lowered = text.lower()
    if "oken=" not in lowered and "key=" not in lowered:
        return text
    return _SECRET_PARAMETER.sub(r"\1***", text)


def _is_client_fault(error: BaseException | None) -> tuple[bool, int]:
    """(whether ``error`` is the client's doing, the level to log it at)."""
    if isinstance(error, HttpProcessingError) and 400 <= (error.code or 400) < 500:
        return True, logging.WARNING
    if isinstance(error, ConnectionResetError | BrokenPipeError):
        return True, logging.INFO
    return False, logging.ERROR


class ClientFaultFilter(logging.Filter):
    """Rewrites ``aiohttp.server`` records caused by the client into one line without a
    traceback (WARNING for refused requests, INFO for resets)."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        client_fault, level = _is_client_fault(error)
        if client_fault and error is not None:
            detail = getattr(error, "message", None) or str(error)
            detail = str(detail).strip().replace("\n", " ")[:_MAX_DETAIL_CHARS]
            record.msg = f"{record.getMessage()}: {type(error).__name__}: {detail}"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
            record.levelno = level
            record.levelname = logging.getLevelName(level)
        return True


class SecretMaskFilter(logging.Filter):
    """Masks ``token=`` and ``key=`` values in ``aiohttp.access`` records (message and
    ``extra``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_secrets(record.getMessage())
        record.args = ()
        for key, value in list(vars(record).items()):
            if key != "msg":
                masked = _mask_value(value)
                if masked is not value:
                    setattr(record, key, masked)
        return True


def _mask_value(value: Any) -> Any:
    if isinstance(value, str):
        masked = mask_secrets(value)
        return value if masked == value else masked
    if isinstance(value, dict) and any(
        isinstance(v, str) and ("oken=" in v.lower() or "key=" in v.lower()) for v in value.values()
    ):
        return {k: mask_secrets(v) if isinstance(v, str) else v for k, v in value.items()}
    return value


def install_log_policy() -> None:
    """Add the two filters to aiohttp's loggers (once per process; calling again is a no-op)."""
    for name, kind in (("aiohttp.server", ClientFaultFilter), ("aiohttp.access", SecretMaskFilter)):
        target = logging.getLogger(name)
        if not any(isinstance(existing, kind) for existing in target.filters):
            target.addFilter(kind())
