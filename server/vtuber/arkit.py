"""ICT's 53 expression shapes as Apple ARKit's 52 blendshape weights ("Perfect Sync").

ICT-FaceKit's expression shapes carry ARKit's names with ``_L`` / ``_R`` for ``Left`` /
``Right`` (the face's own left and right, as in ARKit: ICT's ``eyeBlink_L`` moves vertices on
the subject's left, +x in model space). The counts differ by one in each direction:

* two ARKit shapes are one shape per side in ICT: ``browInnerUp`` is the mean of
  ``browInnerUp_L`` and ``browInnerUp_R``, ``cheekPuff`` the mean of ``cheekPuff_L`` and
  ``cheekPuff_R`` (each ICT half at weight w moves its half of the face as the whole ARKit
  shape at w does, so the mean is the whole shape's weight);
* ``tongueOut`` has no ICT counterpart (the ICT model has no tongue shape): it is always 0.

Every one of the other 49 ICT shapes is one ARKit shape of the same name. So no ICT shape is
left without an ARKit counterpart; ARKit's ``tongueOut`` is the one without an ICT one.

Weights are clipped to [0, 1] (the planner's intensity scale may push an apex past 1).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from server.vtuber.exceptions import VtuberConfigError

__all__ = [
    "ARKIT_NAMES",
    "NAME_STYLES",
    "TONGUE_OUT",
    "ArkitMapping",
    "arkit_names",
]

# Apple's 52 ARFaceAnchor.BlendShapeLocation names, in the order of Apple's documentation
# groups (eyes, jaw, mouth, brows, cheeks, nose, tongue).
ARKIT_NAMES: tuple[str, ...] = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft",
    "eyeSquintLeft", "eyeWideLeft", "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight",
    "eyeLookOutRight", "eyeLookUpRight", "eyeSquintRight", "eyeWideRight",
    "jawForward", "jawLeft", "jawRight", "jawOpen",
    "mouthClose", "mouthFunnel", "mouthPucker", "mouthLeft", "mouthRight", "mouthSmileLeft",
    "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight", "mouthDimpleLeft",
    "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight", "mouthRollLower",
    "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthPressLeft", "mouthPressRight",
    "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft", "mouthUpperUpRight",
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight",
    "noseSneerLeft", "noseSneerRight",
    "tongueOut",
)  # fmt: skip

TONGUE_OUT = "tongueOut"
"""The ARKit shape with no ICT counterpart (always sent as 0)."""

NAME_STYLES: tuple[str, ...] = ("arkit", "pascal")
"""``arkit``: Apple's camelCase (``eyeBlinkLeft``), what Perfect Sync models and most VMC
receivers expect; ``pascal``: Unity-style PascalCase (``EyeBlinkLeft``) for receivers whose
blend shape clips are named that way (UniVRM matches clip names case-sensitively)."""


def arkit_names(style: str = "arkit") -> tuple[str, ...]:
    """The 52 names in ``style`` (see :data:`NAME_STYLES`), in :data:`ARKIT_NAMES` order.

    Raises:
        VtuberConfigError: unknown style.
    """
    if style == "arkit":
        return ARKIT_NAMES
    if style == "pascal":
        return tuple(name[0].upper() + name[1:] for name in ARKIT_NAMES)
    raise VtuberConfigError(f"unknown name style {style!r}; valid: {', '.join(NAME_STYLES)}")


def _ict_name(arkit_name: str) -> str:
    """ICT's spelling of a per-side ARKit name: ``eyeBlinkLeft`` -> ``eyeBlink_L``."""
    for suffix, short in (("Left", "_L"), ("Right", "_R")):
        if arkit_name.endswith(suffix):
            return arkit_name.removesuffix(suffix) + short
    return arkit_name


class ArkitMapping:
    """The fixed linear map from ICT expression coefficients to ARKit weights.

    Args:
        ict_names: the face model's expression names (ICT order, 53 of them).

    Raises:
        VtuberConfigError: an ARKit shape (other than ``tongueOut``) finds no ICT shape.
    """

    def __init__(self, ict_names: Sequence[str]) -> None:
        names = list(ict_names)
        self.ict_names = tuple(names)
        matrix = np.zeros((len(ARKIT_NAMES), len(names)), np.float32)
        used: set[int] = set()
        for row, arkit_name in enumerate(ARKIT_NAMES):
            if arkit_name == TONGUE_OUT:
                continue
            ict = _ict_name(arkit_name)
            if arkit_name in names:  # jawLeft, mouthRight: directions, not sides
                sources = [names.index(arkit_name)]
            elif ict in names:
                sources = [names.index(ict)]
            elif f"{ict}_L" in names and f"{ict}_R" in names:  # one ARKit shape, two ICT halves
                sources = [names.index(f"{ict}_L"), names.index(f"{ict}_R")]
            else:
                raise VtuberConfigError(f"no ICT expression shape for ARKit's {arkit_name}")
            for column in sources:
                matrix[row, column] = 1.0 / len(sources)
                used.add(column)
        self.matrix = matrix
        """(52, E) float32: ``weights = clip(matrix @ expression, 0, 1)``."""
        self.unmapped_ict = tuple(names[i] for i in range(len(names)) if i not in used)
        """ICT shapes no ARKit weight takes (none for the ICT model)."""

    def weights(self, expression: NDArray[np.floating]) -> NDArray[np.float32]:
        """(52,) float32 ARKit weights in [0, 1] of one (E,) expression vector."""
        values = self.matrix @ np.asarray(expression, np.float32).reshape(-1)
        return np.clip(np.nan_to_num(values, nan=0.0), 0.0, 1.0).astype(np.float32)
