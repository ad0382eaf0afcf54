"""The client's jitter buffer hands a video frame over on its last packet (marker bit), in
order, and falls back to the next timestamp when the marker is lost."""

from __future__ import annotations

from aiortc.rtp import RtpPacket

from server.webrtc.jitter import MarkerJitterBuffer


def _packet(sequence: int, timestamp: int, data: bytes, marker: bool = False) -> RtpPacket:
    packet = RtpPacket(
        payload_type=96, sequence_number=sequence, timestamp=timestamp, marker=int(marker)
    )
    packet._data = data  # type: ignore[attr-defined]  # what aiortc's depayloader sets
    return packet


def test_frame_completes_on_its_marker_packet() -> None:
    buffer = MarkerJitterBuffer()
    assert buffer.add(_packet(10, 1000, b"a"))[1] is None
    assert buffer.add(_packet(11, 1000, b"b"))[1] is None
    frame = buffer.add(_packet(12, 1000, b"c", marker=True))[1]
    assert frame is not None and frame.data == b"abc" and frame.timestamp == 1000
    # A one-packet frame completes at once.
    frame = buffer.add(_packet(13, 4000, b"d", marker=True))[1]
    assert frame is not None and frame.data == b"d" and frame.timestamp == 4000


def test_reordered_packets_complete_the_frame_when_the_gap_fills() -> None:
    buffer = MarkerJitterBuffer()
    assert buffer.add(_packet(100, 7000, b"x"))[1] is None
    assert buffer.add(_packet(102, 7000, b"z", marker=True))[1] is None  # 101 missing
    frame = buffer.add(_packet(101, 7000, b"y"))[1]
    assert frame is not None and frame.data == b"xyz"


def test_lost_marker_falls_back_to_the_next_timestamp_and_wraps_sequence_numbers() -> None:
    buffer = MarkerJitterBuffer()
    assert buffer.add(_packet(65534, 1000, b"p"))[1] is None
    assert buffer.add(_packet(65535, 1000, b"q"))[1] is None  # marker lost
    frame = buffer.add(_packet(0, 4000, b"r"))[1]
    assert frame is not None and frame.data == b"pq" and frame.timestamp == 1000
    frame = buffer.add(_packet(1, 4000, b"s", marker=True))[1]
    assert frame is not None and frame.data == b"rs" and frame.timestamp == 4000
