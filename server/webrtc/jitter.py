"""A video jitter buffer that completes a frame on its last packet, as browsers do.

aiortc's ``JitterBuffer`` only knows a video frame is complete when the first packet of the
*next* frame arrives (a new RTP timestamp), so every frame reaches an aiortc receiver one frame
interval late (33 ms at 30 fps). Browsers complete a frame on the RTP marker bit, which the
sender sets on the last packet of each frame. The Python client (:mod:`server.webrtc.client`,
used by the tests and the stream benchmark) installs this buffer so that what it measures is
what a browser sees. When the marker bit is lost the frame completes on the next timestamp, as
in aiortc.
"""

from __future__ import annotations

import logging

from aiortc import RTCRtpReceiver
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtp import RtpPacket

__all__ = ["MarkerJitterBuffer", "install_marker_jitter_buffer"]

logger = logging.getLogger(__name__)

_RECEIVER_BUFFER_ATTRIBUTE = "_RTCRtpReceiver__jitter_buffer"


class MarkerJitterBuffer(JitterBuffer):
    """aiortc's video jitter buffer (capacity 512, PLI on overflow or misorder) that hands out
    the oldest frame as soon as its packets up to the one with the marker bit are all in."""

    def __init__(self, capacity: int = 512) -> None:
        super().__init__(capacity=capacity, is_video=True)

    def _remove_frame(self, sequence_number: int) -> JitterFrame | None:
        if self._origin is None:
            return None
        packets: list[RtpPacket] = []
        timestamp: int | None = None
        for count in range(self.capacity):
            packet = self._packets[(self._origin + count) % self.capacity]
            if packet is None:  # a gap: the oldest frame is not complete yet
                return None
            if timestamp is None:
                timestamp = packet.timestamp
            elif packet.timestamp != timestamp:  # the next frame began: marker bit lost
                return self._take(packets, timestamp, count)
            packets.append(packet)
            if packet.marker:  # the frame's last packet
                return self._take(packets, timestamp, count + 1)
        return None

    def _take(self, packets: list[RtpPacket], timestamp: int, count: int) -> JitterFrame:
        frame = JitterFrame(data=b"".join(p._data for p in packets), timestamp=timestamp)  # type: ignore[attr-defined]
        self.remove(count)
        return frame


def install_marker_jitter_buffer(receiver: RTCRtpReceiver) -> bool:
    """Give a video ``receiver`` a :class:`MarkerJitterBuffer` (before media arrives).

    Returns:
        True when installed; False (with a warning) when this aiortc's receiver has no such
        attribute, in which case its own buffer is kept.
    """
    if not isinstance(getattr(receiver, _RECEIVER_BUFFER_ATTRIBUTE, None), JitterBuffer):
        logger.warning(
            "this aiortc's RTCRtpReceiver has no %s: keeping its jitter buffer",
            _RECEIVER_BUFFER_ATTRIBUTE,
        )
        return False
    setattr(receiver, _RECEIVER_BUFFER_ATTRIBUTE, MarkerJitterBuffer())
    return True
