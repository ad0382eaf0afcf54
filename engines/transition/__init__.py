"""Transitions: plans of expression anchors -> per-frame coefficients, plus idle motion."""

from engines.transition.builder import build_timeline, build_timeline_from_anchors
from engines.transition.config import TransitionConfig
from engines.transition.easing import EASINGS, ease
from engines.transition.exceptions import TransitionError
from engines.transition.idle import IdleMotion
from engines.transition.plan import AnchorLike, PlanLike
from engines.transition.timeline import PHASES, FrameState, Segment, Timeline
from engines.transition.timing import ONSET_FACTORS, offset_factor, onset_factor

__all__ = [
    "EASINGS",
    "ONSET_FACTORS",
    "PHASES",
    "AnchorLike",
    "FrameState",
    "IdleMotion",
    "PlanLike",
    "Segment",
    "Timeline",
    "TransitionConfig",
    "TransitionError",
    "build_timeline",
    "build_timeline_from_anchors",
    "ease",
    "offset_factor",
    "onset_factor",
]
