"""iFacialMocap's UDP text format, so that apps which take an iPhone tracker take Facecast.

One datagram per frame (UTF-8 text)::

    eyeBlink_L-12|eyeBlink_R-10|...|tongueOut-0|=head#RX,RY,RZ,PX,PY,PZ|rightEye#X,Y,Z|leftEye#X,Y,Z|

Blendshape names are ARKit's with ``_L`` / ``_R`` for ``Left`` / ``Right`` (``browInnerUp``,
``cheekPuff``, ``jawOpen``, ... as they are), values integers 0-100; angles in degrees. The
head rotation is Facecast's pose offset ``(pitch, yaw, roll)`` in ARKit's face frame, which is
the face model's (+x the face's left, +y up, +z out of the face: pitch > 0 looks down, yaw > 0
turns towards the face's left); the head position is 0 (Facecast has no head translation);
the eye angles are estimated from the eyeLook weights. iFacialMocap does not publish its Euler
convention: a receiver that turns the head the wrong way is reading another one.

Facecast pushes the datagrams to the receiver's port (49983 by default) from the first frame
on; it does not wait for the app's start handshake (the app listens on that port once it
is set to iFacialMocap; give it this machine's address as the "iPhone" address).
"""

from __future__ import annotations

import socket
from collections.abc import Sequence

from server.vtuber.arkit import ARKIT_NAMES
from server.vtuber.frame import TrackingFrame
from server.vtuber.targets import DeliveryLog, Target

__all__ = ["IFACIALMOCAP_NAMES", "IFacialMocapSender", "ifacialmocap_text"]


def _short(name: str) -> str:
    if name in ("jawLeft", "jawRight", "mouthLeft", "mouthRight"):  # directions, not sides
        return name
    for suffix, short in (("Left", "_L"), ("Right", "_R")):
        if name.endswith(suffix):
            return name.removesuffix(suffix) + short
    return name


IFACIALMOCAP_NAMES: tuple[str, ...] = tuple(_short(name) for name in ARKIT_NAMES)
"""The 52 names in iFacialMocap's spelling (``eyeBlink_L``), :data:`ARKIT_NAMES` order."""


def _angles(values: Sequence[float]) -> str:
    return ",".join(f"{value:.4f}" for value in values)


def ifacialmocap_text(frame: TrackingFrame) -> str:
    """The datagram text of one frame."""
    shapes = "|".join(
        f"{name}-{round(100.0 * value)}"
        for name, value in zip(IFACIALMOCAP_NAMES, frame.weights.tolist(), strict=True)
    )
    head = _angles((*frame.head_degrees(), 0.0, 0.0, 0.0))
    right = _angles(frame.eye_angles("Right"))
    left = _angles(frame.eye_angles("Left"))
    return f"{shapes}|=head#{head}|rightEye#{right}|leftEye#{left}|"


class IFacialMocapSender:
    """Sends each frame's text to every receiver (one unconnected, non-blocking UDP socket
    per address family)."""

    what = "iFacialMocap"

    def __init__(self, targets: Sequence[Target]) -> None:
        self._sockets: dict[int, socket.socket] = {}
        self._links: list[tuple[Target, DeliveryLog]] = []
        for target in targets:
            if target.family not in self._sockets:
                sock = socket.socket(target.family, socket.SOCK_DGRAM)
                sock.setblocking(False)
                self._sockets[target.family] = sock
            self._links.append((target, DeliveryLog(self.what, target)))

    @property
    def logs(self) -> list[DeliveryLog]:
        return [log for _, log in self._links]

    def send(self, frame: TrackingFrame) -> None:
        data = ifacialmocap_text(frame).encode("utf-8")
        for target, log in self._links:
            try:
                self._sockets[target.family].sendto(data, (target.address, target.port))
            except OSError as error:
                log.failed_with(error)
            else:
                log.delivered()

    def close(self) -> None:
        for sock in self._sockets.values():
            sock.close()
