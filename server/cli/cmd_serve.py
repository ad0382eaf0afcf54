"""``facecast serve``: the streaming server (what `make run` starts)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

_NO_TOKEN_NOTE = (
    " (without --token: the broadcast is driven from this machine only; every other client "
    "may watch it)"
)


def add_vtuber_arguments(parser: argparse.ArgumentParser, *, following: bool) -> None:
    """``--vmc``, ``--vmc-names``, ``--ifacialmocap`` (and ``--vmc-session`` for serve)."""
    parser.add_argument(
        "--vmc",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="send ARKit blendshapes and the head pose over the VMC protocol (OSC/UDP) to a "
        "VTuber app: VSeeFace, VNyan, Warudo, VMagicMirror, 3tene (repeatable; default port "
        "39539)",
    )
    parser.add_argument(
        "--vmc-names",
        choices=("arkit", "pascal"),
        default="arkit",
        help="blendshape names: arkit = eyeBlinkLeft (Perfect Sync, default), pascal = "
        "EyeBlinkLeft",
    )
    parser.add_argument(
        "--ifacialmocap",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="also send iFacialMocap's UDP text format (repeatable; default port 49983)",
    )
    if following:
        parser.add_argument(
            "--vmc-session",
            choices=("broadcast", "latest"),
            default="broadcast",
            help="which avatar the VTuber outputs follow: the broadcast session (kiosk, "
            "virtual camera; default) or the newest browser session (your own page)",
        )


def tracking_from_args(args: argparse.Namespace) -> Any:
    """The :class:`server.vtuber.TrackingConfig` of the VTuber flags (ValueError if bad)."""
    from server.vtuber import tracking_config

    return tracking_config(
        args.vmc,
        args.ifacialmocap,
        names=args.vmc_names,
        session=getattr(args, "vmc_session", "broadcast"),
    )


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the streaming server (web client, WebRTC, websocket, kiosk)",
        description="Serve the web client on http://HOST:PORT/ (kiosk: /kiosk), WebRTC "
        "signaling on POST /offer, the JSON protocol on /ws and the data channel, photo "
        "upload on POST /upload.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1 only)")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--fps", type=float, default=30.0, help="stream frame rate")
    parser.add_argument("--size", type=int, default=512, help="video side in pixels")
    parser.add_argument("--max-sessions", type=int, default=4, help="WebRTC sessions at once")
    parser.add_argument(
        "--max-peers",
        type=int,
        default=8,
        help="WebRTC viewers at once, of any session (private, broadcast, session=ID); the next "
        "offer gets HTTP 503",
    )
    parser.add_argument(
        "--max-pending-offers",
        type=int,
        default=2,
        help="offers from one client address not connected yet (the next gets HTTP 429)",
    )
    parser.add_argument(
        "--connect-timeout",
        type=float,
        default=10.0,
        help="seconds an answered offer may take to connect before it is dropped",
    )
    parser.add_argument(
        "--token",
        default=None,
        help="the operator key: drives the broadcast session (kiosk, websocket, uploads, "
        "settings) and reads /api/status; without it only this machine may",
    )
    parser.add_argument(
        "--public-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="browser origin of the pages that may post offers, uploads and open websockets, "
        "e.g. https://facecast.example.org behind a proxy (repeatable; default: the server's "
        "own address, http://127.0.0.1:PORT and http://localhost:PORT on loopback)",
    )
    parser.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        help="one more allowed browser Origin, added to the public ones (repeatable)",
    )
    parser.add_argument(
        "--photo",
        default=None,
        help='photo for the broadcast session at start ("astronaut" = sample)',
    )
    parser.add_argument(
        "--virtual-camera",
        action="store_true",
        help="send the broadcast session to a virtual camera (pyvirtualcam)",
    )
    parser.add_argument("--virtual-camera-device", default=None, help="e.g. /dev/video10")
    parser.add_argument(
        "--virtual-camera-backend",
        default=None,
        metavar="NAME",
        help="pyvirtualcam backend: v4l2loopback (Linux), obs, unitycapture (Windows); "
        "default: the first that opens",
    )
    add_vtuber_arguments(parser, following=True)
    parser.add_argument(
        "--demo-idle",
        type=float,
        default=20.0,
        help="broadcast demo loop after this many idle seconds (0 = off)",
    )
    parser.add_argument("--max-upload-mb", type=float, default=10.0)
    parser.add_argument(
        "--max-capture-mb",
        type=float,
        default=16.0,
        help="largest /capture body, all stills together",
    )
    parser.add_argument(
        "--max-upload-mpx",
        type=float,
        default=16.0,
        help="most megapixels an uploaded photo or still may decode to (read from its header)",
    )
    parser.add_argument(
        "--max-capture-mpx",
        type=float,
        default=32.0,
        help="most megapixels all the stills of one /capture may decode to together",
    )
    parser.add_argument(
        "--max-jobs-per-session",
        type=int,
        default=2,
        help="uploads and captures one session holds at once, running or waiting (the next "
        "gets HTTP 429 busy)",
    )
    parser.add_argument(
        "--message-rate", type=float, default=10.0, help="messages/s per connection"
    )
    parser.add_argument(
        "--client-message-rate",
        type=float,
        default=30.0,
        help="messages/s per client address, all its connections together",
    )
    parser.add_argument(
        "--max-ws-per-client",
        type=int,
        default=16,
        help="websocket connections at once from one client address (the next gets HTTP 429)",
    )
    parser.add_argument("--render-workers", type=int, default=2)
    parser.add_argument(
        "--header-timeout",
        type=float,
        default=10.0,
        help="seconds a connection may take to send its request headers (and stay idle)",
    )
    parser.add_argument(
        "--body-timeout",
        type=float,
        default=30.0,
        help="seconds a request may take to send its body (HTTP 408 after)",
    )
    parser.add_argument(
        "--max-stream-size",
        type=int,
        default=None,
        help="largest video size a client's set may ask for (default: 768, or --size if larger)",
    )
    parser.add_argument(
        "--max-stream-fps",
        type=float,
        default=None,
        help="largest frame rate a client's set may ask for (default: 30, or --fps if larger)",
    )
    parser.add_argument(
        "--codec",
        choices=("h264", "vp8"),
        default="h264",
        help="preferred video codec (the other is used when a browser lacks it; h264 is the "
        "cheapest to encode here)",
    )
    parser.add_argument(
        "--max-bitrate-kbps", type=int, default=1000, help="upper bound of each stream's bitrate"
    )
    parser.add_argument(
        "--ice-server",
        action="append",
        default=[],
        metavar="URL",
        help="STUN/TURN server for remote browsers (repeatable): stun:HOST[:PORT], "
        "turn:HOST[:PORT][?transport=udp|tcp], turns:HOST[:PORT], credentials inline "
        "(turn:USER:PASS@HOST:PORT) or from --ice-username/--ice-credential. None by default: "
        "no third-party server is ever contacted",
    )
    parser.add_argument("--ice-username", default=None, help="TURN user name (all turn: URLs)")
    parser.add_argument("--ice-credential", default=None, help="TURN password (all turn: URLs)")
    parser.add_argument(
        "--liveness-timeout",
        type=float,
        default=10.0,
        help="close a WebRTC peer that stops answering (tab crashed, network gone) after this "
        "many seconds (4-60)",
    )
    parser.add_argument("--no-idle", action="store_true", help="no blinks/head motion when idle")
    parser.add_argument("--no-warmup", action="store_true", help="load models on first use")
    parser.add_argument("--checkpoint", default=None, help="instruction planner checkpoint dir")
    parser.add_argument(
        "--dynamics", choices=("eased", "learned"), default="eased",
        help="how each emotion unfolds: eased (all shapes on one curve) or learned (the "
        "dynamics model: staggered shapes; generated at plan time)",
    )  # fmt: skip
    parser.add_argument("--dynamics-checkpoint", default=None, help="dynamics model (.pt)")
    parser.set_defaults(func=run)


def build_config(args: argparse.Namespace) -> Any:
    """The one place where the command line becomes a :class:`ServerConfig`."""
    from server.config import ServerConfig, parse_ice_server

    if (args.ice_username or args.ice_credential) and not any(
        url.strip().startswith("turn") for url in args.ice_server
    ):
        raise ValueError("--ice-username/--ice-credential need a turn: or turns: --ice-server")
    ice_servers = tuple(
        parse_ice_server(url, args.ice_username, args.ice_credential) for url in args.ice_server
    )
    return ServerConfig(
        ice_servers=ice_servers,
        liveness_timeout=args.liveness_timeout,
        host=args.host,
        port=args.port,
        fps=args.fps,
        size=args.size,
        max_sessions=args.max_sessions,
        max_peers=args.max_peers,
        max_pending_offers_per_client=args.max_pending_offers,
        connect_timeout=args.connect_timeout,
        max_capture_bytes=int(args.max_capture_mb * 1024 * 1024),
        max_upload_pixels=int(args.max_upload_mpx * 1_000_000),
        max_capture_pixels=int(args.max_capture_mpx * 1_000_000),
        max_heavy_jobs_per_session=args.max_jobs_per_session,
        client_message_rate=args.client_message_rate,
        client_message_burst=max(1, round(2 * args.client_message_rate)),
        header_timeout=args.header_timeout,
        body_timeout=args.body_timeout,
        max_stream_size=args.max_stream_size or max(768, args.size),
        max_stream_fps=args.max_stream_fps or max(30.0, args.fps),
        token=args.token,
        allowed_origins=tuple(args.allow_origin),
        public_origins=tuple(args.public_origin),
        photo=args.photo,
        virtual_camera=args.virtual_camera,
        virtual_camera_device=args.virtual_camera_device,
        virtual_camera_backend=args.virtual_camera_backend,
        tracking=tracking_from_args(args),
        demo_idle_seconds=args.demo_idle,
        max_upload_bytes=int(args.max_upload_mb * 1024 * 1024),
        message_rate=args.message_rate,
        max_websockets_per_client=args.max_ws_per_client,
        render_workers=args.render_workers,
        video_codec=args.codec,
        video_max_bitrate=args.max_bitrate_kbps * 1000,
        idle_motion=not args.no_idle,
    )


def _startup_image(config: Any, engine: Any) -> Any:
    if config.photo is None:
        return None
    if config.photo == "astronaut":
        from skimage import data

        return data.astronaut()
    data_bytes = Path(config.photo).read_bytes()
    return engine.load_image(
        data_bytes, max_pixels=config.max_upload_pixels, max_side=config.max_image_side
    )


def run(args: argparse.Namespace) -> int:
    try:
        config = build_config(args)
    except ValueError as error:
        print(f"facecast serve: {error}", file=sys.stderr)
        return 2
    import torch
    from aiohttp import web

    from server.app import create_app, runner_options
    from server.engine import EngineConfig, FacecastEngine
    from server.exceptions import ServerError
    from server.virtual_camera import open_virtual_camera

    # One intra-op thread: the planner's small models run 10-60x faster at p95 than with torch's
    # default pool competing against the render threads (engines/i2fet/planner.py).
    torch.set_num_threads(1)
    engine = FacecastEngine(
        EngineConfig(
            planner_checkpoint=Path(args.checkpoint) if args.checkpoint else None,
            dynamics=args.dynamics,
            dynamics_checkpoint=Path(args.dynamics_checkpoint) if args.dynamics_checkpoint
            else None,
        )
    )  # fmt: skip
    if args.dynamics == "learned":
        try:
            engine.load_dynamics()  # fail now, not at the first instruction
        except ServerError as error:
            print(f"facecast serve: {error}", file=sys.stderr)
            return 1
    try:
        image = _startup_image(config, engine)
    except (OSError, ServerError) as error:
        print(f"facecast serve: cannot use --photo {config.photo}: {error}", file=sys.stderr)
        return 2
    camera = None
    if config.virtual_camera:
        try:
            camera = open_virtual_camera(
                config.size,
                config.fps,
                config.virtual_camera_device,
                backend=config.virtual_camera_backend,
            )
        except ServerError as error:
            print(f"facecast serve: {error}", file=sys.stderr)
            return 2 if error.code == "bad_virtual_camera_backend" else 1
        logger.info("virtual camera: %s", getattr(camera, "device", "opened"))
    app = create_app(
        config, engine, virtual_camera=camera, startup_image=image, warmup=not args.no_warmup
    )
    if config.host not in ("127.0.0.1", "localhost", "::1"):
        logger.warning(
            "listening on %s: reachable from other machines%s",
            config.host,
            "" if config.token else _NO_TOKEN_NOTE,
        )
    ready = (
        f"Facecast on http://{config.host}:{config.port}/  "
        "(kiosk: /kiosk, OBS overlay: /overlay, websocket: /ws)"
    )
    try:
        web.run_app(
            app,
            host=config.host,
            port=config.port,
            print=lambda _: print(ready, flush=True),  # once listening, not before
            handle_signals=True,
            **runner_options(config),
        )
    except OSError as error:
        print(
            f"facecast serve: cannot listen on {config.host}:{config.port}: {error}",
            file=sys.stderr,
        )
        return 1
    return 0
