"""ICE policy: which local addresses the server's WebRTC peers offer as candidates.

A server that listens on loopback only (the default) serves browsers on this machine, so its
media ports should be on loopback too: nothing is exposed on the LAN interfaces and no packet
is addressed anywhere but 127.0.0.1. aioice has no option for that, so this module narrows its
host-address discovery for the process (idempotent; a server on another interface leaves it).
"""

from __future__ import annotations

import ipaddress

__all__ = ["is_loopback_host", "restrict_ice_to_loopback"]


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
