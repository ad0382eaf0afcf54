"""What a planner returns: the anchors an instruction asks for, in order, and the neutral face.

One definition for both planners (the lexicon :class:`engines.instructions.LexiconPlanner` and
the learned ``engines.i2fet.InstructionPlanner``); ``engines.transition`` reads them through
its ``PlanLike`` protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["Anchor", "PlanRecord"]


@dataclass(frozen=True)
class Anchor:
    """One expression apex of a plan.

    Attributes:
        label: emotion label (``engines.instructions.EMOTIONS``).
        intensity: apex intensity in [0, 1] (after ``intensity_scale``).
        expression: (E,) float32 absolute expression coefficients in [0, 1] (ICT: E = 53).
        pose: (3,) float32 head-rotation offset (pitch, yaw, roll) radians.
    """

    label: str
    intensity: float
    expression: NDArray[np.float32]
    pose: NDArray[np.float32]


@dataclass(frozen=True)
class PlanRecord:
    """What an instruction asks for, in order (each planner names its own subclass).

    Attributes:
        text: the instruction.
        anchors: the anchors in the order the text names them.
        neutral_expression: (E,) the subject's neutral face, for transition midpoints.
        neutral_pose: (3,) the subject's neutral head-rotation offset.
        understood: emotion labels in order (the anchors' labels).
        unknown_words: words outside the vocabulary (for user feedback).
        timings_ms: milliseconds per stage, at least "total".
    """

    text: str
    anchors: tuple[Anchor, ...]
    neutral_expression: NDArray[np.float32]
    neutral_pose: NDArray[np.float32]
    understood: tuple[str, ...]
    unknown_words: tuple[str, ...] = ()
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly summary (labels, intensities, timings; not the coefficient arrays)."""
        return {
            "text": self.text,
            "understood": list(self.understood),
            "intensities": [round(a.intensity, 3) for a in self.anchors],
            "unknown_words": list(self.unknown_words),
            "timings_ms": {k: round(v, 3) for k, v in self.timings_ms.items()},
        }
