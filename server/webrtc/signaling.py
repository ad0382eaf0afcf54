"""WebRTC signaling: one SDP offer in, one answer out (non-trickle ICE, as aiortc does)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from server.config import ServerConfig
from server.exceptions import ProtocolError
from server.ratelimit import TokenBucket
from server.session import Session
from server.webrtc.connection import PeerLink
from server.webrtc.ice import rtc_ice_servers

__all__ = ["Offer", "answer_offer", "media_sections", "parse_offer"]

_MAX_SDP_CHARS = 64_000
VIEWS = ("avatar", "overlay")


@dataclass(frozen=True)
class Offer:
    """A validated ``POST /offer`` body."""

    sdp: str
    type: str
    session: str | None
    token: str | None
    view: str = "avatar"
    """``"avatar"`` (the picture) or ``"overlay"`` (picture and matte side by side: /overlay)."""
    key: str | None = None
    """The key of the private session ``session`` (``server.access``)."""


def media_sections(sdp: str) -> int:
    """How many media sections (``m=`` lines) ``sdp`` has (counted without parsing it)."""
    return sdp.count("\nm=") + (1 if sdp.startswith("m=") else 0)


def parse_offer(body: Any, max_media: int = 4) -> Offer:
    """Validate the JSON body of ``POST /offer`` (ProtocolError ``bad_offer`` otherwise;
    ``too_many_media`` for an SDP of more than ``max_media`` media sections: the page sends two,
    and each one costs aiortc time and answer bytes before anything else could refuse it)."""
    if not isinstance(body, dict):
        raise ProtocolError(
            'the offer must be a JSON object {"sdp": ..., "type": "offer"}', "bad_offer"
        )
    sdp, kind = body.get("sdp"), body.get("type")
    if kind != "offer" or not isinstance(sdp, str) or not sdp.startswith("v=0"):
        raise ProtocolError('expected {"sdp": "v=0...", "type": "offer"}', "bad_offer")
    if len(sdp) > _MAX_SDP_CHARS:
        raise ProtocolError(f"SDP longer than {_MAX_SDP_CHARS} characters", "bad_offer")
    media = media_sections(sdp)
    if media > max_media:
        raise ProtocolError(
            f"the SDP has {media} media sections; at most {max_media} are accepted "
            "(video and the data channel)",
            "too_many_media",
        )
    session, token, key = body.get("session"), body.get("token"), body.get("key")
    if session is not None and not isinstance(session, str):
        raise ProtocolError("session must be a string", "bad_offer")
    if token is not None and not isinstance(token, str):
        raise ProtocolError("token must be a string", "bad_offer")
    if key is not None and not isinstance(key, str):
        raise ProtocolError("key must be a string", "bad_offer")
    view = body.get("view", "avatar")
    if view not in VIEWS:
        raise ProtocolError(f"view must be one of {', '.join(VIEWS)}", "bad_offer")
    return Offer(sdp, kind, session, token, view, key)


async def answer_offer(
    offer: Offer,
    session: Session,
    config: ServerConfig,
    on_closed: Callable[[PeerLink], Awaitable[None]],
    *,
    own_session: bool,
    view_only: bool = False,
    client_bucket: TokenBucket | None = None,
) -> tuple[PeerLink, RTCSessionDescription]:
    """Create the peer for ``offer``, attach the session's video, return the peer and answer.

    STUN/TURN servers are only those of ``config.ice_servers`` (``--ice-server``); without them
    the server answers with its host candidates, which is what a local or LAN deployment needs,
    and never contacts a third party.
    """
    pc = RTCPeerConnection(RTCConfiguration(iceServers=rtc_ice_servers(config.ice_servers)))
    link = PeerLink(
        pc,
        session,
        config,
        on_closed,
        own_session=own_session,
        overlay=offer.view == "overlay",
        view_only=view_only,
        client_bucket=client_bucket,
    )
    try:
        link.attach_output()
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer.sdp, type=offer.type))
        answer = await pc.createAnswer()
        await pc.setLocalDescription(answer)
        link.install_encoder()
    except Exception as error:
        await link.close()
        raise ProtocolError(f"cannot answer this offer: {error}", "bad_offer") from error
    return link, pc.localDescription
