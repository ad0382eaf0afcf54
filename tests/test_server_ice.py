"""ICE policy: a server on loopback gathers loopback candidates only."""

from __future__ import annotations

import aioice.ice

from server.webrtc.ice import is_loopback_host, restrict_ice_to_loopback


def test_loopback_hosts():
    assert all(map(is_loopback_host, ["127.0.0.1", "127.8.0.1", "::1", "localhost"]))
    assert not any(map(is_loopback_host, ["0.0.0.0", "192.168.1.2", "example.org", "::"]))


def test_restriction_narrows_aioice_host_addresses(monkeypatch):
    monkeypatch.setattr(aioice.ice, "get_host_addresses", aioice.ice.get_host_addresses)
    restrict_ice_to_loopback()
    assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True) == ["127.0.0.1"]
    assert aioice.ice.get_host_addresses(use_ipv4=False, use_ipv6=True) == ["::1"]
