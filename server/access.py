"""Who may do what: session keys, the operator right, view-only viewers, browser origins.

Rights on a session (:class:`Right`):

* ``DRIVE``: commands (instruct, cancel, set, capture), ``/upload``, ``/capture``, the video and
  every event, thumbnails included;
* ``VIEW``: the video and the events (without the source thumbnail), ``ping``; nothing else;
* ``NONE``: refused before anything is attached.

A private session (one per ``POST /offer`` without ``session``) is driven by whoever holds its
key: a secret made when the session is made (:func:`new_session_key`), answered to the offer
that made it and never shown anywhere else (not in ``/api/status``, not in events). Without it
a client gets nothing of that session, not even its video.

The broadcast session is driven by the *operator*; everyone else who reaches the server may
watch it (``VIEW``: the OBS overlay, a kiosk that is not the operator's). The operator is:

* with ``config.token`` (``--token``): a request that presents it (``X-Facecast-Token`` or
  ``Authorization: Bearer`` header, the offer's ``"token"``, or ``?token=``, masked in the
  access log); presenting a wrong one is refused (401), presenting none gives ``VIEW``;
* without it: a request from this machine, i.e. from a loopback address, whose ``Host`` is a
  loopback name (``localhost``, ``127.0.0.1``, ``[::1]``: a DNS-rebound name is not) and that no
  proxy forwarded (no ``Forwarded`` / ``X-Forwarded-For`` header).

Origins: every state-changing route (``POST /offer``, ``/upload``, ``/capture`` and the
websocket handshake) accepts a browser's ``Origin`` only if it is one of the public origins:
``config.public_origins`` (``--public-origin``) or, when none are configured, the server's own
listening origin(s) read from the socket the request came in on (``http://127.0.0.1:PORT``,
``http://localhost:PORT`` and ``http://[::1]:PORT`` on loopback; ``http://ADDRESS:PORT`` on
another interface; ``http://HOST:PORT`` for a ``--host`` name), plus ``config.allowed_origins``
(``--allow-origin``). The request's ``Host`` is never trusted for this (a DNS-rebinding page has
``Origin`` and ``Host`` both ``evil.example``). A request without ``Origin`` (curl, ``facecast
send``, the Python client, VMC tools) is allowed unless it carries a browser's cross-site
``Sec-Fetch-Site`` (``cross-site`` or ``same-site``).
"""

from __future__ import annotations

import enum
import hmac
import ipaddress
import secrets
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from server.config import ServerConfig, normalize_origin
from server.exceptions import AccessError

__all__ = [
    "KEY_HEADER",
    "TOKEN_HEADER",
    "AccessPolicy",
    "Right",
    "keys_match",
    "new_session_key",
]

KEY_HEADER = "X-Facecast-Key"
TOKEN_HEADER = "X-Facecast-Token"
_KEY_BYTES = 24  # 192 random bits: token_urlsafe gives 32 characters
_FORWARDED = ("Forwarded", "X-Forwarded-For", "X-Real-IP")
_BROWSER_SAFE_SITES = ("same-origin", "none")  # Sec-Fetch-Site values of a same-origin request


class Right(enum.IntEnum):
    """What a connection or request may do with one session (ordered: DRIVE > VIEW > NONE)."""

    NONE = 0
    VIEW = 1
    DRIVE = 2


def new_session_key() -> str:
    """A fresh unguessable session key (URL-safe, 32 characters, 192 bits)."""
    return secrets.token_urlsafe(_KEY_BYTES)


def keys_match(presented: str | None, expected: str | None) -> bool:
    """Constant-time comparison of a presented secret with the expected one."""
    if presented is None or expected is None:
        return False
    return hmac.compare_digest(
        presented.encode("utf-8", "replace"), expected.encode("utf-8", "replace")
    )


def _plain_address(address: str) -> str:
    """``address`` with an IPv4-mapped IPv6 form (``::ffff:127.0.0.1``, what a dual-stack
    socket reports) written as the IPv4 address, and without an IPv6 zone (``%eth0``)."""
    address = address.split("%", 1)[0]
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    mapped = getattr(parsed, "ipv4_mapped", None)
    return str(mapped) if mapped is not None else address


def _is_loopback_address(address: str | None) -> bool:
    if not address:
        return False
    try:
        return ipaddress.ip_address(_plain_address(address)).is_loopback
    except ValueError:
        return False


def _host_name(host_header: str) -> str | None:
    """The host name of a ``Host`` header (``"[::1]:8080"`` → ``"::1"``), None if malformed."""
    try:
        return urlsplit("//" + host_header).hostname
    except ValueError:
        return None


def _is_loopback_name(name: str | None) -> bool:
    return name == "localhost" or (name is not None and _is_loopback_address(name))


def _origin(scheme: str, host: str, port: int) -> str:
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    default = {"http": 80, "https": 443}[scheme]
    return f"{scheme}://{host}" if port == default else f"{scheme}://{host}:{port}"


class AccessPolicy:
    """The server's authorization rules (module docstring), for one :class:`ServerConfig`."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self._configured = frozenset(normalize_origin(origin) for origin in config.public_origins)
        self._extra = frozenset(normalize_origin(origin) for origin in config.allowed_origins)

    # ------------------------------------------------------------------------ origins
    def own_origins(self, sockname: Any) -> frozenset[str]:
        """The origins the browser shows for pages of this server when none are configured,
        from the local ``(address, port, ...)`` the request came in on."""
        if not isinstance(sockname, tuple) or len(sockname) < 2:
            return frozenset()
        address, port = _plain_address(str(sockname[0])), int(sockname[1])
        origins = {_origin("http", address, port)}
        if _is_loopback_address(address):
            origins |= {_origin("http", name, port) for name in ("127.0.0.1", "localhost", "::1")}
        host = self.config.host
        if host and not _is_ip_or_wildcard(host):
            origins.add(_origin("http", host.lower(), port))
        return frozenset(origins)

    def allowed_origins(self, sockname: Any) -> frozenset[str]:
        """Every ``Origin`` accepted on the state-changing routes of a request that came in on
        the local ``sockname``."""
        if self._configured:
            return self._configured | self._extra
        return self.own_origins(sockname) | self._extra

    def check_origin(self, request: web.Request) -> None:
        """Refuse a browser request from a foreign page (AccessError 403 ``bad_origin``)."""
        origin = request.headers.get("Origin")
        if origin is None:
            site = request.headers.get("Sec-Fetch-Site")
            if site is not None and site.lower() not in _BROWSER_SAFE_SITES:
                raise AccessError(
                    f"a cross-site browser request (Sec-Fetch-Site: {site[:40]}) is not allowed",
                    "bad_origin",
                    status=403,
                )
            return
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        if origin.strip().lower() not in self.allowed_origins(sockname):
            raise AccessError(
                f"origin {origin[:100]!r} is not allowed: open the page from the server's own "
                "address, or start the server with --public-origin",
                "bad_origin",
                status=403,
            )

    # ----------------------------------------------------------------------- operator
    def _presented_tokens(self, request: web.Request, body_token: str | None) -> list[str]:
        candidates = [
            body_token,
            request.headers.get(TOKEN_HEADER),
            request.query.get("token"),
        ]
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            candidates.append(auth.removeprefix("Bearer ").strip())
        return [c for c in candidates if c is not None]

    def is_operator(self, request: web.Request, body_token: str | None = None) -> bool:
        """Whether the request has the operator right (the broadcast's driver, /api/status).

        Raises:
            AccessError: 401 ``unauthorized`` when a token is configured and a wrong one is
                presented.
        """
        token = self.config.token
        if token is not None:
            presented = self._presented_tokens(request, body_token)
            if not presented:
                return False
            if any(keys_match(candidate, token) for candidate in presented):
                return True
            raise AccessError("the token is not valid", "unauthorized", status=401)
        return self.is_local(request)

    def is_local(self, request: web.Request) -> bool:
        """A request from this machine that no proxy forwarded and no rebound name reached."""
        if any(name in request.headers for name in _FORWARDED):
            return False
        if not _is_loopback_address(request.remote):
            return False
        host = request.headers.get("Host")
        return host is None or _is_loopback_name(_host_name(host))

    def require_operator(
        self, request: web.Request, what: str, body_token: str | None = None
    ) -> None:
        """Refuse a request without the operator right: 401 ``unauthorized`` when a token is
        configured (present it), 403 ``forbidden`` otherwise (only this machine may)."""
        if self.is_operator(request, body_token):
            return
        if self.config.token is not None:
            message = f"{what} needs the operator token (the server's --token)"
            raise AccessError(message, "unauthorized", status=401)
        raise AccessError(
            f"{what} is allowed from this machine only (start the server with --token to "
            "allow it from elsewhere)",
            "forbidden",
            status=403,
        )

    # ----------------------------------------------------------------------- sessions
    def right(
        self,
        request: web.Request,
        *,
        broadcast: bool,
        session_key: str | None,
        presented_keys: Iterable[str | None] = (),
        body_token: str | None = None,
    ) -> Right:
        """The right of ``request`` on one session.

        The broadcast: ``DRIVE`` for the operator, ``VIEW`` for everyone else. A private
        session: ``DRIVE`` with its key.

        Raises:
            AccessError: a private session without its key (401 ``key_required``) or with a
                wrong one (403 ``bad_key``); a wrong operator token (401 ``unauthorized``).
        """
        if broadcast:
            return Right.DRIVE if self.is_operator(request, body_token) else Right.VIEW
        keys = [key for key in presented_keys if key is not None]
        if not keys:
            raise AccessError(
                "this session needs its key (the one its offer was answered with)",
                "key_required",
                status=401,
            )
        if any(keys_match(key, session_key) for key in keys):
            return Right.DRIVE
        raise AccessError("the session key is not valid", "bad_key", status=403)


def _is_ip_or_wildcard(host: str) -> bool:
    if host in ("", "0.0.0.0", "::"):
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
