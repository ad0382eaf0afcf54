"""Per-emotion timing: how fast each emotion appears (onset) and fades (offset).

Dynamic-expression studies commonly report that surprise unfolds fastest and sadness slowest,
with fear and anger quicker than happiness and disgust. The factors below multiply
``TransitionConfig.onset_s``; offsets use the square root of the factor (a milder effect).
They are a design choice of this project, not measured values; compound emotions take the
geometric mean of their two basic emotions. ``TransitionConfig.emotion_timing=False`` turns
them off.
"""

from __future__ import annotations

import math
from types import MappingProxyType

from engines.instructions.vocabulary import COMPOUND_PARENTS

__all__ = ["ONSET_FACTORS", "offset_factor", "onset_factor"]

ONSET_FACTORS: MappingProxyType[str, float] = MappingProxyType(
    {
        "neutral": 1.0,
        "surprise": 0.55,
        "fear": 0.75,
        "anger": 0.85,
        "happiness": 1.0,
        "disgust": 1.0,
        "contempt": 1.1,
        "sadness": 1.5,
    }
)


def onset_factor(label: str) -> float:
    """Factor on the onset duration of ``label`` (1.0 for unknown labels)."""
    if label in ONSET_FACTORS:
        return ONSET_FACTORS[label]
    parents = COMPOUND_PARENTS.get(label)
    if not parents:
        return 1.0
    return math.exp(sum(math.log(ONSET_FACTORS[p]) for p in parents) / len(parents))


def offset_factor(label: str) -> float:
    """Factor on the offset (fading) duration of ``label``."""
    return math.sqrt(onset_factor(label))
