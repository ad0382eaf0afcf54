"""ICE policy: a server on loopback gathers loopback candidates only; STUN/TURN servers only
from --ice-server (none by default), validated, handed to aiortc and to the page; silent peers
are dropped after the liveness timeout. No test contacts any host."""

from __future__ import annotations

import asyncio
from typing import Any

import aioice.ice
import pytest
from aiohttp.test_utils import TestClient, TestServer
from test_server_fakes import FakeEngine

from server.app import create_app
from server.cli.cmd_serve import build_config
from server.cli.main import build_parser
from server.cli.main import main as cli_main
from server.config import IceServer, ServerConfig, parse_ice_server
from server.webrtc import signaling
from server.webrtc.ice import (
    browser_ice_config,
    is_loopback_host,
    restrict_ice_to_loopback,
    rtc_ice_servers,
    set_consent_timeout,
)


def test_loopback_hosts():
    assert all(map(is_loopback_host, ["127.0.0.1", "127.8.0.1", "::1", "localhost"]))
    assert not any(map(is_loopback_host, ["0.0.0.0", "192.168.1.2", "example.org", "::"]))


def test_restriction_narrows_aioice_host_addresses(monkeypatch):
    monkeypatch.setattr(aioice.ice, "get_host_addresses", aioice.ice.get_host_addresses)
    restrict_ice_to_loopback()
    assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True) == ["127.0.0.1"]
    assert aioice.ice.get_host_addresses(use_ipv4=False, use_ipv6=True) == ["::1"]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("stun:stun.example.org", IceServer("stun:stun.example.org")),
        (" stun:192.0.2.7:3478 ", IceServer("stun:192.0.2.7:3478")),
        (
            "turn:u:p%40ss@turn.example.org:3478",
            IceServer("turn:turn.example.org:3478", "u", "p@ss"),
        ),
        (
            "turn:turn.example.org:443?transport=tcp",
            IceServer("turn:turn.example.org:443?transport=tcp", "user", "secret"),
        ),
        ("turns:[2001:db8::1]:5349", IceServer("turns:[2001:db8::1]:5349", "user", "secret")),
    ],
)
def test_ice_server_urls_are_parsed(url: str, expected: IceServer) -> None:
    assert parse_ice_server(url, "user", "secret") == expected


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://turn.example.org", "must start with stun:"),
        ("stun://stun.example.org:3478", "without '//'"),
        ("stun:stun.example.org:70000", "port must be in [1, 65535]"),
        ("stun:", "not a valid STUN/TURN URL"),
        ("stun:host:3478?transport=tcp", "only for turn:"),
        ("turns:host?transport=udp", "use ?transport=tcp"),
        ("turn:host?transport=sctp", "not a valid"),
        ("stun:user:pw@host", "take no user name"),
        ("turn:host:3478", "needs a user name and a password"),
    ],
)
def test_bad_ice_server_urls_say_what_is_wrong(url: str, says: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_ice_server(url)
    assert says in str(info.value)


def test_no_ice_server_by_default_anywhere() -> None:
    """Without --ice-server nothing external is configured: not in the config, not for the
    server's peer, not for the page."""
    args = build_parser().parse_args(["serve"])
    config = build_config(args)
    assert config.ice_servers == ()
    assert rtc_ice_servers(config.ice_servers) == []
    assert browser_ice_config(config.ice_servers) == {"iceServers": []}


def test_ice_options_become_the_server_and_browser_configuration() -> None:
    args = build_parser().parse_args(
        [
            "serve",
            "--ice-server",
            "stun:stun.example.org:3478",
            "--ice-server",
            "stuns:stun2.example.org",
            "--ice-server",
            "turn:turn.example.org:3478?transport=tcp",
            "--ice-server",
            "turn:other:pw@turn2.example.org",
            "--ice-username",
            "alice",
            "--ice-credential",
            "s3cret",
        ]
    )
    servers = build_config(args).ice_servers
    assert [s.url for s in servers] == [
        "stun:stun.example.org:3478",
        "stuns:stun2.example.org",
        "turn:turn.example.org:3478?transport=tcp",
        "turn:turn2.example.org",
    ]
    assert browser_ice_config(servers)["iceServers"] == [
        {"urls": ["stun:stun.example.org:3478"]},
        {"urls": ["stuns:stun2.example.org"]},
        {
            "urls": ["turn:turn.example.org:3478?transport=tcp"],
            "username": "alice",
            "credential": "s3cret",
        },
        {"urls": ["turn:turn2.example.org"], "username": "other", "credential": "pw"},
    ]
    # aiortc takes one STUN and one TURN server (and no stuns:, no IPv6 literal)
    rtc = rtc_ice_servers(servers)
    assert [(s.urls, s.username, s.credential) for s in rtc] == [
        ("stun:stun.example.org:3478", None, None),
        ("turn:turn.example.org:3478?transport=tcp", "alice", "s3cret"),
    ]
    six = (IceServer("stun:[2001:db8::1]:3478"), IceServer("stun:stun.example.org"))
    assert [s.urls for s in rtc_ice_servers(six)] == ["stun:stun.example.org"]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--ice-server", "stun//nope"], "must start with stun:"),
        (["--ice-server", "turn:turn.example.org"], "needs a user name and a password"),
        (["--ice-username", "u", "--ice-credential", "p"], "need a turn: or turns:"),
        (["--liveness-timeout", "1"], "liveness_timeout must be in [4, 60]"),
    ],
)
def test_serve_refuses_bad_ice_options_with_exit_code_2(
    argv: list[str], says: str, capsys: Any
) -> None:
    assert cli_main(["serve", *argv]) == 2
    assert says in capsys.readouterr().err


def test_server_peer_connection_gets_the_configured_servers(monkeypatch: Any) -> None:
    seen: list[Any] = []

    class Recorded(Exception):
        pass

    def fake_peer_connection(configuration: Any) -> Any:
        seen.append(configuration)
        raise Recorded

    monkeypatch.setattr(signaling, "RTCPeerConnection", fake_peer_connection)
    offer = signaling.Offer("v=0", "offer", None, None)
    turn = IceServer("turn:turn.example.org:3478", "u", "p")
    for servers in ((), (turn,)):
        with pytest.raises(Recorded):
            asyncio.run(
                signaling.answer_offer(
                    offer, None, ServerConfig(ice_servers=servers), None, own_session=True
                )  # type: ignore[arg-type]
            )
    assert seen[0].iceServers == []
    assert [(s.urls, s.username, s.credential) for s in seen[1].iceServers] == [
        ("turn:turn.example.org:3478", "u", "p")
    ]


def test_api_ice_serves_the_page_configuration_to_every_page() -> None:
    """Every page that may open a session needs it (TURN credentials included): no token,
    also when the server has one (the operator token is for the broadcast and /api/status)."""

    async def scenario() -> None:
        turn = IceServer("turn:turn.example.org:3478", "u", "p")
        for options, expected in (
            ({}, {"iceServers": []}),
            ({"ice_servers": (turn,), "token": "t"}, browser_ice_config((turn,))),
        ):
            config = ServerConfig(size=64, **options)  # type: ignore[arg-type]
            app = create_app(config, FakeEngine(), warmup=False)
            async with TestClient(TestServer(app, host="127.0.0.1")) as client:
                response = await client.get("/api/ice")
                assert response.status == 200
                assert await response.json() == expected

    asyncio.run(scenario())


def test_silent_peers_are_dropped_after_the_liveness_timeout(monkeypatch: Any) -> None:
    monkeypatch.setattr(aioice.ice, "CONSENT_FAILURES", aioice.ice.CONSENT_FAILURES)
    monkeypatch.setattr(aioice.ice, "CONSENT_INTERVAL", aioice.ice.CONSENT_INTERVAL)
    set_consent_timeout(10.0)
    worst_seconds = aioice.ice.CONSENT_FAILURES * aioice.ice.CONSENT_INTERVAL
    assert worst_seconds == pytest.approx(10.0)
    with pytest.raises(ValueError, match="liveness_timeout"):
        ServerConfig(liveness_timeout=1.0)
