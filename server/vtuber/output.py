"""The VTuber outputs together: one face state in, VMC bundles and iFacialMocap texts out.

:class:`TrackingOutput` converts each state once (:func:`server.vtuber.frame.tracking_frame`)
and hands it to every sender. Sending is a non-blocking ``sendto`` per receiver (about 3 KB
for a VMC bundle), cheap enough to run on the caller's thread each frame. Nothing here is
mirrored: receivers get the face as it is (the web page's mirror is a view setting only).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from server.vtuber.arkit import ArkitMapping, arkit_names
from server.vtuber.config import TrackingConfig
from server.vtuber.frame import TrackingFrame, tracking_frame
from server.vtuber.ifacialmocap import IFacialMocapSender
from server.vtuber.targets import DeliveryLog
from server.vtuber.vmc import VmcSender

__all__ = ["TrackingOutput"]

logger = logging.getLogger(__name__)


class _Sender(Protocol):
    what: str

    @property
    def logs(self) -> list[DeliveryLog]: ...

    def send(self, frame: TrackingFrame) -> None: ...

    def close(self) -> None: ...


class TrackingOutput:
    """Every configured receiver of one stream of face states.

    Args:
        config: the receivers and conventions.
        expression_names: the face model's (E,) expression names (ICT order).
    """

    def __init__(self, config: TrackingConfig, expression_names: Sequence[str]) -> None:
        self.config = config
        self.mapping = ArkitMapping(expression_names)
        self._senders: list[_Sender] = []
        if config.vmc:
            self._senders.append(VmcSender(config.vmc, arkit_names(config.names)))
        if config.ifacialmocap:
            self._senders.append(IFacialMocapSender(config.ifacialmocap))
        self._started = time.monotonic()
        self.frames_sent = 0
        self.last_frame: TrackingFrame | None = None
        for target in config.vmc:
            logger.info("VMC to %s (%s names)", target.label, config.names)
        for target in config.ifacialmocap:
            logger.info("iFacialMocap to %s", target.label)

    @property
    def logs(self) -> list[DeliveryLog]:
        return [log for sender in self._senders for log in sender.logs]

    def send(
        self,
        expression: NDArray[np.floating],
        pose: NDArray[np.floating],
        now: float | None = None,
    ) -> TrackingFrame:
        """Send one face: (E,) absolute expression coefficients and the (3,) pose offset
        ``(pitch, yaw, roll)`` radians; ``now`` is ``time.monotonic()`` of the frame."""
        moment = (time.monotonic() if now is None else now) - self._started
        frame = tracking_frame(
            self.mapping, expression, pose, max(moment, 0.0), self.config.neck_share
        )
        for sender in self._senders:
            sender.send(frame)
        self.frames_sent += 1
        self.last_frame = frame
        return frame

    def close(self) -> None:
        for sender in self._senders:
            sender.close()
        self._senders.clear()
