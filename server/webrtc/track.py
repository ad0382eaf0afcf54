"""The outgoing avatar video track: a pacer plus latest-frame-wins.

``recv`` hands the encoder the newest frame of the session as soon as the producer makes it
(so the track is phase-locked to the producer and adds no waiting of its own), never more often
than twice the target rate, and repeats the last frame only when the producer stalls
(``KEEPALIVE_SECONDS``), so frames sent are frames produced. Nothing is queued: when the
encoder is late, the frames produced meanwhile are dropped and only the newest is sent, so
delay never builds up. Timestamps come from the wall clock. The track ends with
``MediaStreamError``.
This is the only place where arrays become ``av.VideoFrame``.

The overlay (OBS browser source) watches with ``overlay=True``: each frame is the picture and
its matte side by side, ``(H, 2W)``: the right half is the matte as grey (255 = avatar), which
the page turns into transparency or a key colour (WebRTC video carries no alpha).
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import time
from collections.abc import Callable

import av
import cv2
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from numpy.typing import NDArray

from server.frames import FrameSlot, ProducedFrame

__all__ = [
    "VIDEO_CLOCK_RATE",
    "AvatarVideoTrack",
    "pack_overlay",
    "rgb_to_i420",
    "rgb_to_video_frame",
]

VIDEO_CLOCK_RATE = 90_000
VIDEO_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK_RATE)
KEEPALIVE_SECONDS = 0.5
"""Without a new frame for this long, the last frame is sent again (keeps decoders fed)."""


def rgb_to_i420(image: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """(H, W, 3) uint8 RGB (H, W even) -> (3H/2, W) uint8 planar I420."""
    return np.asarray(cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2YUV_I420), np.uint8)


def rgb_to_video_frame(image: NDArray[np.uint8]) -> av.VideoFrame:
    """(H, W, 3) uint8 RGB (H, W even) -> yuv420p ``av.VideoFrame`` (what VP8/H264 encode)."""
    return av.VideoFrame.from_ndarray(rgb_to_i420(image), format="yuv420p")


def pack_overlay(produced: ProducedFrame) -> NDArray[np.uint8]:
    """(H, 2W, 3) uint8: the (H, W, 3) picture, then its matte as grey (a frame without a
    matte, e.g. the placeholder, is all background: the overlay shows nothing)."""
    image = produced.image
    height, width = image.shape[:2]
    packed = np.zeros((height, 2 * width, 3), np.uint8)
    packed[:, :width] = image
    if produced.matte is not None and produced.matte.shape == (height, width):
        packed[:, width:] = produced.matte[..., None]
    return packed


def _overlay_i420(produced: ProducedFrame) -> NDArray[np.uint8]:
    return rgb_to_i420(pack_overlay(produced))


def _i420(produced: ProducedFrame) -> NDArray[np.uint8]:
    return rgb_to_i420(produced.image)


class AvatarVideoTrack(MediaStreamTrack):
    """A video track reading a session's :class:`FrameSlot`.

    Args:
        frames: the session's frame slot (this track counts as one viewer while live).
        fps: returns the current target frame rate (it may change with ``set``).
        overlay: send picture and matte side by side (:func:`pack_overlay`).
    """

    kind = "video"

    def __init__(
        self, frames: FrameSlot, fps: Callable[[], float], *, overlay: bool = False
    ) -> None:
        super().__init__()
        self._frames = frames
        self._fps = fps
        self.overlay = overlay
        self._convert = _overlay_i420 if overlay else _i420
        self._start = 0.0
        self._last_sent: float | None = None
        self._last_sequence = 0
        self._last_pts = -1
        self._cached: tuple[int, NDArray[np.uint8]] | None = None
        self.frames_sent = 0
        self.frames_dropped = 0
        self._attached = True
        frames.attach(matte=overlay)

    async def _next_frame(self) -> ProducedFrame:
        """The frame to send now: a newer one as soon as it is produced (but never more often
        than twice the target rate), else the last one again after :data:`KEEPALIVE_SECONDS`
        (only when the producer stalls: frames received then are frames produced)."""
        period = 1.0 / max(self._fps(), 1e-3)
        if self._last_sent is None:
            produced = self._frames.latest() or await self._frames.wait_newer(0)
            self._start = time.monotonic()
            return produced
        earliest = self._last_sent + 0.5 * period
        now = time.monotonic()
        if earliest > now:
            await asyncio.sleep(earliest - now)
        last_sequence = self._last_sequence
        remaining = self._last_sent + max(1.5 * period, KEEPALIVE_SECONDS) - time.monotonic()
        if remaining > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._frames.wait_newer(last_sequence), remaining)
        newest = self._frames.latest()
        if newest is None:  # cannot happen: the first call waited for a frame
            raise MediaStreamError
        produced = newest
        if produced.sequence > last_sequence + 1:
            self.frames_dropped += produced.sequence - last_sequence - 1
        return produced

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        produced = await self._next_frame()
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        self._last_sent = now
        self._last_sequence = produced.sequence
        if self._cached is None or self._cached[0] != produced.sequence:
            # Off the event loop: the conversion is ~0.4 ms of a 512² frame (cv2 releases the
            # GIL), which the loop would otherwise spend once per frame and stream.
            i420 = await asyncio.get_running_loop().run_in_executor(None, self._convert, produced)
            if self.readyState != "live":
                raise MediaStreamError
            self._cached = (produced.sequence, i420)
        frame = av.VideoFrame.from_ndarray(self._cached[1], format="yuv420p")
        # Presentation time from the wall clock, strictly increasing.
        pts = max(int((now - self._start) * VIDEO_CLOCK_RATE), self._last_pts + 1)
        self._last_pts = pts
        frame.pts = pts
        frame.time_base = VIDEO_TIME_BASE
        self.frames_sent += 1
        return frame

    def stop(self) -> None:
        if self._attached:
            self._attached = False
            self._frames.detach(matte=self.overlay)
        super().stop()
