"""WebRTC transport: signaling, the peer connection wrapper and the avatar video track.

Only this package converts between ``av.VideoFrame`` and arrays; it never touches models.
"""

from server.webrtc.connection import PeerLink, WebcamReader
from server.webrtc.signaling import Offer, answer_offer, parse_offer
from server.webrtc.track import AvatarVideoTrack, rgb_to_video_frame

__all__ = [
    "AvatarVideoTrack",
    "Offer",
    "PeerLink",
    "WebcamReader",
    "answer_offer",
    "parse_offer",
    "rgb_to_video_frame",
]
