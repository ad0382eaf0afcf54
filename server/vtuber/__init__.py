"""Outputs for VTuber apps: the avatar's face as ARKit blendshape weights and a head pose.

* :mod:`server.vtuber.arkit`: ICT's 53 shapes → ARKit's 52 names (Perfect Sync).
* :mod:`server.vtuber.pose`: the head pose as Unity Neck / Head bone rotations.
* :mod:`server.vtuber.vmc`: the VMC protocol (OSC bundles over UDP, python-osc).
* :mod:`server.vtuber.ifacialmocap`: iFacialMocap's UDP text format.
* :mod:`server.vtuber.output`: all receivers of one stream of face states.

Used by ``facecast serve --vmc`` (the followed session's frames) and ``facecast animate
--vmc`` (a timeline in real time). Transport only: no engine is imported here.
"""

from server.vtuber.arkit import ARKIT_NAMES, NAME_STYLES, TONGUE_OUT, ArkitMapping, arkit_names
from server.vtuber.config import (
    IFACIALMOCAP_PORT,
    SESSION_CHOICES,
    VMC_PORT,
    TrackingConfig,
    tracking_config,
)
from server.vtuber.exceptions import BadTargetError, VtuberConfigError, VtuberError
from server.vtuber.frame import TrackingFrame, tracking_frame
from server.vtuber.ifacialmocap import IFACIALMOCAP_NAMES, IFacialMocapSender, ifacialmocap_text
from server.vtuber.output import TrackingOutput
from server.vtuber.targets import DeliveryLog, Target, parse_target
from server.vtuber.vmc import VmcSender, vmc_bundle

__all__ = [
    "ARKIT_NAMES",
    "IFACIALMOCAP_NAMES",
    "IFACIALMOCAP_PORT",
    "NAME_STYLES",
    "SESSION_CHOICES",
    "TONGUE_OUT",
    "VMC_PORT",
    "ArkitMapping",
    "BadTargetError",
    "DeliveryLog",
    "IFacialMocapSender",
    "Target",
    "TrackingConfig",
    "TrackingFrame",
    "TrackingOutput",
    "VmcSender",
    "VtuberConfigError",
    "VtuberError",
    "arkit_names",
    "ifacialmocap_text",
    "parse_target",
    "tracking_config",
    "tracking_frame",
    "vmc_bundle",
]
