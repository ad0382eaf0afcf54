"""One WebRTC peer: its RTCPeerConnection, data channel, webcam input and avatar output.

The peer's incoming webcam track is read continuously (aiortc queues decoded frames until
they are read) keeping only the newest frame; ``capture`` samples it over a time window. This
is the only place where incoming ``av.VideoFrame`` become arrays.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import av
import numpy as np
from aiortc import RTCPeerConnection, RTCRtpTransceiver
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from numpy.typing import NDArray

from server.channel import ControlChannel
from server.config import ServerConfig
from server.ratelimit import TokenBucket
from server.session import Session
from server.webrtc.encoders import EncoderConfig, install_encoder, negotiated_codec, prefer_codec
from server.webrtc.track import AvatarVideoTrack

__all__ = ["PeerLink", "WebcamReader"]

logger = logging.getLogger(__name__)


class WebcamReader:
    """Reads a remote video track, keeping only its newest frame (a :class:`WebcamSource`)."""

    def __init__(self, track: MediaStreamTrack) -> None:
        self._track = track
        self._latest: av.VideoFrame | None = None
        self._sequence = 0
        self.frames_received = 0
        self._task = asyncio.create_task(self._read(), name="webcam-reader")

    async def _read(self) -> None:
        try:
            while True:
                frame = await self._track.recv()
                if isinstance(frame, av.VideoFrame):
                    self._latest = frame
                    self._sequence += 1
                    self.frames_received += 1
        except MediaStreamError:
            logger.debug("webcam track ended")

    @property
    def live(self) -> bool:
        return not self._task.done()

    async def collect(self, seconds: float, max_frames: int) -> list[NDArray[np.uint8]]:
        """Up to ``max_frames`` distinct RGB frames sampled evenly over ``seconds``."""
        interval = seconds / max(1, max_frames)
        frames: list[NDArray[np.uint8]] = []
        seen = -1
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and len(frames) < max_frames:
            await asyncio.sleep(interval)
            frame, sequence = self._latest, self._sequence
            if frame is not None and sequence != seen:
                seen = sequence
                frames.append(np.asarray(frame.to_ndarray(format="rgb24"), np.uint8))
            if not self.live and frame is None:
                break
        return frames

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class PeerLink:
    """Wires one RTCPeerConnection to one session.

    Args:
        pc: the peer connection (remote description not yet set).
        session: the session this peer watches and controls.
        config: limits for the control channel.
        on_closed: called once when the peer is gone (failed, closed or disconnected).
        overlay: send the picture with its matte (the OBS overlay page).
        view_only: its data channel may watch but not drive (a broadcast viewer without the
            operator right: ``server.access``).
        client_bucket: the message budget of the offer's client address, shared with its other
            connections (:class:`server.ratelimit.ClientBuckets`).
    """

    def __init__(
        self,
        pc: RTCPeerConnection,
        session: Session,
        config: ServerConfig,
        on_closed: Callable[[PeerLink], Awaitable[None]],
        *,
        own_session: bool,
        overlay: bool = False,
        view_only: bool = False,
        client_bucket: TokenBucket | None = None,
    ) -> None:
        self.pc = pc
        self.view_only = view_only
        self._client_bucket = client_bucket
        self.session = session
        self.own_session = own_session
        self.config = config
        self.track = AvatarVideoTrack(session.frames, lambda: session.settings.fps, overlay=overlay)
        self.encoder_config = EncoderConfig(
            codec=config.video_codec,
            max_bitrate=config.video_max_bitrate,
            start_bitrate=min(800_000, config.video_max_bitrate),
        )
        self._transceiver: RTCRtpTransceiver | None = None
        self.codec: str | None = None
        """The negotiated video codec ("H264", "VP8"), known once the answer is made."""
        self.channels: list[ControlChannel] = []
        self.webcam: WebcamReader | None = None
        self._on_closed = on_closed
        self._closed = False
        pc.on("datachannel", self._on_datachannel)
        pc.on("track", self._on_track)
        pc.on("connectionstatechange", self._on_state)

    def _on_datachannel(self, channel: Any) -> None:
        def send(text: str) -> None:
            if channel.readyState == "open":
                channel.send(text)

        control = ControlChannel(
            self.session,
            send,
            self.config,
            name=f"dc {self.session.id}",
            view_only=self.view_only,
            client_bucket=self._client_bucket,
        )
        self.channels.append(control)
        channel.on("message", control.receive)

        @channel.on("close")
        def _closed() -> None:
            control.close()

        if channel.readyState == "open":
            control.send_event(self.session.status("connected"))
        else:

            @channel.on("open")
            def _opened() -> None:
                control.send_event(self.session.status("connected"))

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind != "video" or self.webcam is not None:
            return
        self.webcam = WebcamReader(track)
        if self.own_session and not self.view_only:
            self.session.webcam = self.webcam

    async def _on_state(self) -> None:
        state = self.pc.connectionState
        logger.info("peer of session %s: %s", self.session.id, state)
        if state in ("failed", "closed"):
            await self.close()

    def attach_output(self) -> None:
        """Send the avatar on a video transceiver that prefers the configured codec (call
        before the remote offer is applied: the offer's video section then uses it)."""
        self._transceiver = self.pc.addTransceiver(self.track, direction="sendrecv")
        prefer_codec(self._transceiver, self.encoder_config.codec)

    def install_encoder(self) -> None:
        """Give the avatar sender the fast encoder of the negotiated codec (call after the
        local answer is set, before media flows)."""
        if self._transceiver is None or self.pc.localDescription is None:
            raise RuntimeError("install_encoder needs attach_output and a local answer first")
        codec = negotiated_codec(self.pc.localDescription.sdp, self._transceiver.mid)
        if codec is None:
            logger.warning("session %s: no video codec negotiated", self.session.id)
            return
        self.codec = codec.name
        installed = install_encoder(self._transceiver.sender, codec, self.encoder_config)
        logger.info(
            "session %s: video %s (%s encoder)",
            self.session.id,
            codec.name,
            "fast" if installed else "aiortc default",
        )

    async def close(self) -> None:
        """Close the connection and release everything (idempotent)."""
        if self._closed:
            return
        self._closed = True
        for control in self.channels:
            control.close()
        self.track.stop()
        if self.webcam is not None:
            if self.session.webcam is self.webcam:
                self.session.webcam = None
            await self.webcam.close()
        await self.pc.close()
        await self._on_closed(self)
