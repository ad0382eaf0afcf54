"""Configuration of the Facecast server: one dataclass, built from the command line in one place."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from server.protocol import MAX_MESSAGE_BYTES, MAX_TEXT_CHARS, MIN_MESSAGE_BYTES
from server.vtuber.config import TrackingConfig

__all__ = ["IceServer", "ServerConfig", "normalize_origin", "parse_ice_server"]

_ICE_URL = re.compile(
    r"(?P<scheme>stuns?|turns?):"
    r"(?:(?P<userinfo>[^@/?#\s]+)@)?"
    r"(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)"
    r"(?::(?P<port>[0-9]{1,5}))?"
    r"(?:\?transport=(?P<transport>udp|tcp))?"
)


@dataclass(frozen=True)
class IceServer:
    """One STUN or TURN server, as given to ``--ice-server`` (validated by
    :func:`parse_ice_server`).

    Attributes:
        url: the URL without credentials, e.g. ``stun:stun.example.org:3478`` or
            ``turn:turn.example.org:3478?transport=tcp`` (RFC 7064 / RFC 7065 forms).
        username: TURN user name (None for STUN).
        credential: TURN password (None for STUN).
    """

    url: str
    username: str | None = None
    credential: str | None = None

    @property
    def scheme(self) -> str:
        return self.url.split(":", 1)[0]

    @property
    def is_turn(self) -> bool:
        return self.scheme in ("turn", "turns")

    def to_browser(self) -> dict[str, Any]:
        """The ``RTCIceServer`` dictionary of the browser's ``RTCPeerConnection``."""
        entry: dict[str, Any] = {"urls": [self.url]}
        if self.username is not None:
            entry["username"] = self.username
        if self.credential is not None:
            entry["credential"] = self.credential
        return entry


def parse_ice_server(
    url: str, username: str | None = None, credential: str | None = None
) -> IceServer:
    """Validate one ``--ice-server`` URL.

    Accepted: ``stun:HOST[:PORT]``, ``stuns:HOST[:PORT]``, ``turn:HOST[:PORT][?transport=udp|tcp]``
    and ``turns:HOST[:PORT][?transport=tcp]``; HOST is a name, an IPv4 address or ``[IPv6]``.
    A TURN URL carries its credentials either inline, ``turn:USER:PASSWORD@HOST:PORT``
    (percent-encode ``@`` or ``:`` in the user name), or from ``username`` / ``credential``
    (``--ice-username`` / ``--ice-credential``); inline ones win.

    Raises:
        ValueError: with a message saying what is wrong and what a good URL looks like.
    """
    example = (
        "e.g. stun:stun.example.org:3478 or turn:turn.example.org:3478?transport=tcp "
        "with --ice-username/--ice-credential"
    )
    text = url.strip()
    match = _ICE_URL.fullmatch(text)
    if match is None:
        if text.split(":", 1)[0].lower() not in ("stun", "stuns", "turn", "turns"):
            raise ValueError(
                f"ICE server {url!r}: the URL must start with stun:, stuns:, turn: "
                f"or turns: ({example})"
            )
        if "//" in text:
            raise ValueError(f"ICE server {url!r}: write stun:HOST:PORT, without '//' ({example})")
        raise ValueError(f"ICE server {url!r} is not a valid STUN/TURN URL ({example})")
    scheme, host, port = match["scheme"], match["host"], match["port"]
    if port is not None and not 1 <= int(port) <= 65535:
        raise ValueError(f"ICE server {url!r}: port must be in [1, 65535], got {port}")
    transport = match["transport"]
    if transport is not None and scheme in ("stun", "stuns"):
        raise ValueError(f"ICE server {url!r}: ?transport= is only for turn: URLs")
    if scheme == "turns" and transport == "udp":
        raise ValueError(f"ICE server {url!r}: turns: runs over TLS, use ?transport=tcp")
    userinfo = match["userinfo"]
    if userinfo is not None:
        if scheme in ("stun", "stuns"):
            raise ValueError(f"ICE server {url!r}: STUN servers take no user name or password")
        name, separator, password = userinfo.partition(":")
        if not separator:
            raise ValueError(f"ICE server {url!r}: inline credentials are USER:PASSWORD@HOST")
        username, credential = unquote(name), unquote(password)
    clean = f"{scheme}:{host}" + (f":{port}" if port else "")
    if transport:
        clean += f"?transport={transport}"
    if scheme in ("stun", "stuns"):
        return IceServer(clean)
    if not username or not credential:
        raise ValueError(
            f"ICE server {url!r}: a TURN server needs a user name and a password "
            "(--ice-username U --ice-credential P, or turn:U:P@HOST:PORT)"
        )
    return IceServer(clean, username, credential)


def normalize_origin(origin: str) -> str:
    """A browser origin as browsers write it in ``Origin``: ``scheme://host[:port]``, lower
    case, without the scheme's default port (``https://Example.org:443/`` → ``https://example.org``).

    Raises:
        ValueError: not an ``http://`` or ``https://`` origin, or it has a path, query,
            fragment or user name.
    """
    example = "e.g. https://facecast.example.org or http://192.168.1.20:8080"
    text = origin.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ValueError(f"origin {origin!r} is not a valid origin ({example})") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"origin {origin!r} must be http://HOST[:PORT] or https://... ({example})")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError(f"origin {origin!r} is scheme://host[:port] only, no path ({example})")
    scheme, host = parts.scheme.lower(), parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    default = 80 if scheme == "http" else 443
    return f"{scheme}://{host}" if port in (None, default) else f"{scheme}://{host}:{port}"


@dataclass(frozen=True)
class ServerConfig:
    """Everything the server can be told. Validated on construction (ValueError).

    Attributes:
        host: interface to listen on; ``127.0.0.1`` unless told otherwise.
        port: TCP port.
        fps: default frame rate of every stream.
        size: default side of the square avatar video, pixels (multiple of 16).
        intensity: default intensity scale of instructions.
        max_sessions: largest number of private sessions (one browser each) at once; the next
            offer is refused politely (HTTP 503 ``server_full``). The broadcast is one more.
        max_peers: largest number of WebRTC peers at once, whatever they watch (private
            sessions, broadcast viewers, ``session=ID`` offers): each costs a video encoder;
            the next offer is HTTP 503 ``too_many_peers``.
        max_pending_offers_per_client: offers from one client address whose peer is not
            connected yet; the next is HTTP 429 ``too_many_pending_offers`` (see
            ``connect_timeout``).
        max_sdp_media: most media sections (``m=`` lines) an offer's SDP may have (the page
            sends 2: video and the data channel); more is HTTP 400 ``too_many_media`` before
            aiortc parses it.
        max_message_bytes: largest accepted protocol message, bytes; at least
            ``protocol.MIN_MESSAGE_BYTES`` so that every instruction the character limit
            accepts fits.
        max_websockets_per_client: open websockets allowed from one client address at once;
            the next handshake is refused with HTTP 429 ``too_many_connections``.
        message_rate: sustained messages per second accepted per connection.
        message_burst: burst of messages allowed above ``message_rate``.
        client_message_rate: sustained messages per second accepted from one client address,
            all its websockets and data channels together (``rate_limited`` above it).
        client_message_burst: burst allowed above ``client_message_rate``.
        max_upload_bytes: largest uploaded photo, bytes.
        max_upload_pixels: largest uploaded photo or capture still, pixel count, read from the
            image header before decoding (``image_too_large``).
        max_capture_bytes: largest ``/capture`` body, all stills together, bytes (413
            ``capture_too_large``; each still is also at most ``max_upload_bytes``).
        max_capture_pixels: most pixels of all the stills of one ``/capture`` together, read
            from their headers before any is decoded (413 ``capture_too_large``).
        max_heavy_jobs_per_session: uploads and captures one session holds at once, running
            or waiting (their bytes are held until they run); the next is HTTP 429 ``busy``
            before its body is read.
        max_image_side: uploaded photos are downscaled so their longer side is at most this.
        capture_seconds: default duration of a webcam capture window.
        capture_max_frames: at most this many frames of the window are scored.
        token: the operator key (``--token``): drives the broadcast session (commands, uploads,
            settings) and reads ``/api/status``. None: only this machine (loopback, a loopback
            ``Host``, not proxied) is the operator (``server.access``).
        allowed_origins: extra browser origins allowed on the state-changing routes, added to
            the public ones (``--allow-origin``).
        public_origins: the browser origins of the pages that may use the state-changing routes
            (POST /offer, /upload, /capture, the websocket handshake), compared as
            ``normalize_origin`` writes them; empty = the server's own listening origins
            (``--public-origin``; ``server.access``).
        virtual_camera: also send the broadcast session to a virtual camera (pyvirtualcam).
        virtual_camera_device: device path for pyvirtualcam (e.g. /dev/video10), None = default.
        photo: source of the broadcast session at start-up (a path, or "astronaut").
        demo_idle_seconds: the broadcast session plays demo instructions after this long idle
            (0 disables the demo loop).
        video_codec: preferred video codec, ``"h264"`` (libx264 ultrafast: the cheapest to
            encode and decode here) or ``"vp8"``; the other is used when a peer lacks it.
        video_max_bitrate: upper bound of each stream's bitrate, bits/s.
        render_workers: threads rendering frames (shared by all sessions).
        work_workers: threads planning instructions (so neither rendering nor heavy jobs delay
            an instruction).
        heavy_workers: threads decoding photos, choosing the source and calibrating, shared
            by all sessions; each session has at most one job in them at a time, so sessions
            take turns (one session's twelve stills delay another by one still at most).
        idle_motion: blinks and slight head motion between instructions.
        connect_timeout: a WebRTC peer not connected this many seconds after its offer is closed.
        header_timeout: seconds a connection may take to send a request's headers (also how
            long an idle keep-alive connection stays open); slower ones are closed.
        body_timeout: seconds a request may take to send its body (HTTP 408 ``body_timeout``).
        max_stream_size: largest ``size`` a ``set`` may ask for, on any session (the broadcast
            is everyone's: one client must not make it cost 4x for all); more is
            ``setting_too_high``.
        max_stream_fps: largest ``fps`` a ``set`` may ask for (same rule).
        shutdown_timeout: seconds given to requests in flight at shutdown before they are
            cancelled.
        static_dir: where the web client lives; None = the package's client_web/.
        ice_servers: STUN/TURN servers for the server's and the page's RTCPeerConnection
            (``--ice-server``); empty (the default) = host candidates only, no third party.
        liveness_timeout: a WebRTC peer that stops answering ICE consent checks (tab closed,
            browser killed, network gone) is closed after about this many seconds.
        virtual_camera_backend: pyvirtualcam backend name (``v4l2loopback``, ``obs``,
            ``unitycapture``, or one registered with ``pyvirtualcam.register_backend``);
            None = the first that opens.
        tracking: the VTuber outputs (``--vmc``, ``--ifacialmocap``): receivers of the
            followed session's blendshape weights and head pose.
    """

    host: str = "127.0.0.1"
    port: int = 8080
    fps: float = 30.0
    size: int = 512
    intensity: float = 1.0
    max_sessions: int = 4
    max_peers: int = 8
    max_pending_offers_per_client: int = 2
    max_sdp_media: int = 4
    max_message_bytes: int = MAX_MESSAGE_BYTES
    max_websockets_per_client: int = 16
    message_rate: float = 10.0
    message_burst: int = 20
    client_message_rate: float = 30.0
    client_message_burst: int = 60
    max_upload_bytes: int = 10 * 1024 * 1024
    max_upload_pixels: int = 16_000_000
    max_capture_bytes: int = 16 * 1024 * 1024
    max_capture_pixels: int = 32_000_000
    max_heavy_jobs_per_session: int = 2
    max_image_side: int = 2048
    capture_seconds: float = 2.0
    capture_max_frames: int = 12
    token: str | None = None
    allowed_origins: tuple[str, ...] = ()
    public_origins: tuple[str, ...] = ()
    virtual_camera: bool = False
    virtual_camera_device: str | None = None
    photo: str | None = None
    demo_idle_seconds: float = 0.0
    video_codec: str = "h264"
    video_max_bitrate: int = 1_000_000
    render_workers: int = 2
    work_workers: int = 1
    heavy_workers: int = 1
    idle_motion: bool = True
    connect_timeout: float = 10.0
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_stream_size: int = 768
    max_stream_fps: float = 30.0
    shutdown_timeout: float = 0.5
    static_dir: str | None = None
    ice_servers: tuple[IceServer, ...] = ()
    liveness_timeout: float = 10.0
    virtual_camera_backend: str | None = None
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    demo_instructions: tuple[str, ...] = field(
        default=(
            "Turn this face from disgust to happiness",
            "Look surprised, then smile",
            "Show a little sadness",
            "Go from anger to a big happy smile",
            "Look fearful and then relieved and happy",
        )
    )

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be in [0, 65535], got {self.port}")
        if not 1 <= self.fps <= 60:
            raise ValueError(f"fps must be in [1, 60], got {self.fps}")
        if not 64 <= self.size <= 1024 or self.size % 16:
            raise ValueError(f"size must be a multiple of 16 in [64, 1024], got {self.size}")
        if not 0.1 <= self.intensity <= 2:
            raise ValueError(f"intensity must be in [0.1, 2], got {self.intensity}")
        if self.max_sessions < 1:
            raise ValueError(f"max_sessions must be >= 1, got {self.max_sessions}")
        if self.max_peers < 1 or self.max_pending_offers_per_client < 1:
            raise ValueError(
                "max_peers and max_pending_offers_per_client must be >= 1, got "
                f"{self.max_peers} and {self.max_pending_offers_per_client}"
            )
        if self.max_sdp_media < 2:
            raise ValueError(
                f"max_sdp_media must be >= 2 (video and the data channel), got {self.max_sdp_media}"
            )
        if self.max_message_bytes < MIN_MESSAGE_BYTES:
            raise ValueError(
                f"max_message_bytes must be >= {MIN_MESSAGE_BYTES} (an instruction of "
                f"{MAX_TEXT_CHARS} characters must fit), got {self.max_message_bytes}"
            )
        if self.max_websockets_per_client < 1:
            raise ValueError(
                f"max_websockets_per_client must be >= 1, got {self.max_websockets_per_client}"
            )
        if self.message_rate <= 0 or self.message_burst < 1:
            raise ValueError("message_rate must be > 0 and message_burst >= 1")
        if self.client_message_rate <= 0 or self.client_message_burst < 1:
            raise ValueError(
                "client_message_rate must be > 0 and client_message_burst >= 1, got "
                f"{self.client_message_rate}, {self.client_message_burst}"
            )
        if self.max_upload_bytes < 1024 or self.max_upload_pixels < 64 * 64:
            raise ValueError("max_upload_bytes must be >= 1024 and max_upload_pixels >= 4096")
        if self.max_capture_bytes < 1024 or self.max_capture_pixels < 64 * 64:
            raise ValueError("max_capture_bytes must be >= 1024 and max_capture_pixels >= 4096")
        if self.max_heavy_jobs_per_session < 1:
            raise ValueError(
                f"max_heavy_jobs_per_session must be >= 1, got {self.max_heavy_jobs_per_session}"
            )
        if not 0.2 <= self.capture_seconds <= 10:
            raise ValueError(f"capture_seconds must be in [0.2, 10], got {self.capture_seconds}")
        if self.capture_max_frames < 1:
            raise ValueError("capture_max_frames must be >= 1")
        if self.video_codec not in ("h264", "vp8"):
            raise ValueError(f"video_codec must be h264 or vp8, got {self.video_codec!r}")
        if not 250_000 <= self.video_max_bitrate <= 10_000_000:
            raise ValueError(
                "video_max_bitrate must be in [250000, 10000000] bit/s, "
                f"got {self.video_max_bitrate}"
            )
        if self.render_workers < 1 or self.work_workers < 1:
            raise ValueError("render_workers and work_workers must be >= 1")
        if self.heavy_workers < 1:
            raise ValueError(f"heavy_workers must be >= 1, got {self.heavy_workers}")
        if self.connect_timeout <= 0:
            raise ValueError(f"connect_timeout must be > 0, got {self.connect_timeout}")
        if self.header_timeout <= 0 or self.body_timeout <= 0 or self.shutdown_timeout < 0:
            raise ValueError(
                "header_timeout and body_timeout must be > 0 and shutdown_timeout >= 0, got "
                f"{self.header_timeout}, {self.body_timeout}, {self.shutdown_timeout}"
            )
        if not self.size <= self.max_stream_size <= 1024:
            raise ValueError(
                f"max_stream_size must be in [size ({self.size}), 1024], got {self.max_stream_size}"
            )
        if not self.fps <= self.max_stream_fps <= 60:
            raise ValueError(
                f"max_stream_fps must be in [fps ({self.fps:g}), 60], got {self.max_stream_fps}"
            )
        if self.demo_idle_seconds < 0:
            raise ValueError("demo_idle_seconds must be >= 0 (0 disables the demo loop)")
        if not 4 <= self.liveness_timeout <= 60:
            raise ValueError(f"liveness_timeout must be in [4, 60] s, got {self.liveness_timeout}")
        if not all(isinstance(server, IceServer) for server in self.ice_servers):
            raise ValueError("ice_servers must be IceServer values (see parse_ice_server)")
        if self.token is not None and not self.token:
            raise ValueError("token must not be empty (leave it out to disable it)")
        for origin in (*self.public_origins, *self.allowed_origins):
            normalize_origin(origin)  # ValueError with what a good origin looks like
