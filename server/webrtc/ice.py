"""ICE policy: which local addresses the server's WebRTC peers offer as candidates, which
STUN/TURN servers they use, and how soon a silent peer counts as gone.

A server that listens on loopback only (the default) serves browsers on this machine, so its
media ports should be on loopback too: nothing is exposed on the LAN interfaces and no packet
is addressed anywhere but 127.0.0.1. aioice has no option for that, so this module narrows its
host-address discovery for the process (idempotent; a server on another interface leaves it).

STUN/TURN: none by default (no third party is ever contacted). ``--ice-server`` URLs
(:class:`server.config.IceServer`) go to the page unchanged (``GET /api/ice``); the server's own
peer uses what aiortc supports of them: the first ``stun:`` and the first ``turn:``/``turns:``
server with a name or IPv4 host (aiortc takes one of each and cannot parse IPv6 literals).

Liveness: aioice closes a connection whose ICE consent checks go unanswered (RFC 7675), by
default after 6 checks 5 s apart. A browser tab that is closed abruptly says nothing, so its
session rendered for 30 s more; :func:`set_consent_timeout` shortens that for the process.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiortc import RTCIceServer

    from server.config import IceServer

__all__ = [
    "browser_ice_config",
    "is_loopback_host",
    "restrict_ice_to_loopback",
    "rtc_ice_servers",
    "set_consent_timeout",
]

logger = logging.getLogger(__name__)

_CONSENT_CHECKS = 4  # unanswered consent checks in a row before the peer counts as gone


def is_loopback_host(host: str) -> bool:
    """True for ``127.0.0.0/8``, ``::1`` and ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _loopback_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    return ["127.0.0.1"] if use_ipv4 else (["::1"] if use_ipv6 else [])


def restrict_ice_to_loopback() -> None:
    """Gather ICE host candidates on loopback only, for every peer of this process."""
    import aioice.ice

    aioice.ice.get_host_addresses = _loopback_addresses


def set_consent_timeout(seconds: float) -> None:
    """Close peers that stop answering ICE consent checks after about ``seconds`` (process-wide:
    ``_CONSENT_CHECKS`` checks, ``seconds / _CONSENT_CHECKS`` apart, each ±20 %)."""
    import aioice.ice

    aioice.ice.CONSENT_FAILURES = _CONSENT_CHECKS
    aioice.ice.CONSENT_INTERVAL = seconds / _CONSENT_CHECKS  # type: ignore[assignment]  # a sleep


def browser_ice_config(servers: Sequence[IceServer]) -> dict[str, object]:
    """The page's ``RTCConfiguration`` (``GET /api/ice``): ``{"iceServers": [...]}``."""
    return {"iceServers": [server.to_browser() for server in servers]}


def _aiortc_can_use(server: IceServer) -> bool:
    host = server.url.split(":", 1)[1]
    if host.startswith("["):
        return False  # aiortc's URL parser takes no IPv6 literal
    if server.scheme == "turn":
        return "transport=" not in server.url or server.url.endswith(("=udp", "=tcp"))
    if server.scheme == "turns":
        return not server.url.endswith("=udp")
    return server.scheme == "stun"  # aiortc has no stuns:


def rtc_ice_servers(servers: Sequence[IceServer]) -> list[RTCIceServer]:
    """The servers aiortc's own peer can use: the first STUN and the first TURN one."""
    from aiortc import RTCIceServer

    chosen: list[RTCIceServer] = []
    have: set[str] = set()
    for server in servers:
        kind = "turn" if server.is_turn else "stun"
        if kind in have or not _aiortc_can_use(server):
            continue
        have.add(kind)
        chosen.append(RTCIceServer(server.url, server.username, server.credential))
    return chosen
