"""Latest-frame-wins hand-over between a session's producer and its outputs.

The producer overwrites one slot; every output (WebRTC track, virtual camera) reads the newest
frame when it is its turn to send. Nothing queues, so delay cannot build up: a slow consumer
simply skips frames.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["FrameSlot", "ProducedFrame"]


@dataclass(frozen=True)
class ProducedFrame:
    """One rendered frame: (H, W, 3) uint8 RGB, its sequence number and production time, and
    its (H, W) uint8 matte (255 = avatar, 0 = the photo's background) when an output that
    keys the background asked for it (None otherwise, and for the placeholder)."""

    image: NDArray[np.uint8]
    sequence: int
    produced_at: float
    matte: NDArray[np.uint8] | None = None


class FrameSlot:
    """Holds the newest frame; counts the outputs that watch it."""

    def __init__(self) -> None:
        self._frame: ProducedFrame | None = None
        self._sequence = 0
        self._viewers = 0
        self._matte_viewers = 0
        self._changed = asyncio.Event()
        self._has_viewers = asyncio.Event()

    @property
    def viewers(self) -> int:
        return self._viewers

    @property
    def matte_viewers(self) -> int:
        """Outputs that need each frame's matte (the OBS overlay)."""
        return self._matte_viewers

    def attach(self, *, matte: bool = False) -> None:
        """An output starts reading (``matte``: it needs the frames' mattes too)."""
        self._viewers += 1
        if matte:
            self._matte_viewers += 1
        self._has_viewers.set()

    def detach(self, *, matte: bool = False) -> None:
        """An output stops reading (with the ``matte`` it attached with)."""
        self._viewers = max(0, self._viewers - 1)
        if matte:
            self._matte_viewers = max(0, self._matte_viewers - 1)
        if self._viewers == 0:
            self._has_viewers.clear()

    async def wait_for_viewers(self) -> None:
        await self._has_viewers.wait()

    def put(
        self, image: NDArray[np.uint8], matte: NDArray[np.uint8] | None = None
    ) -> ProducedFrame:
        """Replace the newest frame (the previous one is dropped if nobody took it)."""
        self._sequence += 1
        self._frame = ProducedFrame(image, self._sequence, time.monotonic(), matte)
        self._changed.set()
        return self._frame

    def latest(self) -> ProducedFrame | None:
        return self._frame

    async def wait_newer(self, sequence: int) -> ProducedFrame:
        """The newest frame once its sequence number is larger than ``sequence``."""
        while self._frame is None or self._frame.sequence <= sequence:
            self._changed.clear()
            await self._changed.wait()
        return self._frame
