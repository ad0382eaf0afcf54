"""The outgoing avatar video track: a pacer plus latest-frame-wins.

``recv`` waits for the next timestamp of the target rate, takes the newest frame of the session
(repeating the last one if nothing new was produced) and hands it to the encoder. When the
consumer is late by more than one frame period, the missed timestamps are skipped (dropped)
rather than sent late, so delay never builds up. The track ends with ``MediaStreamError``.
This is the only place where arrays become ``av.VideoFrame``.
"""

from __future__ import annotations

import asyncio
import fractions
import time
from collections.abc import Callable

import av
import cv2
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from numpy.typing import NDArray

from server.frames import FrameSlot

__all__ = ["VIDEO_CLOCK_RATE", "AvatarVideoTrack", "rgb_to_i420", "rgb_to_video_frame"]

VIDEO_CLOCK_RATE = 90_000
VIDEO_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK_RATE)


def rgb_to_i420(image: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """(H, W, 3) uint8 RGB (H, W even) -> (3H/2, W) uint8 planar I420."""
    return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2YUV_I420)


def rgb_to_video_frame(image: NDArray[np.uint8]) -> av.VideoFrame:
    """(H, W, 3) uint8 RGB (H, W even) -> yuv420p ``av.VideoFrame`` (what VP8/H264 encode)."""
    return av.VideoFrame.from_ndarray(rgb_to_i420(image), format="yuv420p")


class AvatarVideoTrack(MediaStreamTrack):
    """A video track reading a session's :class:`FrameSlot`.

    Args:
        frames: the session's frame slot (this track counts as one viewer while live).
        fps: returns the current target frame rate (it may change with ``set``).
    """

    kind = "video"

    def __init__(self, frames: FrameSlot, fps: Callable[[], float]) -> None:
        super().__init__()
        self._frames = frames
        self._fps = fps
        self._start: float | None = None
        self._next_time = 0.0
        self._cached: tuple[int, NDArray[np.uint8]] | None = None
        self.frames_sent = 0
        self.frames_dropped = 0
        self._attached = True
        frames.attach()

    async def _next_timestamp(self) -> int:
        """Sleep until the next frame time; skip the times already missed."""
        period = 1.0 / max(self._fps(), 1e-3)
        now = time.monotonic()
        if self._start is None:
            self._start = now
            self._next_time = 0.0
            return 0
        self._next_time += period
        late = now - (self._start + self._next_time)
        if late > period:
            skipped = int(late // period)
            self.frames_dropped += skipped
            self._next_time += skipped * period
        wait = self._start + self._next_time - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        return int(self._next_time * VIDEO_CLOCK_RATE)

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        pts = await self._next_timestamp()
        produced = self._frames.latest()
        if produced is None:
            produced = await self._frames.wait_newer(0)
        if self.readyState != "live":
            raise MediaStreamError
        if self._cached is None or self._cached[0] != produced.sequence:
            self._cached = (produced.sequence, rgb_to_i420(produced.image))
        frame = av.VideoFrame.from_ndarray(self._cached[1], format="yuv420p")
        frame.pts = pts
        frame.time_base = VIDEO_TIME_BASE
        self.frames_sent += 1
        return frame

    def stop(self) -> None:
        if self._attached:
            self._attached = False
            self._frames.detach()
        super().stop()
