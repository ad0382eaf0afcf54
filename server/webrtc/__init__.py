"""WebRTC transport: signaling, the peer connection wrapper, the avatar video track, its
encoders (codec choice) and the client's marker-bit jitter buffer.

Only this package converts between ``av.VideoFrame`` and arrays; it never touches models.
"""

from server.webrtc.connection import PeerLink, WebcamReader
from server.webrtc.encoders import EncoderConfig, FastH264Encoder, FastVp8Encoder
from server.webrtc.jitter import MarkerJitterBuffer
from server.webrtc.signaling import Offer, answer_offer, parse_offer
from server.webrtc.track import AvatarVideoTrack, rgb_to_video_frame

__all__ = [
    "AvatarVideoTrack",
    "EncoderConfig",
    "FastH264Encoder",
    "FastVp8Encoder",
    "MarkerJitterBuffer",
    "Offer",
    "PeerLink",
    "WebcamReader",
    "answer_offer",
    "parse_offer",
    "rgb_to_video_frame",
]
