"""The stream's encoders and codec negotiation: the fast H.264 / VP8 encoders encode, obey the
bitrate cap and forced keyframes, and a real peer connection negotiates the preferred codec
and sends through them."""

from __future__ import annotations

import asyncio
import fractions

import av
import numpy as np
import pytest
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from test_server_fakes import FakeEngine
from test_server_webrtc import PhotoWebcam, _url, running_server

from server.app import FACECAST_KEY
from server.config import ServerConfig
from server.webrtc.client import AvatarClient
from server.webrtc.encoders import (
    EncoderConfig,
    FastH264Encoder,
    FastVp8Encoder,
    make_encoder,
    negotiated_codec,
)

pytestmark = pytest.mark.timeout(120)

TIME_BASE = fractions.Fraction(1, 90_000)


def _frames(count: int, size: int = 128) -> list[av.VideoFrame]:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (size * 3 // 2, size), dtype=np.uint8)
    frames = []
    for number in range(count):
        frame = av.VideoFrame.from_ndarray(np.roll(base, number, axis=1), format="yuv420p")
        frame.pts, frame.time_base = number * 3000, TIME_BASE
        frames.append(frame)
    return frames


@pytest.mark.parametrize("encoder_class", [FastH264Encoder, FastVp8Encoder])
def test_fast_encoders_encode_and_cap_the_bitrate(encoder_class: type) -> None:
    config = EncoderConfig(max_bitrate=600_000, start_bitrate=400_000)
    encoder = encoder_class(config)
    assert encoder.target_bitrate == 400_000
    encoder.target_bitrate = 5_000_000  # a receiver estimate above the cap
    assert encoder.target_bitrate == 600_000
    sizes, timestamps = [], []
    for number, frame in enumerate(_frames(12)):
        payloads, timestamp = encoder.encode(frame, force_keyframe=number == 8)
        assert all(len(p) <= 1300 for p in payloads)
        sizes.append(sum(len(p) for p in payloads))
        timestamps.append(timestamp)
    assert all(size > 0 for size in sizes)
    assert timestamps == [n * 3000 for n in range(12)]
    # The forced keyframe is much larger than the inter frames around it.
    assert sizes[8] > 3 * np.median(sizes[2:8])
    assert encoder.codec is not None and encoder.codec.thread_count == 1


def test_encoder_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="codec"):
        EncoderConfig(codec="av1")
    with pytest.raises(ValueError, match="start_bitrate"):
        EncoderConfig(max_bitrate=500_000, start_bitrate=800_000)
    with pytest.raises(ValueError, match="h264_preset"):
        EncoderConfig(h264_preset="placebo")
    with pytest.raises(ValueError, match="video_codec"):
        ServerConfig(video_codec="vp9")
    assert make_encoder(RTCRtpCodecParameters("video/VP9", 90_000), EncoderConfig()) is None


@pytest.mark.parametrize(("preferred", "expected"), [("h264", "H264"), ("vp8", "VP8")])
def test_peer_negotiates_the_preferred_codec_and_uses_the_fast_encoder(
    astronaut: np.ndarray, preferred: str, expected: str
) -> None:
    async def scenario() -> None:
        async with running_server(FakeEngine(), video_codec=preferred) as server:
            client = AvatarClient(_url(server), webcam=PhotoWebcam(astronaut[:480, :]))
            await client.connect()
            try:
                first = await client.next_frame()
                for _ in range(5):
                    await client.next_frame()
                assert first.image.shape == (128, 128, 3)
                (link,) = server.app[FACECAST_KEY].peers
                assert link.codec == expected
                codec = negotiated_codec(link.pc.localDescription.sdp, None)
                assert codec is not None and codec.name == expected
                sender = next(
                    t.sender for t in link.pc.getTransceivers() if t.sender.track is link.track
                )
                encoder = sender._RTCRtpSender__encoder  # type: ignore[attr-defined]
                assert isinstance(
                    encoder, FastH264Encoder if expected == "H264" else FastVp8Encoder
                )
                # The client's webcam still reaches the server on the same transceiver.
                assert link.webcam is not None
                await asyncio.sleep(0.3)
                assert link.webcam.frames_received > 0
            finally:
                await client.close()

    asyncio.run(scenario())


def test_peer_without_the_preferred_codec_gets_the_other_one(astronaut: np.ndarray) -> None:
    async def scenario() -> None:
        async with running_server(FakeEngine(), video_codec="h264") as server:
            client = AvatarClient(_url(server), video_codecs=("vp8",))
            await client.connect()
            try:
                for _ in range(3):
                    await client.next_frame()
                (link,) = server.app[FACECAST_KEY].peers
                assert link.codec == "VP8"
            finally:
                await client.close()

    asyncio.run(scenario())
