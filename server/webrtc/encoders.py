"""Video encoders for the avatar stream, cheaper than aiortc's defaults, and the codec choice.

aiortc picks an encoder per sender from the negotiated codec and configures it itself: VP8
(libvpx, ``cpu-used -6``) costs ~4.8 ms per 512² frame here, its H.264 (libx264 at the
``medium`` preset, a keyframe every 12 frames) ~16 ms. For one server rendering several
avatars on a few cores the encoder is, after the renderer, the largest cost per frame, so the
server negotiates the codec itself (H.264 first by default: libx264 ``ultrafast`` +
``zerolatency`` costs ~1.9 ms a frame and decodes ~2x faster than VP8 at a higher quality) and
gives each sender an encoder built from :class:`EncoderConfig`. Both encoders keep aiortc's
packetisation, keyframe-on-request (PLI/FIR) and receiver bitrate estimates (REMB), capped at
``max_bitrate``.

aiortc has no public hook for the encoder of a sender: :func:`install_encoder` sets the one
private attribute aiortc 1.16's ``RTCRtpSender`` reads (before its first frame) and refuses,
with a warning, when that attribute is not there (a different aiortc): the stream then works
with aiortc's own encoder.
"""

from __future__ import annotations

import fractions
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import av
from aiortc import RTCRtpSender, RTCRtpTransceiver
from aiortc.codecs.h264 import H264Encoder
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.mediastreams import VIDEO_TIME_BASE, convert_timebase
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.sdp import SessionDescription

__all__ = [
    "CODECS",
    "EncoderConfig",
    "FastH264Encoder",
    "FastVp8Encoder",
    "install_encoder",
    "make_encoder",
    "negotiated_codec",
    "prefer_codec",
]

logger = logging.getLogger(__name__)

CODECS = ("h264", "vp8")
"""Video codecs the server can prefer (the browser's offer decides what is possible)."""

_MIME = {"h264": "video/h264", "vp8": "video/vp8"}
_X264_PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
)
_SENDER_ENCODER_ATTRIBUTE = "_RTCRtpSender__encoder"


@dataclass(frozen=True)
class EncoderConfig:
    """How the avatar video is encoded.

    Attributes:
        codec: preferred codec, ``"h264"`` or ``"vp8"``; the other one is used when the peer
            does not offer it.
        max_bitrate: upper bound of the target bitrate, bits/s (receivers' estimates can only
            lower it). 1 Mbit/s is plenty for a 512² face at 30 fps.
        start_bitrate: target bitrate before the first receiver estimate, bits/s.
        h264_preset: libx264 preset (``ultrafast`` is ~3x cheaper than ``veryfast``).
        vp8_speed: libvpx real-time speed (``cpu-used``), 4..16: higher is faster and a little
            blurrier (aiortc uses 6; 12 saves ~1.5 ms a 512² frame).
        keyframe_interval: frames between unrequested keyframes (receivers ask for one with
            PLI/FIR when they need it).
    """

    codec: str = "h264"
    max_bitrate: int = 1_000_000
    start_bitrate: int = 800_000
    h264_preset: str = "ultrafast"
    vp8_speed: int = 12
    keyframe_interval: int = 300

    def __post_init__(self) -> None:
        if self.codec not in CODECS:
            raise ValueError(f"codec must be one of {', '.join(CODECS)}, got {self.codec!r}")
        if not 250_000 <= self.max_bitrate <= 10_000_000:
            raise ValueError(
                f"max_bitrate must be in [250000, 10000000] bit/s, got {self.max_bitrate}"
            )
        if not 250_000 <= self.start_bitrate <= self.max_bitrate:
            raise ValueError(
                f"start_bitrate must be in [250000, max_bitrate={self.max_bitrate}], "
                f"got {self.start_bitrate}"
            )
        if self.h264_preset not in _X264_PRESETS:
            raise ValueError(
                f"h264_preset must be one of {', '.join(_X264_PRESETS)}, got {self.h264_preset!r}"
            )
        if not 4 <= self.vp8_speed <= 16:
            raise ValueError(f"vp8_speed must be in [4, 16], got {self.vp8_speed}")
        if self.keyframe_interval < 1:
            raise ValueError(f"keyframe_interval must be >= 1, got {self.keyframe_interval}")


def _clamp_bitrate(bitrate: int, config: EncoderConfig) -> int:
    return max(min(int(bitrate), config.max_bitrate), 250_000)


def _needs_new_codec(codec: Any, frame: av.VideoFrame, bitrate: int) -> bool:
    """Size changed, or the target bitrate moved by more than 10% (as aiortc decides)."""
    return bool(
        frame.width != codec.width
        or frame.height != codec.height
        or abs(bitrate - codec.bit_rate) / codec.bit_rate > 0.1
    )


class _CappedBitrate:
    """The settings and the target bitrate, clamped to the configured range, that both fast
    encoders share (listed first among their bases, so this property wins over aiortc's)."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.config = config
        self._bitrate = config.start_bitrate

    @property
    def target_bitrate(self) -> int:
        return self._bitrate

    @target_bitrate.setter
    def target_bitrate(self, bitrate: int) -> None:
        self._bitrate = _clamp_bitrate(bitrate, self.config)


class FastH264Encoder(_CappedBitrate, H264Encoder):
    """aiortc's H.264 encoder (packetisation, keyframes on request) with libx264 set up for
    live video on few cores: the configured preset, ``zerolatency``, constrained baseline,
    one thread, a capped bitrate with a one-second VBV, a keyframe every
    ``keyframe_interval`` frames."""

    def _encode_frame(self, frame: av.VideoFrame, force_keyframe: bool) -> Iterator[bytes]:
        if self.codec is not None and _needs_new_codec(self.codec, frame, self._bitrate):
            self.codec = None
        frame.pict_type = (
            av.video.frame.PictureType.I if force_keyframe else av.video.frame.PictureType.NONE
        )
        if self.codec is None:
            codec = av.CodecContext.create("libx264", "w")
            codec.width = frame.width
            codec.height = frame.height
            codec.pix_fmt = "yuv420p"
            codec.bit_rate = self._bitrate
            codec.framerate = fractions.Fraction(30, 1)
            codec.time_base = VIDEO_TIME_BASE  # frames carry 90 kHz wall-clock timestamps
            codec.gop_size = self.config.keyframe_interval
            codec.thread_count = 1  # sessions encode in parallel; frame threads add latency
            codec.options = {
                "preset": self.config.h264_preset,
                "tune": "zerolatency",
                "level": "31",
                "maxrate": str(self._bitrate),
                "bufsize": str(self._bitrate),
            }
            codec.profile = "Baseline"
            self.codec = codec
        data = b"".join(bytes(packet) for packet in self.codec.encode(frame))
        if data:
            yield from self._split_bitstream(data)


class FastVp8Encoder(_CappedBitrate, Vp8Encoder):
    """aiortc's VP8 encoder with a faster real-time speed (``vp8_speed``), a capped bitrate
    and one thread (libvpx's second thread spin-waits: measured slower on 2 cores)."""

    def encode(
        self, frame: av.frame.Frame, force_keyframe: bool = False
    ) -> tuple[list[bytes], int]:
        if not isinstance(frame, av.VideoFrame):
            raise TypeError(f"expected an av.VideoFrame, got {type(frame).__name__}")
        if frame.format.name != "yuv420p":
            frame = frame.reformat(format="yuv420p")
        if frame.pts is None or frame.time_base is None:
            raise ValueError("video frames must carry pts and time_base")
        timestamp = convert_timebase(frame.pts, frame.time_base, VIDEO_TIME_BASE)
        if self.codec is not None and _needs_new_codec(self.codec, frame, self._bitrate):
            self.codec = None
        if force_keyframe:
            frame.pict_type = av.video.frame.PictureType.I
        if self.codec is None:
            rate = str(self._bitrate)
            codec = av.CodecContext.create("libvpx", "w")
            codec.width = frame.width
            codec.height = frame.height
            codec.bit_rate = self._bitrate
            codec.pix_fmt = "yuv420p"
            codec.framerate = fractions.Fraction(30, 1)
            codec.time_base = VIDEO_TIME_BASE  # frames carry 90 kHz wall-clock timestamps
            codec.gop_size = self.config.keyframe_interval
            codec.qmin = 2
            codec.qmax = 56
            codec.thread_count = 1
            codec.options = {
                "bufsize": rate,
                "cpu-used": str(-self.config.vp8_speed),  # negative: real-time speed
                "deadline": "realtime",
                "lag-in-frames": "0",
                "minrate": rate,
                "maxrate": rate,
                "noise-sensitivity": "4",
                "overshoot-pct": "15",
                "partitions": "0",
                "static-thresh": "1",
                "undershoot-pct": "100",
            }
            self.codec = codec
        data = b"".join(bytes(packet) for packet in self.codec.encode(frame))
        payloads = self._packetize(data, self.picture_id)
        self.picture_id = (self.picture_id + 1) % (1 << 15)
        return payloads, timestamp


def make_encoder(codec: RTCRtpCodecParameters, config: EncoderConfig) -> Any:
    """The encoder for a negotiated ``codec`` (None when it is neither H.264 nor VP8)."""
    mime = codec.mimeType.lower()
    if mime == _MIME["h264"]:
        return FastH264Encoder(config)
    if mime == _MIME["vp8"]:
        return FastVp8Encoder(config)
    return None


def prefer_codec(transceiver: RTCRtpTransceiver, codec: str) -> None:
    """Put ``codec`` first in the transceiver's preferences (call before the remote offer is
    applied); the other video codecs stay as fallbacks in aiortc's order."""
    if codec not in CODECS:
        raise ValueError(f"codec must be one of {', '.join(CODECS)}, got {codec!r}")
    capabilities = RTCRtpSender.getCapabilities("video")
    codecs = capabilities.codecs if capabilities is not None else []
    preferred = [c for c in codecs if c.mimeType.lower() == _MIME[codec]]
    others = [c for c in codecs if c.mimeType.lower() != _MIME[codec]]
    transceiver.setCodecPreferences([*preferred, *others])


def install_encoder(
    sender: RTCRtpSender, codec: RTCRtpCodecParameters, config: EncoderConfig
) -> bool:
    """Give ``sender`` the encoder for ``codec`` built from ``config`` (before its first frame).

    Returns:
        True when installed; False (with a warning) when the codec has no fast encoder or this
        aiortc has no such attribute, in which case aiortc's default encoder is used.
    """
    encoder = make_encoder(codec, config)
    if encoder is None:
        return False
    if not hasattr(sender, _SENDER_ENCODER_ATTRIBUTE):
        logger.warning(
            "this aiortc's RTCRtpSender has no %s: using its default encoder",
            _SENDER_ENCODER_ATTRIBUTE,
        )
        return False
    setattr(sender, _SENDER_ENCODER_ATTRIBUTE, encoder)
    return True


def negotiated_codec(sdp: str, mid: str | None) -> RTCRtpCodecParameters | None:
    """The codec a sender of the media section ``mid`` of a local ``sdp`` uses (the first one
    listed; aiortc sends with it), None when there is no such video section."""
    for media in SessionDescription.parse(sdp).media:
        if media.kind == "video" and (mid is None or media.rtp.muxId == mid):
            codecs = [c for c in media.rtp.codecs if c.mimeType.lower() != "video/rtx"]
            return codecs[0] if codecs else None
    return None
