"""FACS action-unit prototypes of every emotion at its posed apex, mapped to the ICT / ARKit
expression shapes.

Where each weight comes from
----------------------------
An emotion is a set of action units (AUs), each at a FACS intensity letter (Ekman, Friesen &
Hager 2002, FACS Manual ch. 2: A trace, B slight, C marked or pronounced, D severe or
extreme, E maximum). :data:`FACS_INTENSITY` maps a letter to a shape weight on an even
scale whose top, E, is the ICT shape at weight 1 (ICT / ARKit shapes are sculpted from an
actor's maximal performance of the action). An emotion's prototype is its **posed apex**:
the expression an actor holds when asked to show it, with the primary AUs at D-E (FACS
Investigator's Guide, ch. 12; the posed-expression sets of Du, Tao & Martinez 2014 are coded
at the same strengths), secondary AUs at B-C.

A plain emotion word ("surprised", "show anger") has the lexicon's default intensity
:data:`POSED_INTENSITY` (0.75) and gets exactly the posed apex; an intensity word scales the
apex by :func:`apex_scale` (:func:`apex_expression`): "slightly" gives 44 % of it, "a bit"
55 %, "very" 122 %, "extremely" 154 % (the D shapes reach E; each weight is clipped to [0, 1]).

The AU -> shape table is the one in the ICT-FaceKit README ("Our expression shapes closest
relation to FACS units"), with these additions, none of which has a direct ICT shape:

- AU23 lip tightener -> ``mouthPress_L/R`` at 0.7. AU24 (lip pressor) is the only ICT shape
  that narrows and tenses the lip red; tightening without pressing is not representable, so
  a weaker press is the nearest visible result.
- AU25 lips part -> ``mouthLowerDown_L/R`` 0.4 + ``mouthUpperUp_L/R`` 0.2 + ``jawOpen`` 0.1:
  the lips separate mostly by moving themselves, the lower lip more than the upper (a
  raised upper lip is AU10's job: at 0.3 it read as a snarl in surprise), with a hint of jaw.
- AU26 jaw drop -> ``jawOpen`` at 0.6. ICT's ``jawOpen`` is AU27 (mouth stretch: the jaw
  pulled open as far as it goes); AU26 at E is the relaxed jaw fallen open, which FACS
  scores as an opening short of AU27 (the Manual draws the line where the stretching of the
  lips' corners starts), so its top is a partial opening of the same joint.
- AU10 upper lip raiser -> ``mouthShrugUpper`` (README) plus ``mouthUpperUp_L/R`` at 0.5: in
  ARKit, ``mouthUpperUp`` is the lateral upper-lip raise that shows the teeth in disgust; the
  README lists it under AU11, which our prototypes use too.
- AU43 eyes closure (lids drooping) -> ``eyeBlink_L/R``; AU64 eyes down -> ``eyeLookDown_L/R``.

Basic emotions (the posed apex of the EMFACS prototypes, FACS Investigator's Guide table
12-1, with the major variant named):

- happiness 6D + 12E + 25D + 26A: the Duchenne smile with the lips parted over the upper
  teeth (the posed "big smile"; Du et al.'s happy is 12+25 with 6).
- sadness 1E + 4C + 15D + 17C + 43A: inner brows up and drawn together, lip corners down,
  chin raised, lids drooping a little (EMFACS 1+4+15 / 1+4+15+17; its variant 54+64, head and
  eyes down, is left to the head pose prior: with the lids following the gaze the eyes looked
  shut).
- surprise 1E + 2E + 5D + 26E: brows high, upper lids raised, jaw dropped open (EMFACS
  1+2+5B+26/27: the lips part with the jaw, no AU25 of their own, so the upper lip stays over
  the teeth and the mouth is a dark O).
- fear 1E + 2C + 4C + 5E + 7B + 20D + 25D + 26C: brows raised and drawn together, upper lids
  high, lips stretched sideways, jaw dropped (EMFACS 1+2+4+5+7+20+26).
- anger 4E + 5C + 7D + 10C + 16B + 23C + 25D + 26B: brows lowered and drawn together, a glare
  (upper lid raised against the tightened lower lid), the tense squared mouth with the teeth
  bared (the open-mouth EMFACS prototype 4+5+7+10+22+23+25/26, the intense posed display; the
  closed-mouth 4+5+7+17+23/24 is the milder one, and on a photo without fold cues it read as
  stern or sad to a person).
- disgust 4C + 6B + 9E + 10D + 15B + 17C: nose wrinkled, upper lip raised, corners down,
  chin raised, brows lowered (EMFACS 9 / 10 prototypes with 15 and 17; Du et al. 9+10+17).
- contempt R12C + R14D: the one-sided tightened lip corner (EMFACS R12A + R14A; posed at C-D).

Compound emotions use the prototypical AUs of Du, Tao & Martinez (2014, PNAS, Table 1) at E
(their photos are posed too, and a compound is told from its parents by its prototypical set
at full strength: at D, "hatred" 4+7+10 and "angrily disgusted" 4+10+17 came too close to
the posed disgust 4+9+10+17 — validation acc2 0.997 -> 0.991) and their "variant" AUs at B
(:data:`SECONDARY_WEIGHT`). The AU lists are quoted from
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

from engines.instructions.vocabulary import (
    COMPOUND_PARENTS,
    EMOTIONS,
    PLAIN_INTENSITY,
    validate_label,
)

__all__ = [
    "APEX_EXPONENT",
    "AU_TO_SHAPES",
    "EMOTION_AUS",
    "EMOTION_POSE_DEGREES",
    "FACS_INTENSITY",
    "POSED_INTENSITY",
    "SECONDARY_WEIGHT",
    "apex_expression",
    "apex_scale",
    "emotion_pose_prior",
    "emotion_prototype",
    "prototype_matrix",
]

# FACS intensity letter -> shape weight: the five levels on an even scale topped by E = 1
# (the ICT shape at full weight is the actor's maximal performance of the action).
FACS_INTENSITY: MappingProxyType[str, float] = MappingProxyType(
    {"A": 0.2, "B": 0.4, "C": 0.6, "D": 0.8, "E": 1.0}
)
# The lexicon's default intensity of a plain emotion word: it gets the posed apex exactly.
POSED_INTENSITY = PLAIN_INTENSITY
# The lexicon blends an intensity word with the emotion word's own intensity (0.7 / 0.3),
# which squeezes "slightly" (0.3) to 0.435; the exponent spreads it back so that "slightly"
# is about B against the posed apex's D-E (0.44 of it) and "a bit" about C (0.55).
APEX_EXPONENT = 1.5
# Du et al.'s "variant" AUs of a compound emotion: B.
SECONDARY_WEIGHT = FACS_INTENSITY["B"]

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
        "10": {"mouthShrugUpper": 1.0, "mouthUpperUp_L": 0.5, "mouthUpperUp_R": 0.5},
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
        "25": {"mouthLowerDown_L": 0.4, "mouthLowerDown_R": 0.4, "mouthUpperUp_L": 0.2,
               "mouthUpperUp_R": 0.2, "jawOpen": 0.1},
        "26": {"jawOpen": 0.6},
        "27": {"jawOpen": 1.0},
        "28": {"mouthRollLower": 1.0, "mouthRollUpper": 1.0},
        "29": {"jawForward": 1.0},
        "33": {"cheekPuff_L": 1.0, "cheekPuff_R": 1.0},
        "43": {"eyeBlink_L": 1.0, "eyeBlink_R": 1.0},
        "45": {"eyeBlink_L": 1.0, "eyeBlink_R": 1.0},
        "64": {"eyeLookDown_L": 1.0, "eyeLookDown_R": 1.0},
        # unilateral (the subject's right side; :func:`emotion_prototype` can mirror it)
        "R12": {"mouthSmile_R": 1.0},
        "R14": {"mouthDimple_R": 1.0},
    }
)  # fmt: skip


def _aus(primary: str, secondary: str = "", **weights: float) -> dict[str, float]:
    """``"1+2+12"`` -> {AU: weight}; primary AUs at E, secondary at B; ``w<AU>=x`` overrides."""
    out: dict[str, float] = {}
    for au in filter(None, secondary.split("+")):
        out[au] = SECONDARY_WEIGHT
    for au in filter(None, primary.split("+")):
        out[au] = FACS_INTENSITY["E"]
    for key, value in weights.items():
        out[key.removeprefix("w")] = value
    return out


def _coded(code: str) -> dict[str, float]:
    """FACS notation with intensity letters, ``"1E+4C+R12C"`` -> {AU: shape weight}."""
    out: dict[str, float] = {}
    for item in filter(None, code.split("+")):
        au, letter = item[:-1], item[-1]
        if letter not in FACS_INTENSITY or not au:
            raise ValueError(f"bad FACS code {item!r} in {code!r}: want AU + letter A-E")
        out[au] = FACS_INTENSITY[letter]
    return out


# label -> {AU: shape weight at the posed apex} (see the module docstring for the sources)
EMOTION_AUS: MappingProxyType[str, dict[str, float]] = MappingProxyType(
    {
        "neutral": {},
        "happiness": _coded("6D+12E+25D+26A"),
        "sadness": _coded("1E+4C+15D+17C+43A"),
        "surprise": _coded("1E+2E+5D+26E"),
        "fear": _coded("1E+2C+4C+5E+7B+20D+25D+26C"),
        "anger": _coded("4E+5C+7D+10C+16B+23C+25D+26B"),
        "disgust": _coded("4C+6B+9E+10D+15B+17C"),
        "contempt": _coded("R12C+R14D"),
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
    """(E,) posed apex of ``label`` (a plain emotion word), in the order of
    ``model_expression_names``.

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


def apex_scale(intensity: float | NDArray[np.floating]) -> NDArray[np.float32]:
    """Factor on the posed apex for an anchor ``intensity`` in [0, 1]:
    ``(intensity / POSED_INTENSITY) ** APEX_EXPONENT`` — 1 at the plain word, 0.44 for
    "slightly" (0.435 after the lexicon's blend of word and base intensity: FACS B against
    the posed D-E), 1.54 for "extremely" (1.0; the D shapes reach E)."""
    ratio = np.clip(intensity, 0.0, 1.0) / POSED_INTENSITY
    return np.asarray(ratio**APEX_EXPONENT, np.float32)


def apex_expression(
    label: str,
    intensity: float,
    model_expression_names: Sequence[str],
    *,
    side: Literal["right", "left"] = "right",
) -> NDArray[np.float32]:
    """(E,) apex of ``label`` at an anchor ``intensity`` in [0, 1]: the posed apex scaled by
    :func:`apex_scale`, each weight clipped to [0, 1]."""
    proto = emotion_prototype(label, model_expression_names, side=side)
    return np.clip(proto * apex_scale(intensity), 0.0, 1.0).astype(np.float32)


def prototype_matrix(
    model_expression_names: Sequence[str], labels: Sequence[str] = EMOTIONS
) -> NDArray[np.float32]:
    """(L, E) apex prototypes of ``labels`` (unilateral AUs on the right side)."""
    return np.stack([emotion_prototype(label, model_expression_names) for label in labels])
