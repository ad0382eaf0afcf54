"""Who may do what (issue 15): a private session needs its key for everything (driving,
uploads, its thumbnail, its video); the broadcast is driven by the operator (``--token``, or
this machine without one) and only watched by everyone else; state-changing routes check the
Origin against the public origins (never against Host: DNS rebinding), content types are
enforced, no CORS headers; ``/api/status`` is the operator's and shows no keys.

Each test asserts the typed error, that the honest client in the same test still works, and
that the server log holds no traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiohttp
import cv2
import numpy as np
import pytest
import websockets
from aiohttp import WSServerHandshakeError
from aiohttp.test_utils import TestClient
from test_hostile_inputs import assert_no_traceback, client_for, connected, honest_ping
from test_hostile_inputs import receive_until as next_event

from server.access import AccessPolicy
from server.app import BROADCAST, FACECAST_KEY
from server.config import ServerConfig, normalize_origin
from server.webrtc.client import AvatarClient
from server.ws_client import send_instruction

pytestmark = pytest.mark.timeout(60)

EVIL = "http://evil.example"


def _png(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    assert ok
    return data.tobytes()


@pytest.fixture(scope="module")
def photo() -> bytes:
    from skimage import data

    return _png(data.astronaut()[::4, ::4].copy())


def own_origin(client: TestClient) -> str:
    return str(client.make_url("")).rstrip("/")


async def refused(response: aiohttp.ClientResponse, status: int, code: str) -> None:
    body = await response.json()
    assert (response.status, body["code"]) == (status, code), body
    assert "Access-Control-Allow-Origin" not in response.headers


def form(field: str, data: bytes) -> aiohttp.FormData:
    body = aiohttp.FormData()
    body.add_field(field, data, filename="face.png", content_type="image/png")
    return body


async def owner_of_a_private_session(client: TestClient) -> AvatarClient:
    owner = AvatarClient(own_origin(client))
    await owner.connect()
    await owner.wait_event("status")
    assert owner.session_id not in (None, BROADCAST) and owner.rights == "drive"
    assert isinstance(owner.key, str) and len(owner.key) >= 32
    return owner


# ------------------------------------------------------------------ private sessions and keys
@pytest.mark.parametrize("key", [None, "wrong-key-0123456789abcdefghijklmn"], ids=["no", "wrong"])
def test_a_private_session_is_nobody_elses_without_its_key(
    key: str | None, photo: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    status, code = (401, "key_required") if key is None else (403, "bad_key")
    headers = {} if key is None else {"X-Facecast-Key": key}

    async def scenario() -> None:
        async with client_for() as client:
            facecast = client.server.app[FACECAST_KEY]
            owner = await owner_of_a_private_session(client)
            sid = owner.session_id
            session = facecast.sessions[sid]
            try:
                # drive: the websocket of that session (typed answer, then the handshake)
                query = f"/ws?session={sid}" + ("" if key is None else f"&key={key}")
                await refused(await client.get(query), status, code)
                with pytest.raises(WSServerHandshakeError) as handshake:
                    await client.ws_connect(query)
                assert handshake.value.status == status
                # upload to it, capture into it: its face (and so its thumbnail) stays
                await refused(
                    await client.post(f"/upload?session={sid}", data=photo, headers=headers),
                    status,
                    code,
                )
                await refused(
                    await client.post(
                        f"/capture?session={sid}", data=form("frame", photo), headers=headers
                    ),
                    status,
                    code,
                )
                assert session.avatar is None
                # subscribe to its video (and its events, where the thumbnails are)
                offer = {"sdp": "v=0", "type": "offer", "session": sid}
                if key is not None:
                    offer["key"] = key
                await refused(await client.post("/offer", json=offer), status, code)
                assert len(facecast.peers) == 1 and session.listeners == 1  # the owner only
                # the owner, with the key, drives it and alone gets the thumbnail
                answer = await client.post(
                    f"/upload?session={sid}&id=u1",
                    data=photo,
                    headers={"X-Facecast-Key": owner.key, "Content-Type": "image/png"},
                )
                assert answer.status == 200, await answer.text()
                assert (await answer.json())["result"]["thumbnail"].startswith("data:image/")
                done = await owner.wait_event("done", id="u1")
                assert done["result"]["thumbnail"].startswith("data:image/")
                ws = await client.ws_connect(f"/ws?session={sid}&key={owner.key}")
                await next_event(ws, "status")
                await ws.send_json({"type": "instruct", "text": "smile", "id": "i1"})
                await next_event(ws, "done", id="i1", command="instruct")
                await honest_ping(ws, "owner-ws")
                await ws.close()
                # facecast send: the key in a header, never in the URL
                url = str(client.make_url("/ws")).replace("http", "ws", 1)
                events = await send_instruction(url, "smile", session=sid, key=owner.key)
                assert events[-1]["type"] == "done", events[-1]
                with pytest.raises(websockets.InvalidStatus) as cli_refused:
                    await send_instruction(url, "smile", session=sid, key=key)
                assert cli_refused.value.response.status_code == status
                # a second peer with the key watches it
                viewer = AvatarClient(own_origin(client), session=sid, key=owner.key)
                await viewer.connect()
                try:
                    assert viewer.rights == "drive" and viewer.session_id == sid
                    await viewer.next_frame()
                finally:
                    await viewer.close()
                await owner.next_frame()  # the owner's video never stopped
            finally:
                await owner.close()

    asyncio.run(scenario())
    assert_no_traceback(caplog)


def test_session_keys_are_secret_and_masked_in_the_access_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    seen: dict[str, Any] = {}

    async def scenario() -> None:
        async with client_for(token="operator-s3cret") as client:
            owner = await owner_of_a_private_session(client)
            other = await owner_of_a_private_session(client)
            try:
                assert owner.key != other.key and owner.session_id != other.session_id
                seen["keys"] = (owner.key, other.key)
                ws = await client.ws_connect(f"/ws?session={owner.session_id}&key={owner.key}")
                status, _ = await next_event(ws, "status")
                assert owner.key not in json.dumps(status)
                await honest_ping(ws, "owner")
                await ws.close()
                # one session's key opens no other session
                await refused(
                    await client.get(f"/ws?session={other.session_id}&key={owner.key}"),
                    403,
                    "bad_key",
                )
            finally:
                await owner.close()
                await other.close()

    asyncio.run(scenario())
    assert_no_traceback(caplog)
    for record in caplog.records:
        for key in seen["keys"]:
            assert key not in record.getMessage() and key not in repr(vars(record))
    lines = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert any("&key=*** " in line for line in lines), lines


# ------------------------------------------------------------------------ the broadcast
def test_broadcast_viewers_watch_but_cannot_drive(
    photo: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    token = "operator-s3cret"

    async def scenario() -> None:
        async with client_for(token=token) as client:
            facecast = client.server.app[FACECAST_KEY]
            viewer = await connected(client)  # no token: view-only
            operator = await client.ws_connect("/ws", headers={"X-Facecast-Token": token})
            await next_event(operator, "status")
            before = dict(facecast.broadcast_session().settings.to_dict())
            for number, command in enumerate(
                (
                    {"type": "set", "fps": 60, "size": 1024},
                    {"type": "instruct", "text": "smile"},
                    {"type": "cancel"},
                    {"type": "capture"},
                )
            ):
                await viewer.send_json({**command, "id": f"v{number}"})
                error, _ = await next_event(viewer, "error", id=f"v{number}")
                assert error["code"] == "view_only" and error["command"] == command["type"]
            assert facecast.broadcast_session().settings.to_dict() == before
            await honest_ping(viewer, "viewer")  # a viewer's own pong still works
            # uploads and captures to the broadcast: the operator's only
            await refused(await client.post("/upload", data=photo), 401, "unauthorized")
            await refused(
                await client.post("/capture", data=form("frame", photo)), 401, "unauthorized"
            )
            assert facecast.broadcast_session().avatar is None
            answer = await client.post(
                "/upload?id=op1", data=photo, headers={"Authorization": f"Bearer {token}"}
            )
            assert answer.status == 200, await answer.text()
            # the viewer sees the change but not the source photo's thumbnail
            seen, _ = await next_event(viewer, "done", id="op1")
            assert "thumbnail" not in seen["result"] and seen["command"] == "upload"
            done, _ = await next_event(operator, "done", id="op1")
            assert done["result"]["thumbnail"].startswith("data:image/")
            await operator.send_json({"type": "set", "fps": 12, "id": "op2"})
            await next_event(operator, "done", id="op2", command="set")
            assert facecast.broadcast_session().settings.fps == 12
            # over WebRTC (the OBS overlay, a kiosk without the token): video, no driving
            peer = AvatarClient(own_origin(client), session=BROADCAST)
            await peer.connect()
            try:
                assert peer.rights == "view" and peer.key is None
                await peer.next_frame()
                peer.send({"type": "set", "size": 1024, "id": "dc1"})
                error = await peer.wait_event("error", id="dc1")
                assert error["code"] == "view_only"
                peer.send({"type": "ping", "id": "dc-ping"})
                await peer.wait_event("pong", id="dc-ping")
                assert facecast.broadcast_session().settings.size == before["size"]
            finally:
                await peer.close()
            # a wrong token is refused, not silently downgraded
            await refused(
                await client.get("/ws", headers={"X-Facecast-Token": "nope"}), 401, "unauthorized"
            )
            await honest_ping(operator, "operator")
            await operator.close()
            await viewer.close()

    asyncio.run(scenario())
    assert_no_traceback(caplog)


def test_without_a_token_only_this_machine_drives_the_broadcast(
    photo: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    async def scenario() -> None:
        async with client_for() as client:
            # through a proxy on this machine: someone else; a rebound name: someone else
            for headers in ({"X-Forwarded-For": "203.0.113.9"}, {"Host": "evil.example"}):
                viewer = await client.ws_connect("/ws", headers=headers)
                await next_event(viewer, "status")
                await viewer.send_json({"type": "set", "fps": 5, "id": "s"})
                error, _ = await next_event(viewer, "error", id="s")
                assert error["code"] == "view_only"
                await viewer.close()
                await refused(
                    await client.post("/upload", data=photo, headers=headers), 403, "forbidden"
                )
            local = await connected(client)  # this machine: the operator
            await local.send_json({"type": "set", "fps": 5, "id": "s"})
            await next_event(local, "done", id="s", command="set")
            assert (await client.post("/upload", data=photo)).status == 200
            await honest_ping(local, "local")

    asyncio.run(scenario())
    assert_no_traceback(caplog)


# ------------------------------------------------------------- origins and content types
def test_cross_site_offers_and_uploads_are_refused(
    photo: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    async def scenario() -> None:
        async with client_for() as client:
            facecast = client.server.app[FACECAST_KEY]
            honest = await connected(client)
            offer = json.dumps({"sdp": "v=0", "type": "offer", "session": BROADCAST})
            # the "simple" requests a foreign page may send without a preflight
            await refused(
                await client.post(
                    "/offer", data=offer, headers={"Origin": EVIL, "Content-Type": "text/plain"}
                ),
                415,
                "bad_content_type",
            )
            await refused(
                await client.post("/offer", data=offer, headers={"Content-Type": "text/plain"}),
                415,
                "bad_content_type",
            )
            await refused(
                await client.post(
                    "/offer",
                    data=offer,
                    headers={"Origin": EVIL, "Content-Type": "application/json"},
                ),
                403,
                "bad_origin",
            )
            for route, field in (("/upload", "photo"), ("/capture", "frame")):
                await refused(
                    await client.post(
                        f"{route}?session=broadcast",
                        data=form(field, photo),
                        headers={"Origin": EVIL},
                    ),
                    403,
                    "bad_origin",
                )
                # no Origin but a browser's cross-site fetch metadata
                await refused(
                    await client.post(
                        route, data=form(field, photo), headers={"Sec-Fetch-Site": "cross-site"}
                    ),
                    403,
                    "bad_origin",
                )
            await refused(
                await client.post("/upload", data=photo, headers={"Content-Type": "text/plain"}),
                415,
                "bad_content_type",
            )
            await refused(
                await client.post(
                    "/upload",
                    data=photo,
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                ),
                415,
                "bad_content_type",
            )
            assert facecast.broadcast_session().avatar is None and len(facecast.peers) == 0
            # no CORS: a preflight gets no Access-Control-Allow-* header
            preflight = await client.options(
                "/offer",
                headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"},
            )
            assert not [h for h in preflight.headers if h.lower().startswith("access-control")]
            # the page's own origin, and clients without an Origin, still work
            answer = await client.post(
                "/upload",
                data=form("photo", photo),
                headers={"Origin": own_origin(client), "Sec-Fetch-Site": "same-origin"},
            )
            assert answer.status == 200, await answer.text()
            assert "Access-Control-Allow-Origin" not in answer.headers
            assert (await client.post("/upload", data=photo)).status == 200
            await honest_ping(honest, "after-cross-site")

    asyncio.run(scenario())
    assert_no_traceback(caplog)


def test_a_dns_rebinding_websocket_is_refused(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)

    async def scenario() -> None:
        async with client_for() as client:
            port = client.server.port
            rebound = {"Origin": f"http://evil.example:{port}", "Host": f"evil.example:{port}"}
            await refused(await client.get("/ws", headers=rebound), 403, "bad_origin")
            with pytest.raises(WSServerHandshakeError) as handshake:
                await client.ws_connect("/ws", headers=rebound)
            assert handshake.value.status == 403
            # nor can the rebound page read the operator's status (no Origin on a GET)
            await refused(
                await client.get("/api/status", headers={"Host": rebound["Host"]}),
                403,
                "forbidden",
            )
            # the server's own origins are accepted: 127.0.0.1 and localhost
            for origin in (own_origin(client), f"http://localhost:{port}"):
                ws = await client.ws_connect("/ws", headers={"Origin": origin})
                await next_event(ws, "status")
                await honest_ping(ws, origin)
                await ws.close()

    asyncio.run(scenario())
    assert_no_traceback(caplog)


def test_public_origin_replaces_the_listening_origins(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    public = "https://facecast.example.org"

    async def scenario() -> None:
        async with client_for(public_origins=(public + "/",)) as client:
            await refused(
                await client.get("/ws", headers={"Origin": own_origin(client)}), 403, "bad_origin"
            )
            ws = await client.ws_connect("/ws", headers={"Origin": public})
            await next_event(ws, "status")
            await honest_ping(ws, "public")
            await ws.close()

    asyncio.run(scenario())
    assert_no_traceback(caplog)


def test_public_origin_flag_and_validation() -> None:
    from server.cli.cmd_serve import build_config
    from server.cli.main import build_parser

    assert ServerConfig().public_origins == ()
    args = build_parser().parse_args(
        ["serve", "--public-origin", "https://Facecast.Example.org:443/", "--public-origin",
         "http://192.168.1.20:8080"]
    )  # fmt: skip
    config = build_config(args)
    policy = AccessPolicy(config)
    assert policy.allowed_origins(None) == {
        "https://facecast.example.org",
        "http://192.168.1.20:8080",
    }
    assert normalize_origin("http://[::1]:80") == "http://[::1]"
    for bad in ("facecast.example.org", "ftp://x", "https://x/path", "null", "https://u@x"):
        with pytest.raises(ValueError, match="origin"):
            ServerConfig(public_origins=(bad,))
    # the listening origins on loopback, on another interface, and a --host name
    own = AccessPolicy(ServerConfig(port=0)).own_origins(("127.0.0.1", 8123))
    assert own == {"http://127.0.0.1:8123", "http://localhost:8123", "http://[::1]:8123"}
    lan = AccessPolicy(ServerConfig(host="0.0.0.0")).own_origins(("192.168.1.20", 8080))
    assert lan == {"http://192.168.1.20:8080"}
    dual_stack = AccessPolicy(ServerConfig(host="::")).own_origins(("::ffff:127.0.0.1", 8080, 0, 0))
    assert dual_stack == {"http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:8080"}
    named = AccessPolicy(ServerConfig(host="facecast.local")).own_origins(("10.0.0.2", 80))
    assert named == {"http://10.0.0.2", "http://facecast.local"}


# ---------------------------------------------------------------------------- /api/status
def test_api_status_is_the_operators_and_shows_no_keys(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    token = "operator-s3cret"

    async def scenario() -> None:
        async with client_for(token=token) as client:
            owner = await owner_of_a_private_session(client)
            try:
                await refused(await client.get("/api/status"), 401, "unauthorized")
                await refused(
                    await client.get("/api/status", headers={"X-Facecast-Token": "nope"}),
                    401,
                    "unauthorized",
                )
                # a session key is no operator token
                await refused(
                    await client.get("/api/status", headers={"X-Facecast-Key": owner.key}),
                    401,
                    "unauthorized",
                )
                response = await client.get(
                    "/api/status", headers={"Authorization": f"Bearer {token}"}
                )
                assert response.status == 200
                text = await response.text()
                status = json.loads(text)
                assert owner.session_id in [s["id"] for s in status["sessions"]]
                assert owner.key not in text and token not in text
                assert not any("key" in field for s in status["sessions"] for field in s)
                owner.send({"type": "ping", "id": "owner"})
                await owner.wait_event("pong", id="owner")
            finally:
                await owner.close()

    asyncio.run(scenario())
    assert_no_traceback(caplog)
