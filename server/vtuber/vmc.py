"""The VMC protocol (OSC over UDP) as a Performer sending to a Marionette: VSeeFace, VNyan,
Warudo, VMagicMirror, 3tene, EVMC4U.

Each frame is one OSC bundle (built with python-osc; timetag "immediately"):

* ``/VMC/Ext/Blend/Val (s)name (f)value`` for each of the 52 ARKit shapes (values in [0, 1]),
* ``/VMC/Ext/Blend/Apply``,
* ``/VMC/Ext/Bone/Pos (s)name (f)px py pz (f)qx qy qz qw`` for ``Neck`` and ``Head``: local
  position (metres) and local rotation (Unity's left-handed frame; see
  :mod:`server.vtuber.pose`),
* ``/VMC/Ext/OK (i)1 (i)3 (i)0 (i)1``: model loaded, calibrated, normal mode, tracking
  (the V2.7 form; receivers reading only the first value see "loaded"),
* ``/VMC/Ext/T (f)seconds`` since the sender started.

Facecast does not know the receiver's skeleton, so the bones' positions are those of a
typical adult VRM humanoid (:data:`NECK_POSITION`, :data:`HEAD_POSITION`); receivers apply
only the rotations of these bones unless told to copy positions too (EVMC4U's
``BonePositionSynchronize``), which should then be off for this sender.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence

from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import ArgValue, OscMessageBuilder
from pythonosc.udp_client import UDPClient

from server.vtuber.frame import TrackingFrame
from server.vtuber.targets import DeliveryLog, Target

__all__ = [
    "ADDRESSES",
    "HEAD_POSITION",
    "NECK_POSITION",
    "VmcSender",
    "vmc_bundle",
]

ADDRESSES = {
    "value": "/VMC/Ext/Blend/Val",
    "apply": "/VMC/Ext/Blend/Apply",
    "bone": "/VMC/Ext/Bone/Pos",
    "ok": "/VMC/Ext/OK",
    "time": "/VMC/Ext/T",
}
NECK_POSITION = (0.0, 0.10, 0.0)
"""Neck bone's local position (m) relative to its parent (upper chest)."""
HEAD_POSITION = (0.0, 0.08, 0.0)
"""Head bone's local position (m) relative to the Neck."""

_FLOAT = OscMessageBuilder.ARG_TYPE_FLOAT
_INT = OscMessageBuilder.ARG_TYPE_INT
_STRING = OscMessageBuilder.ARG_TYPE_STRING


def _message(address: str, *args: tuple[ArgValue, str]) -> OscMessage:
    builder = OscMessageBuilder(address=address)
    for value, kind in args:
        builder.add_arg(value, kind)
    return builder.build()


def _bone(name: str, position: Sequence[float], rotation: Sequence[float]) -> OscMessage:
    values = [(float(v), _FLOAT) for v in (*position, *rotation)]
    return _message(ADDRESSES["bone"], (name, _STRING), *values)


def vmc_bundle(frame: TrackingFrame, names: Sequence[str]) -> OscBundle:
    """The OSC bundle of one frame; ``names`` are the 52 shape names to send (the order of
    ``frame.weights``: ``arkit_names(style)``)."""
    builder = OscBundleBuilder(IMMEDIATELY)
    for name, value in zip(names, frame.weights.tolist(), strict=True):
        builder.add_content(_message(ADDRESSES["value"], (name, _STRING), (value, _FLOAT)))
    builder.add_content(_message(ADDRESSES["apply"]))
    builder.add_content(_bone("Neck", NECK_POSITION, frame.neck.tolist()))
    builder.add_content(_bone("Head", HEAD_POSITION, frame.head_local.tolist()))
    status: tuple[tuple[ArgValue, str], ...] = ((1, _INT), (3, _INT), (0, _INT), (1, _INT))
    builder.add_content(_message(ADDRESSES["ok"], *status))
    builder.add_content(_message(ADDRESSES["time"], (frame.time, _FLOAT)))
    return builder.build()


class VmcSender:
    """Sends each frame's bundle to every VMC receiver (python-osc's UDP client, one per
    receiver, unconnected and non-blocking: a receiver that is gone costs nothing).

    Args:
        targets: the receivers.
        names: the 52 shape names to send.
    """

    what = "VMC"

    def __init__(self, targets: Sequence[Target], names: Sequence[str]) -> None:
        self.names = tuple(names)
        self._links = [
            (
                UDPClient(target.address, target.port, family=socket.AddressFamily(target.family)),
                DeliveryLog(self.what, target),
            )
            for target in targets
        ]
        self.bundles = 0

    @property
    def logs(self) -> list[DeliveryLog]:
        return [log for _, log in self._links]

    def send(self, frame: TrackingFrame) -> None:
        bundle = vmc_bundle(frame, self.names)
        self.bundles += 1
        for client, log in self._links:
            try:
                client.send(bundle)
            except OSError as error:
                log.failed_with(error)
            else:
                log.delivered()

    def close(self) -> None:
        for client, _ in self._links:
            client.close()
