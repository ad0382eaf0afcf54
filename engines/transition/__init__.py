"""Transitions: plans of expression anchors -> per-frame coefficients, plus idle motion."""

from engines.transition.builder import build_timeline, build_timeline_from_anchors
from engines.transition.config import DYNAMICS, TransitionConfig
from engines.transition.easing import EASINGS, ease
from engines.transition.exceptions import TransitionError
from engines.transition.idle import IdleMotion
from engines.transition.learned import apply_learned_dynamics
from engines.transition.plan import AnchorLike, LearnedCurveLike, PlanLike, WindowDynamics
from engines.transition.timeline import PHASES, FrameState, Segment, Timeline
from engines.transition.timing import ONSET_FACTORS, offset_factor, onset_factor

__all__ = [
    "DYNAMICS",
    "EASINGS",
    "ONSET_FACTORS",
    "PHASES",
    "AnchorLike",
    "FrameState",
    "IdleMotion",
    "LearnedCurveLike",
    "PlanLike",
    "Segment",
    "Timeline",
    "TransitionConfig",
    "TransitionError",
    "WindowDynamics",
    "apply_learned_dynamics",
    "build_timeline",
    "build_timeline_from_anchors",
    "ease",
    "offset_factor",
    "onset_factor",
]
