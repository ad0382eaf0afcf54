"""The aiohttp application: static client, WebRTC signaling, websocket, photo upload.

All state lives in one :class:`FacecastServer` object (no module globals): the sessions, the
peers, the thread pools, the optional virtual camera. ``on_shutdown`` closes every peer and
session.

Sessions:
    * every ``POST /offer`` without ``session`` creates a private *peer* session (at most
      ``max_sessions`` at once; the next offer gets HTTP 503 with a polite message) and answers
      its secret key; driving it, uploading to it and watching it need that key;
    * ``POST /offer`` with ``"session": "broadcast"`` watches the shared *broadcast* session
      (the kiosk page, the overlay; the virtual camera shows it too), and drives it with the
      operator right;
    * a websocket ``/ws`` attaches to the broadcast session, or with ``?session=<id>`` and the
      session's key to an existing private session, e.g. to drive a browser's avatar from a
      script.

Who may do what (keys, the operator, view-only viewers, Origin) is :mod:`server.access`.

The VTuber outputs (``--vmc``, ``--ifacialmocap``) follow one session: the broadcast one, or
with ``tracking.session == "latest"`` the newest browser session still open (re-chosen
whenever a session opens or closes). ``GET /overlay`` is the OBS browser source: the broadcast
avatar alone, its background keyed out by the renderer's matte.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import secrets
import statistics
import time
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from server.access import KEY_HEADER, AccessPolicy, Right, new_session_key
from server.bodies import BodyTooLargeError, MultipartError, multipart_fields, read_body
from server.channel import ControlChannel
from server.config import ServerConfig
from server.engine import AvatarEngine
from server.exceptions import AccessError, LimitError, ProtocolError, ServerError
from server.jobs import DaemonThreadExecutor
from server.memory import release_free_memory, return_large_allocations
from server.protocol import parse_json
from server.ratelimit import ClientBuckets
from server.session import Executors, Session
from server.virtual_camera import VirtualCamera, VirtualCameraOutput
from server.vtuber import TrackingOutput
from server.weblog import install_log_policy
from server.webrtc.connection import PeerLink
from server.webrtc.ice import (
    browser_ice_config,
    is_loopback_host,
    restrict_ice_to_loopback,
    set_consent_timeout,
)
from server.webrtc.signaling import Offer, answer_offer, parse_offer

__all__ = ["BROADCAST", "FACECAST_KEY", "FacecastServer", "create_app", "runner_options"]

logger = logging.getLogger(__name__)

BROADCAST = "broadcast"
CLIENT_DIR = Path(__file__).resolve().parents[1] / "client_web"
_WS_TRANSPORT_MAX = 1 << 20  # aiohttp closes above this; our own limit answers with an error
_WS_CLOSE_SECONDS = 0.5  # how long a websocket close waits for the client's close frame
_TRIM_SECONDS = 5.0  # free heap pages go back to the OS this often (server.memory)
_MULTIPART_OVERHEAD = 64 * 1024  # part headers and boundaries around an upload's bytes
_MAX_OFFER_BYTES = 256 * 1024  # an SDP is at most 64,000 characters (signaling._MAX_SDP_CHARS)
_MAX_PATH_CHARS = 1024  # longer request paths are 414 before any route or file lookup
_MAX_PATH_SEGMENT_CHARS = 255  # a longer segment names no file (NAME_MAX): 404, no stat()
_UPLOAD_TYPES = ("image/", "application/octet-stream")  # /upload's raw bodies (or multipart)


def _done_response(command: str, session: Session, result: dict[str, Any]) -> web.Response:
    """The HTTP answer of a finished upload or capture (the ``done`` event's shape)."""
    return web.json_response(
        {
            "type": "done",
            "command": command,
            "session": session.id,
            "result": json.loads(json.dumps(result, default=str)),
        }
    )


def _error_response(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"type": "error", "code": code, "message": message}, status=status)


def _denied(request: web.Request, error: AccessError) -> web.Response:
    """The answer to a request without the right it needs (one INFO line, no traceback)."""
    logger.info("%s %s refused: %s (%s)", request.method, request.path, error.code, error)
    return _error_response(error.status, error.code, error.message)


def _unsupported_type(expected: str) -> web.Response:
    return _error_response(415, "bad_content_type", f"the body must be {expected}")


@web.middleware
async def _bounded_path(request: web.Request, handler: Any) -> web.StreamResponse:
    """Refuse request paths no route or file can match before the router or the file system
    sees them (an 8,000-character static path used to raise ENAMETOOLONG: HTTP 500)."""
    path = request.path
    if len(path) > _MAX_PATH_CHARS:
        return _error_response(
            414, "path_too_long", f"the path is longer than {_MAX_PATH_CHARS} characters"
        )
    if "\x00" in path or any(len(part) > _MAX_PATH_SEGMENT_CHARS for part in path.split("/")):
        return _error_response(404, "not_found", "no such file")
    return await handler(request)


class FacecastServer:
    """The server's state and its request handlers.

    Args:
        config: server configuration.
        engine: the engines (``server.engine.FacecastEngine`` in production).
        virtual_camera: an opened virtual camera that shows the broadcast session, if any.
        startup_image: (H, W, 3) uint8 RGB photo calibrated into the broadcast session at start.
    """

    def __init__(
        self,
        config: ServerConfig,
        engine: AvatarEngine,
        *,
        virtual_camera: VirtualCamera | None = None,
        startup_image: Any = None,
        warmup: bool = True,
    ) -> None:
        self.config = config
        self.engine = engine
        self.access = AccessPolicy(config)
        self.static_dir = Path(config.static_dir) if config.static_dir else CLIENT_DIR
        self.sessions: dict[str, Session] = {}
        self.peers: set[PeerLink] = set()
        self.websockets: set[web.WebSocketResponse] = set()
        self.websockets_by_client: collections.Counter[str] = collections.Counter()
        """Open websockets per client address (``max_websockets_per_client``)."""
        self.message_buckets = ClientBuckets(
            config.client_message_rate, config.client_message_burst
        )
        """The message-rate budget of each client address, shared by its connections."""
        self.peer_clients: dict[PeerLink, str] = {}
        """The client address of each peer's offer."""
        self.pending_peers: set[PeerLink] = set()
        """Peers answered but not connected yet (``max_pending_offers_per_client``)."""
        self._offers_in_flight: collections.Counter[str] = collections.Counter()
        """Offers per client address being answered right now (not peers yet)."""
        self.executors: Executors | None = None
        self._virtual_camera = virtual_camera
        self._camera_output: VirtualCameraOutput | None = None
        self.tracking: TrackingOutput | None = (
            TrackingOutput(config.tracking, engine.expression_names)
            if config.tracking.enabled
            else None
        )
        self._tracked: tuple[Session, Any] | None = None
        """The session the VTuber outputs follow and the function that detaches them."""
        self._startup_image = startup_image
        self._warmup = warmup
        self.warmup_state = "warming" if warmup else "off"
        """``/api/status``'s ``warmup``: off, warming, done or failed (the first instruction
        is as fast as the rest once it is done)."""
        self._background: set[asyncio.Task[Any]] = set()
        self._seed = 0
        self.started_at = time.time()

    # ------------------------------------------------------------------------ app
    def build(self) -> web.Application:
        app = web.Application(
            client_max_size=self.config.max_upload_bytes + 64 * 1024, middlewares=[_bounded_path]
        )
        app.router.add_get("/", self.index)
        app.router.add_get("/kiosk", self.kiosk)
        app.router.add_get("/overlay", self.overlay_page)
        app.router.add_post("/offer", self.offer)
        app.router.add_get("/ws", self.websocket)
        app.router.add_post("/upload", self.upload)
        app.router.add_post("/capture", self.capture)
        app.router.add_get("/api/status", self.api_status)
        app.router.add_get("/api/ice", self.api_ice)
        app.router.add_static("/static/", self.static_dir, show_index=False)
        app.on_startup.append(self._on_startup)
        app.on_shutdown.append(self._on_shutdown)
        return app

    async def _on_startup(self, app: web.Application) -> None:
        self.executors = Executors(
            render=DaemonThreadExecutor(self.config.render_workers, "render"),
            work=DaemonThreadExecutor(self.config.work_workers, "work"),
            heavy=DaemonThreadExecutor(self.config.heavy_workers, "heavy"),
        )
        loop = asyncio.get_running_loop()
        if self._warmup:
            warming = loop.run_in_executor(self.executors.work, self.engine.warmup)
            self._spawn(self._warm_up(warming))
        if self._virtual_camera is not None or self._startup_image is not None:
            broadcast = self.broadcast_session()
            if self._virtual_camera is not None:
                self._camera_output = VirtualCameraOutput(self._virtual_camera, broadcast.frames)
                self._camera_output.start()
            if self._startup_image is not None:
                self._spawn(
                    self._run_logged(
                        "start-up photo", broadcast.set_avatar_image(self._startup_image)
                    )
                )
        self._follow()
        self._spawn(self._release_memory_now_and_then())

    async def _release_memory_now_and_then(self) -> None:
        """Every few seconds, the free pages of the heap go back to the OS (in the heavy pool):
        bodies read and discarded on the event loop and decodes in the workers leave holes
        that small long-lived objects keep the heap from shrinking around."""
        loop = asyncio.get_running_loop()
        while self.executors is not None:
            await asyncio.sleep(_TRIM_SECONDS)
            await loop.run_in_executor(
                self.executors.heavy or self.executors.work, release_free_memory
            )

    async def _on_shutdown(self, app: web.Application) -> None:
        """Every websocket gets 1001 and every held upload or capture an answer at once (all
        in parallel: nothing in flight holds the others), then the outputs and pools stop."""
        await asyncio.gather(
            *(ws.close(code=1001, message=b"server shutting down") for ws in list(self.websockets)),
            *(s.close() for s in list(self.sessions.values())),
            *(peer.close() for peer in list(self.peers)),
            return_exceptions=True,
        )
        if self._camera_output is not None:
            self._camera_output.stop()
        if self._tracked is not None:
            self._tracked[1]()
            self._tracked = None
        if self.tracking is not None:
            self.tracking.close()
        await asyncio.gather(
            *(s.close() for s in list(self.sessions.values())), return_exceptions=True
        )
        self.sessions.clear()
        for task in list(self._background):
            task.cancel()
        if self.executors is not None:
            for pool in (self.executors.render, self.executors.work, self.executors.heavy):
                if pool is not None:
                    pool.shutdown(wait=False, cancel_futures=True)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _warm_up(self, awaitable: Any) -> None:
        ok = await self._run_logged("engine warm-up", awaitable)
        self.warmup_state = "done" if ok else "failed"

    @staticmethod
    async def _run_logged(what: str, awaitable: Any) -> bool:
        """Await a background job, log how it ended; whether it succeeded."""
        try:
            await awaitable
        except Exception as error:
            logger.error("%s failed: %s", what, error)
            return False
        logger.info("%s done", what)
        return True

    # ------------------------------------------------------------------- sessions
    def _new_session(self, kind: str) -> Session:
        if self.executors is None:
            raise ServerError("server is not started", "not_ready")
        session_id = BROADCAST if kind == BROADCAST else secrets.token_hex(4)
        self._seed += 1
        key = None if kind == BROADCAST else new_session_key()
        session = Session(
            session_id, self.config, self.engine, self.executors, kind=kind, seed=self._seed,
            key=key,
        )  # fmt: skip
        self.sessions[session_id] = session
        session.start()
        self._follow()
        return session

    def broadcast_session(self) -> Session:
        session = self.sessions.get(BROADCAST)
        if session is None or session.closed:
            session = self._new_session(BROADCAST)
        return session

    def _followed_session(self) -> Session | None:
        """The session the VTuber outputs should follow now."""
        if self.tracking is None:
            return None
        if self.tracking.config.session == "latest":
            peers = [s for s in self.sessions.values() if s.kind == "peer" and not s.closed]
            return peers[-1] if peers else None
        return self.broadcast_session()

    def _follow(self) -> None:
        """(Re)attach the VTuber outputs to the session they follow (idempotent)."""
        tracking = self.tracking
        if tracking is None or self.executors is None:
            return
        wanted = self._followed_session()
        current = self._tracked[0] if self._tracked is not None else None
        if wanted is current:
            return
        if self._tracked is not None:
            self._tracked[1]()
            self._tracked = None
        if wanted is not None:

            def send(state: Any, now: float) -> None:
                tracking.send(state.expression, state.pose, now)

            self._tracked = (wanted, wanted.add_face_listener(send))
        logger.info("VTuber outputs follow %s", f"session {wanted.id}" if wanted else "no session")

    def peer_sessions(self) -> int:
        return sum(1 for s in self.sessions.values() if s.kind == "peer" and not s.closed)

    async def _peer_closed(self, link: PeerLink) -> None:
        self.peers.discard(link)
        self.pending_peers.discard(link)
        client = self.peer_clients.pop(link, None)
        if client is not None:
            self.message_buckets.release(client)
        if link.own_session:
            session = self.sessions.pop(link.session.id, None)
            if session is not None:
                await session.close()
                logger.info("session %s closed (%d left)", link.session.id, len(self.sessions))
                self._follow()

    async def _reap_if_never_connected(self, link: PeerLink) -> None:
        """Close a peer whose connection is not up within ``connect_timeout`` seconds, so
        offers that never connect cannot hold sessions."""
        await asyncio.sleep(self.config.connect_timeout)
        if link in self.peers and link in self.pending_peers:
            logger.info("peer of session %s never connected; closing it", link.session.id)
            await link.close()

    # ----------------------------------------------------------------------- auth
    def _right(
        self,
        request: web.Request,
        session: Session,
        *,
        body_key: str | None = None,
        body_token: str | None = None,
        query_key: bool = False,
    ) -> Right:
        """The request's right on ``session`` (AccessError when it has none): the session key
        from the offer body, the ``X-Facecast-Key`` header or (websockets only: browsers cannot
        set their headers) ``?key=``, masked in the access log."""
        keys = [body_key, request.headers.get(KEY_HEADER)]
        if query_key:
            keys.append(request.query.get("key"))
        return self.access.right(
            request,
            broadcast=session.kind == BROADCAST,
            session_key=session.key,
            presented_keys=keys,
            body_token=body_token,
        )

    # ------------------------------------------------------------------- handlers
    async def index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(self.static_dir / "index.html")

    async def kiosk(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(self.static_dir / "kiosk.html")

    async def overlay_page(self, request: web.Request) -> web.StreamResponse:
        """The OBS browser source: ``/overlay?bg=transparent|green|%23RRGGBB``."""
        return web.FileResponse(self.static_dir / "overlay.html")

    async def api_status(self, request: web.Request) -> web.Response:
        """Sessions and counters for the operator (no keys, no tokens)."""
        try:
            self.access.require_operator(request, "/api/status")
        except AccessError as error:
            return _denied(request, error)
        return web.json_response(
            {
                "engine": self.engine.name,
                "sessions": [
                    {
                        "id": s.id,
                        "kind": s.kind,
                        "state": s.state,
                        "has_avatar": s.avatar is not None,
                        "viewers": s.frames.viewers,
                        "frames_rendered": s.frames_rendered,
                        "instruct_to_motion_ms_median": (
                            round(statistics.median(s.instruct_latencies_ms), 1)
                            if s.instruct_latencies_ms
                            else None
                        ),
                    }
                    for s in self.sessions.values()
                ],
                "peers": len(self.peers),
                "websockets": len(self.websockets),
                "max_sessions": self.config.max_sessions,
                "token_required": self.config.token is not None,
                "warmup": self.warmup_state,
                "vtuber": self._tracking_status(),
                "uptime_s": round(time.time() - self.started_at, 1),
            }
        )

    def _tracking_status(self) -> dict[str, Any] | None:
        if self.tracking is None:
            return None
        return {
            "session": self._tracked[0].id if self._tracked is not None else None,
            "frames_sent": self.tracking.frames_sent,
            "names": self.tracking.config.names,
            "receivers": [
                {"kind": log.what, "target": log.target.label, "failing": log.failing}
                for log in self.tracking.logs
            ],
        }

    async def api_ice(self, request: web.Request) -> web.Response:
        """The page's RTCConfiguration: the ``--ice-server`` list (empty by default). Every page
        that may open a session needs it, TURN credentials included, so it needs no right."""
        return web.json_response(
            browser_ice_config(self.config.ice_servers), headers={"Cache-Control": "no-store"}
        )

    def _offer_refusal(self, client: str) -> web.Response | None:
        """The answer to an offer over the peer caps (``max_peers``, pending offers per
        address), or None when it may go on."""
        in_flight = sum(self._offers_in_flight.values())
        if len(self.peers) + in_flight >= self.config.max_peers:
            return _error_response(
                503,
                "too_many_peers",
                f"Sorry, this server streams to at most {self.config.max_peers} viewers at once. "
                "Please try again in a moment.",
            )
        pending = self._offers_in_flight[client] + sum(
            1 for link in self.pending_peers if self.peer_clients.get(link) == client
        )
        limit = self.config.max_pending_offers_per_client
        if pending >= limit:
            return _error_response(
                429,
                "too_many_pending_offers",
                f"{limit} offers from this address are not connected yet; wait for them to "
                f"connect (or to be dropped after {self.config.connect_timeout:g} s)",
            )
        return None

    async def offer(self, request: web.Request) -> web.Response:
        if request.content_type != "application/json":
            return _unsupported_type('application/json: {"sdp": ..., "type": "offer"}')
        try:
            self.access.check_origin(request)
        except AccessError as error:
            return _denied(request, error)
        try:
            async with asyncio.timeout(self.config.body_timeout):
                raw = await read_body(request, _MAX_OFFER_BYTES, "offer_too_large", "an offer")
        except BodyTooLargeError as error:
            return _error_response(413, error.code, error.message)
        except TimeoutError:
            return _body_timeout_response(self.config.body_timeout)
        try:
            body = parse_json(raw)
        except ProtocolError as error:  # bad_json, too_deep, bad_number
            return _error_response(400, error.code, f"the body must be JSON {{sdp, type}}: {error}")
        try:
            offer = parse_offer(body, self.config.max_sdp_media)
        except ServerError as error:
            return _error_response(400, error.code, error.message)
        client = request.remote or "unknown"
        refusal = self._offer_refusal(client)
        if refusal is not None:
            return refusal
        self._offers_in_flight[client] += 1  # counted from here: answering yields
        try:
            return await self._answer(request, offer, client)
        finally:
            self._offers_in_flight[client] -= 1
            if self._offers_in_flight[client] <= 0:
                del self._offers_in_flight[client]

    async def _answer(self, request: web.Request, offer: Offer, client: str) -> web.Response:
        own = offer.session is None
        right = Right.DRIVE
        if own:
            if self.peer_sessions() >= self.config.max_sessions:
                return _error_response(
                    503,
                    "server_full",
                    f"Sorry, all {self.config.max_sessions} avatar sessions are in use. "
                    "Please try again in a moment.",
                )
            session = self._new_session("peer")
        else:
            found = (
                self.broadcast_session()
                if offer.session == BROADCAST
                else self.sessions.get(offer.session or "")
            )
            if found is None:
                return _error_response(404, "unknown_session", f"no session {offer.session!r}")
            session = found
            try:
                right = self._right(request, session, body_key=offer.key, body_token=offer.token)
            except AccessError as error:
                return _denied(request, error)
        bucket = self.message_buckets.acquire(client)
        try:
            link, answer = await answer_offer(
                offer,
                session,
                self.config,
                self._peer_closed,
                own_session=own,
                view_only=right < Right.DRIVE,
                client_bucket=bucket,
            )
        except ServerError as error:
            self.message_buckets.release(client)
            if own:
                self.sessions.pop(session.id, None)
                await session.close()
            return _error_response(400, error.code, error.message)
        self.peers.add(link)
        self.peer_clients[link] = client
        self.pending_peers.add(link)

        def connected() -> None:
            if link.pc.connectionState == "connected":
                self.pending_peers.discard(link)

        link.pc.on("connectionstatechange", connected)
        self._spawn(self._reap_if_never_connected(link))
        logger.info("peer connected to session %s (%d peers)", session.id, len(self.peers))
        reply: dict[str, Any] = {"sdp": answer.sdp, "type": answer.type, "session": session.id}
        reply["rights"] = "drive" if right is Right.DRIVE else "view"
        if own:
            reply["key"] = session.key  # the one place the key is ever sent
        return web.json_response(reply, headers={"Cache-Control": "no-store"})

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        wanted = request.query.get("session")
        try:
            self.access.check_origin(request)  # the handshake of a foreign (or rebound) page
            if wanted and wanted != BROADCAST:
                found = self.sessions.get(wanted)
                if found is None:
                    return _error_response(404, "unknown_session", f"no session {wanted!r}")
                session = found
            else:
                session = self.broadcast_session()
            right = self._right(request, session, query_key=True)
        except AccessError as error:
            return _denied(request, error)
        client = request.remote or "unknown"
        limit = self.config.max_websockets_per_client
        if self.websockets_by_client[client] >= limit:
            logger.info("ws %s: refused, %d websockets already open", client, limit)
            return _error_response(
                429,
                "too_many_connections",
                f"at most {limit} websocket connections at once from one address; "
                "close one and connect again",
            )
        ws = web.WebSocketResponse(
            max_msg_size=_WS_TRANSPORT_MAX, heartbeat=30.0, timeout=_WS_CLOSE_SECONDS
        )
        self.websockets_by_client[client] += 1  # counted before prepare(), which yields
        try:
            try:
                await ws.prepare(request)
            except ConnectionError as error:  # the client reset before the handshake completed
                logger.info("ws %s: gone before the handshake (%s)", client, error)
                # not the half-prepared websocket: aiohttp (without handler cancellation, as
                # in run_app) would finish it and raise "Call .prepare() first"
                return _error_response(400, "gone", "the connection closed during the handshake")
            await self._serve_websocket(
                ws, session, name=f"ws {client}", client=client, view_only=right < Right.DRIVE
            )
        finally:
            self._websocket_gone(client)
        return ws

    async def _serve_websocket(
        self,
        ws: web.WebSocketResponse,
        session: Session,
        *,
        name: str,
        client: str,
        view_only: bool = False,
    ) -> None:
        """One prepared websocket: its messages in, the session's events out, until closed."""
        self.websockets.add(ws)
        loop = asyncio.get_running_loop()

        def send(text: str) -> None:
            if not ws.closed:
                task = loop.create_task(ws.send_str(text))
                task.add_done_callback(lambda t: t.cancelled() or t.exception())

        bucket = self.message_buckets.acquire(client)
        control = ControlChannel(
            session, send, self.config, name=name, client_bucket=bucket, view_only=view_only
        )
        control.send_event(session.status("connected"))
        try:
            async for message in ws:
                if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    control.receive(message.data)
                elif message.type == WSMsgType.ERROR:
                    break
                if session.closed:
                    break
        finally:
            control.close()
            self.message_buckets.release(client)
            self.websockets.discard(ws)
            if not ws.closed:
                await ws.close()

    def _websocket_gone(self, client: str) -> None:
        self.websockets_by_client[client] -= 1
        if self.websockets_by_client[client] <= 0:
            del self.websockets_by_client[client]

    def _target(self, request: web.Request) -> Session | web.Response:
        """The session an HTTP upload is for (``?session=``, default the broadcast), or the
        error response: a foreign Origin, an unknown session, no right to drive it."""
        try:
            self.access.check_origin(request)
        except AccessError as error:
            return _denied(request, error)
        wanted = request.query.get("session") or BROADCAST
        session = self.broadcast_session() if wanted == BROADCAST else self.sessions.get(wanted)
        if session is None:
            return _error_response(404, "unknown_session", f"no session {wanted!r}")
        try:
            if session.kind == BROADCAST:
                self.access.require_operator(request, "changing the broadcast session's face")
            else:
                self._right(request, session)
        except AccessError as error:
            return _denied(request, error)
        return session

    async def capture(self, request: web.Request) -> web.Response:
        """``POST /capture?session=<id>``: multipart ``frame`` fields, still photos the page
        took of its camera over about two seconds; the best one becomes the source, as for
        the ``capture`` command (answers like ``done {command: capture}``)."""
        if request.content_type != "multipart/form-data":
            return _unsupported_type('multipart/form-data with "frame" fields (the stills)')
        session = self._target(request)
        if isinstance(session, web.Response):
            return session
        try:
            with session.reserve_heavy():  # before the body is read: a refusal costs nothing
                stills = await self._read_stills(request)
                if isinstance(stills, web.Response):
                    return stills
                result = await session.capture_stills(stills, request.query.get("id"))
        except ServerError as error:
            return _job_error_response(error)
        except TimeoutError:
            return _body_timeout_response(self.config.body_timeout)
        return _done_response("capture", session, result)

    async def _read_stills(self, request: web.Request) -> list[bytes] | web.Response:
        """The ``frame`` parts of a ``/capture`` body, within the capture's byte limits."""
        count = self.config.capture_max_frames
        stills: list[bytes] = []
        async with asyncio.timeout(self.config.body_timeout):
            fields = multipart_fields(
                request,
                ("frame",),
                max_part=self.config.max_upload_bytes,
                max_total=self.config.max_capture_bytes,
                part_code="image_too_large",
                total_code="capture_too_large",
            )
            async for _, data in fields:
                if len(stills) == count:
                    return _error_response(400, "bad_upload", f"at most {count} frames")
                if data:
                    stills.append(data)
        if not stills:
            return _error_response(400, "bad_upload", 'no "frame" field with image bytes')
        return stills

    async def upload(self, request: web.Request) -> web.Response:
        kind = request.content_type
        if kind != "multipart/form-data" and not kind.startswith(_UPLOAD_TYPES):
            return _unsupported_type(
                "the image bytes (image/jpeg, image/png, image/webp, application/octet-stream) "
                'or multipart/form-data with a "photo" field'
            )
        session = self._target(request)
        if isinstance(session, web.Response):
            return session
        try:
            with session.reserve_heavy():  # before the body is read: a refusal costs nothing
                async with asyncio.timeout(self.config.body_timeout):
                    data = await self._read_upload(request, self.config.max_upload_bytes)
                result = await session.upload_photo(data, request.query.get("id"))
        except ServerError as error:
            return _job_error_response(error)
        except TimeoutError:
            return _body_timeout_response(self.config.body_timeout)
        return _done_response("upload", session, result)

    @staticmethod
    async def _read_upload(request: web.Request, limit: int) -> bytes:
        if request.content_type == "multipart/form-data":
            fields = multipart_fields(
                request,
                ("photo", "file", "image"),
                max_part=limit,
                max_total=limit + _MULTIPART_OVERHEAD,
                part_code="image_too_large",
                total_code="image_too_large",
            )
            async for _, data in fields:
                return data
            raise ServerError('multipart upload needs a "photo" field', "bad_upload")
        data = await read_body(request, limit, "image_too_large", "the photo")
        if not data:
            raise ServerError("the upload is empty: send the image bytes as the body", "bad_upload")
        return data


_TOO_LARGE = ("image_too_large", "capture_too_large")


def _job_error_response(error: ServerError) -> web.Response:
    """The HTTP answer of an upload or capture that did not finish."""
    if isinstance(error, BodyTooLargeError) or error.code in _TOO_LARGE:
        status = 413
    elif error.code == "busy":
        status = 429
    elif error.code == "closed":
        status = 503
    elif isinstance(error, MultipartError) or error.code == "bad_upload":
        status = 400
    elif isinstance(error, LimitError):
        status = 429
    else:
        status = 422
    return _error_response(status, error.code, error.message)


def _body_timeout_response(seconds: float) -> web.Response:
    return _error_response(
        408, "body_timeout", f"the request body did not arrive within {seconds:g} s"
    )


FACECAST_KEY: web.AppKey[FacecastServer] = web.AppKey("facecast", FacecastServer)


def runner_options(config: ServerConfig) -> dict[str, Any]:
    """Keyword arguments of ``web.run_app`` / ``web.AppRunner`` / ``TestServer`` that bound the
    connection itself: ``header_timeout`` (aiohttp closes a connection that has not sent a
    whole request this long after it opened or after its last response: a slowloris socket
    trickling headers is closed, and so is an idle keep-alive one) and the time requests in
    flight get at shutdown."""
    return {
        "keepalive_timeout": config.header_timeout,
        "shutdown_timeout": config.shutdown_timeout,
    }


def create_app(
    config: ServerConfig,
    engine: AvatarEngine,
    *,
    virtual_camera: VirtualCamera | None = None,
    startup_image: Any = None,
    warmup: bool = True,
) -> web.Application:
    """The aiohttp application; the :class:`FacecastServer` is ``app["facecast"]``.

    A server listening on loopback offers WebRTC candidates on loopback only; peers that stop
    answering ICE consent checks are closed after ``config.liveness_timeout`` seconds
    (``server.webrtc.ice``). aiohttp's loggers get :mod:`server.weblog`'s policy: no traceback
    for a client's mistake, ``token=`` masked in the access log. Large allocations are returned
    to the OS when freed (:mod:`server.memory`).
    """
    if is_loopback_host(config.host):
        restrict_ice_to_loopback()
        if config.ice_servers:
            logger.warning(
                "listening on %s: the server's own ICE candidates stay on loopback (a TURN "
                "relay still works; STUN needs --host on a reachable interface)",
                config.host,
            )
    set_consent_timeout(config.liveness_timeout)
    install_log_policy()
    return_large_allocations()  # a burst of large decodes leaves no heap behind
    server = FacecastServer(
        config, engine, virtual_camera=virtual_camera, startup_image=startup_image, warmup=warmup
    )
    app = server.build()
    app[FACECAST_KEY] = server
    return app
