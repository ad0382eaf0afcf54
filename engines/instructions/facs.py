"""FACS action-unit prototypes of every emotion, mapped to the ICT / ARKit expression shapes.

The AU -> shape table is the one in the ICT-FaceKit README ("Our expression shapes closest
relation to FACS units"), with these additions, none of which has a direct ICT shape:

- AU23 lip tightener -> ``mouthPress_L/R`` at 0.7. AU24 (lip pressor) is the only ICT shape
  that narrows and tenses the lip red; tightening without pressing is not representable, so
  a weaker press is the nearest visible result.
- AU25 lips part -> ``mouthLowerDown_L/R`` 0.3 + ``mouthUpperUp_L/R`` 0.15 + ``jawOpen`` 0.1:
  the lips separate mostly by moving themselves, with a hint of jaw.
- AU26 jaw drop -> ``jawOpen`` at 0.4. ICT's ``jawOpen`` is AU27 (mouth stretch, a wide
  open mouth); a relaxed jaw drop is a partial opening of the same joint.
- AU10 upper lip raiser -> ``mouthShrugUpper`` (README) plus ``mouthUpperUp_L/R`` at 0.4: in
  ARKit, ``mouthUpperUp`` is the lateral upper-lip raise that shows the teeth in disgust; the
  README lists it under AU11, which our prototypes use too.

Basic emotions use the EMFACS prototypes (happiness 6+12, sadness 1+4+15, surprise
1+2+5+26, fear 1+2+4+5+7+20+26, anger 4+5+7+23, disgust 9+15+16, contempt unilateral
R12+R14), with a few of Du et al.'s secondary AUs at low weight (e.g. 25 in happiness).
Compound emotions use the prototypical AUs of Du, Tao & Martinez (2014, PNAS, Table 1) at
full weight and their "variant" AUs at :data:`SECONDARY_WEIGHT`. The AU lists are quoted from
memory of that table: the prototypical sets are the well-known ones (happily surprised
1+2+12+25, sadly angry 4+15, appalled 4+9+10, hatred 4+7+10, awed 1+2+5+25); the secondary
sets are less certain and only contribute at low weight.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from types import MappingProxyType
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from engines.instructions.vocabulary import COMPOUND_PARENTS, EMOTIONS, validate_label

__all__ = [
    "AU_TO_SHAPES",
    "EMOTION_AUS",
    "EMOTION_POSE_DEGREES",
    "SECONDARY_WEIGHT",
    "emotion_pose_prior",
    "emotion_prototype",
    "prototype_matrix",
]

SECONDARY_WEIGHT = 0.35

# AU number (as string; "R12" = right side only) -> {ICT shape: weight at AU intensity 1}.
AU_TO_SHAPES: MappingProxyType[str, dict[str, float]] = MappingProxyType(
    {
        "1": {"browInnerUp_L": 1.0, "browInnerUp_R": 1.0},
        "2": {"browOuterUp_L": 1.0, "browOuterUp_R": 1.0},
        "4": {"browDown_L": 1.0, "browDown_R": 1.0},
        "5": {"eyeWide_L": 1.0, "eyeWide_R": 1.0},
        "6": {"cheekSquint_L": 1.0, "cheekSquint_R": 1.0},
        "7": {"eyeSquint_L": 1.0, "eyeSquint_R": 1.0},
        "9": {"noseSneer_L": 1.0, "noseSneer_R": 1.0},
        "10": {"mouthShrugUpper": 1.0, "mouthUpperUp_L": 0.4, "mouthUpperUp_R": 0.4},
        "11": {"mouthUpperUp_L": 1.0, "mouthUpperUp_R": 1.0},
        "12": {"mouthSmile_L": 1.0, "mouthSmile_R": 1.0},
        "14": {"mouthDimple_L": 1.0, "mouthDimple_R": 1.0},
        "15": {"mouthFrown_L": 1.0, "mouthFrown_R": 1.0},
        "16": {"mouthLowerDown_L": 1.0, "mouthLowerDown_R": 1.0},
        "17": {"mouthShrugLower": 1.0},
        "18": {"mouthPucker": 1.0},
        "20": {"mouthStretch_L": 1.0, "mouthStretch_R": 1.0},
        "22": {"mouthFunnel": 1.0},
        "23": {"mouthPress_L": 0.7, "mouthPress_R": 0.7},
        "24": {"mouthPress_L": 1.0, "mouthPress_R": 1.0},
        "25": {"mouthLowerDown_L": 0.3, "mouthLowerDown_R": 0.3, "mouthUpperUp_L": 0.15,
               "mouthUpperUp_R": 0.15, "jawOpen": 0.1},
        "26": {"jawOpen": 0.4},
        "27": {"jawOpen": 1.0},
        "28": {"mouthRollLower": 1.0, "mouthRollUpper": 1.0},
        "29": {"jawForward": 1.0},
        "33": {"cheekPuff_L": 1.0, "cheekPuff_R": 1.0},
        "45": {"eyeBlink_L": 1.0, "eyeBlink_R": 1.0},
        # unilateral (the subject's right side; :func:`emotion_prototype` can mirror it)
        "R12": {"mouthSmile_R": 1.0},
        "R14": {"mouthDimple_R": 1.0},
    }
)  # fmt: skip


def _aus(primary: str, secondary: str = "", **weights: float) -> dict[str, float]:
    """``"1+2+12"`` -> {AU: weight}; secondary AUs get SECONDARY_WEIGHT; ``w<AU>=x`` overrides."""
    out: dict[str, float] = {}
    for au in filter(None, secondary.split("+")):
        out[au] = SECONDARY_WEIGHT
    for au in filter(None, primary.split("+")):
        out[au] = 1.0
    for key, value in weights.items():
        out[key.removeprefix("w")] = value
    return out


# label -> {AU: intensity at the apex}
EMOTION_AUS: MappingProxyType[str, dict[str, float]] = MappingProxyType(
    {
        "neutral": {},
        "happiness": _aus("6+12", "25", w6=0.8),
        "sadness": _aus("1+4+15", "17", w4=0.6),
        "surprise": _aus("1+2+5+26", "25", w5=0.8),
        "fear": _aus("1+2+4+5+7+20+26", "25", w2=0.7, w4=0.6, w7=0.5, w26=0.8),
        "anger": _aus("4+5+7+23", "17", w5=0.5, w7=0.8),
        "disgust": _aus("9+15+16", "10+4", w15=0.6, w16=0.5),
        "contempt": _aus("R12+R14", "", wR12=0.6),
        "happily_surprised": _aus("1+2+12+25", "5+26"),
        "happily_disgusted": _aus("10+12+25", "4+6+9"),
        "sadly_fearful": _aus("1+4+20+25", "2+5+6+15"),
        "sadly_angry": _aus("4+15", "6+7+11+17"),
        "sadly_surprised": _aus("1+4+25+26", "2+6"),
        "sadly_disgusted": _aus("4+10", "1+6+9+11+15+17+25"),
        "fearfully_angry": _aus("4+20+25", "5+7+10+11"),
        "fearfully_surprised": _aus("1+2+5+20+25", "4+10+11+26"),
        "fearfully_disgusted": _aus("1+4+10+20+25", "2+5+6+9+15+26"),
        "angrily_surprised": _aus("4+25+26", "5+7+10"),
        "angrily_disgusted": _aus("4+10+17", "7+9+24"),
        "disgustedly_surprised": _aus("1+2+5+10", "9+17+24+26"),
        "appalled": _aus("4+9+10", "6+7+24+25"),
        "hatred": _aus("4+7+10", "9+17+24"),
        "awed": _aus("1+2+5+25", "4+20+26"),
    }
)

# Typical head pose at the apex, degrees (pitch, yaw, roll). Positive pitch tilts the head
# down (chin towards the chest), see engines.face_model.camera. Yaw / roll signs of
# lateralised emotions are randomised by the corpus generator.
EMOTION_POSE_DEGREES: MappingProxyType[str, tuple[float, float, float]] = MappingProxyType(
    {
        "neutral": (0.0, 0.0, 0.0),
        "happiness": (-2.0, 0.0, 2.5),
        "sadness": (6.0, 0.0, 1.5),
        "surprise": (-4.0, 0.0, 0.0),
        "fear": (-2.0, 2.0, 0.0),
        "anger": (3.0, 0.0, 0.0),
        "disgust": (-2.0, 4.0, 1.0),
        "contempt": (-4.0, 3.0, 3.0),
    }
)


def _pose_degrees(label: str) -> tuple[float, float, float]:
    if label in EMOTION_POSE_DEGREES:
        return EMOTION_POSE_DEGREES[label]
    parents = COMPOUND_PARENTS[label]
    mean = np.mean([EMOTION_POSE_DEGREES[p] for p in parents], axis=0)
    return (float(mean[0]), float(mean[1]), float(mean[2]))


def emotion_pose_prior(label: str) -> NDArray[np.float32]:
    """(3,) typical head-rotation offset (pitch, yaw, roll) in radians at the apex of ``label``."""
    validate_label(label)
    return np.array([math.radians(a) for a in _pose_degrees(label)], np.float32)


def emotion_prototype(
    label: str,
    model_expression_names: Sequence[str],
    *,
    side: Literal["right", "left"] = "right",
) -> NDArray[np.float32]:
    """(E,) apex expression of ``label`` at intensity 1, in the order of ``model_expression_names``.

    Shapes the model does not have are dropped; overlapping AUs on one shape take the
    maximum (not the sum), so every value stays in [0, 1]. ``side`` mirrors unilateral AUs
    (contempt) to the subject's left or right.
    """
    validate_label(label)
    if side not in ("right", "left"):
        raise ValueError(f"side must be 'right' or 'left', got {side!r}")
    index = {name: i for i, name in enumerate(model_expression_names)}
    out = np.zeros(len(model_expression_names), np.float32)
    for au, au_weight in EMOTION_AUS[label].items():
        for shape, shape_weight in AU_TO_SHAPES[au].items():
            if side == "left" and au.startswith("R"):
                shape = shape.replace("_R", "_L")
            i = index.get(shape)
            if i is not None:
                out[i] = max(out[i], au_weight * shape_weight)
    return np.clip(out, 0.0, 1.0)


def prototype_matrix(
    model_expression_names: Sequence[str], labels: Sequence[str] = EMOTIONS
) -> NDArray[np.float32]:
    """(L, E) apex prototypes of ``labels`` (unilateral AUs on the right side)."""
    return np.stack([emotion_prototype(label, model_expression_names) for label in labels])
