"""A Python WebRTC client of a Facecast server: receives the avatar video and talks the protocol
over the data channel. Used by the in-process tests and the stream benchmark; also a starting
point for recording the stream from a script.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpReceiver, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from numpy.typing import NDArray

from server.webrtc.jitter import install_marker_jitter_buffer

__all__ = ["AvatarClient", "ReceivedFrame"]


@dataclass(frozen=True)
class ReceivedFrame:
    """A decoded frame: (H, W, 3) uint8 RGB and the monotonic time it arrived."""

    image: NDArray[np.uint8]
    received_at: float
    number: int


class AvatarClient:
    """Connects to ``base_url`` (``http://host:port``), receives video, sends commands.

    Args:
        base_url: the server's HTTP root.
        webcam: a video track to send as the webcam (for ``capture``); None = receive only.
        session: None for a private session, "broadcast" or an id to watch/control another.
        token: the server's operator token (drives the broadcast), if it has one.
        key: the key of the private session ``session`` (the ``key`` of the client that made
            it); after :meth:`connect` of a new private session, its own key.
        keep_frames: decode received frames to arrays (False only counts them: cheaper).
        marker_frames: complete each video frame on its last RTP packet, as browsers do
            (:mod:`server.webrtc.jitter`); False keeps aiortc's buffer, which hands a frame
            over one frame interval later.
        video_codecs: offer only these video codecs (e.g. ``("vp8",)``, as a browser without
            H.264 would); None offers every codec aiortc has.
    """

    def __init__(
        self,
        base_url: str,
        *,
        webcam: MediaStreamTrack | None = None,
        session: str | None = None,
        token: str | None = None,
        key: str | None = None,
        keep_frames: bool = True,
        marker_frames: bool = True,
        video_codecs: tuple[str, ...] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.webcam = webcam
        self.requested_session = session
        self.token = token
        self.key = key
        self.rights: str | None = None
        """``"drive"`` or ``"view"`` (a broadcast viewer without the operator right)."""
        self.keep_frames = keep_frames
        self.marker_frames = marker_frames
        self.video_codecs = video_codecs
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # no third-party STUN
        self.channel: Any = None
        self.session_id: str | None = None
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.event_log: list[tuple[float, dict[str, Any]]] = []  # (monotonic arrival, event)
        self.frames_received = 0
        self.latest: ReceivedFrame | None = None
        self._frame_event = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self._open = asyncio.Event()

    async def connect(self, timeout: float = 10.0) -> None:
        """Offer, get the answer, wait until the data channel is open."""
        self.channel = self.pc.createDataChannel("facecast")
        self.channel.on("open", self._open.set)
        self.channel.on("message", self._on_message)
        if self.webcam is not None:
            self.pc.addTrack(self.webcam)
        else:
            self.pc.addTransceiver("video", direction="recvonly")
        for transceiver in self.pc.getTransceivers():
            if transceiver.kind != "video":
                continue
            if self.marker_frames:
                install_marker_jitter_buffer(transceiver.receiver)
            if self.video_codecs is not None:
                wanted = {f"video/{name.lower()}" for name in self.video_codecs}
                capabilities = RTCRtpReceiver.getCapabilities("video")
                codecs = capabilities.codecs if capabilities is not None else []
                transceiver.setCodecPreferences(
                    [c for c in codecs if c.mimeType.lower() in wanted | {"video/rtx"}]
                )
        self.pc.on("track", self._on_track)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        body: dict[str, Any] = {"sdp": self.pc.localDescription.sdp, "type": "offer"}
        if self.requested_session is not None:
            body["session"] = self.requested_session
        if self.token is not None:
            body["token"] = self.token
        if self.key is not None:
            body["key"] = self.key
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{self.base_url}/offer", json=body) as response,
        ):
            answer = await response.json()
            if response.status != 200:
                await self.pc.close()
                raise ConnectionError(f"{answer.get('code')}: {answer.get('message')}")
        self.session_id = answer["session"]
        self.key = answer.get("key", self.key)
        self.rights = answer.get("rights")
        await self.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
        await asyncio.wait_for(self._open.wait(), timeout)

    def _on_message(self, message: str | bytes) -> None:
        with contextlib.suppress(ValueError):
            event = json.loads(message)
            self.event_log.append((time.monotonic(), event))
            self.events.put_nowait(event)

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "video" and self._reader is None:
            self._reader = asyncio.create_task(self._read(track))

    async def _read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                self.frames_received += 1
                if self.keep_frames:
                    image = frame.to_ndarray(format="rgb24")  # type: ignore[union-attr]
                    self.latest = ReceivedFrame(image, time.monotonic(), self.frames_received)
                self._frame_event.set()

    async def next_frame(self, timeout: float = 10.0) -> ReceivedFrame:
        """The next frame that arrives (waits for it)."""
        self._frame_event.clear()
        await asyncio.wait_for(self._frame_event.wait(), timeout)
        assert self.latest is not None or not self.keep_frames
        return self.latest  # type: ignore[return-value]

    def send(self, message: dict[str, Any] | str) -> None:
        """Send one protocol message (a dict is JSON-encoded)."""
        self.channel.send(message if isinstance(message, str) else json.dumps(message))

    async def wait_event(self, type_: str, timeout: float = 10.0, **match: Any) -> dict[str, Any]:
        """The next event of ``type_`` whose fields equal ``match`` (others are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {type_} event {match} within {timeout} s")
            event = await asyncio.wait_for(self.events.get(), remaining)
            if event.get("type") == type_ and all(event.get(k) == v for k, v in match.items()):
                return event

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self.pc.close()
