"""An anchor's strength and side after I2FET has generated it.

Two things the corpus' design hides from I2FET's mean anchor, given back by the planner:

* the strength of the word itself: grounding masks the emotion phrase, so "annoyed", "angry"
  and "furious" all read "something || anger" and come out at the mean strength of their
  label's words in the corpus (:func:`rescaled_anchor`);
* the side of a one-sided emotion: contempt's side is drawn at random, so the mean anchor
  is both sides at half strength (:func:`one_sided_anchor`).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from engines.face_model import EXPRESSION_NAMES
from engines.instructions.facs import apex_scale, emotion_prototype

__all__ = ["lexical_rescale", "one_sided_anchor", "rescaled_anchor"]

# Bounds of the lexical rescale (a guard against a near-zero intensity head; the lexicon's
# intensities span 0.2-1.0 around the heads' 0.7-0.85).
_RESCALE_LIMITS = (0.2, 2.5)
# A generated shape at or above this is taken as clipped at 1 (the corpus clips every weight;
# I2FET's mean of clipped E shapes comes out at 0.93-0.97).
_SATURATED = 0.9
# Prototype shapes below this are not part of the emotion's action units.
_ACTIVE = 0.05


@lru_cache(maxsize=64)
def _prototypes(
    label: str, names: tuple[str, ...]
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """(right, left) posed prototypes of ``label``, each (E,) read-only (planned per anchor:
    built once per label)."""
    sides = tuple(emotion_prototype(label, names, side=side) for side in ("right", "left"))
    for side in sides:
        side.flags.writeable = False
    return sides[0], sides[1]


def lexical_rescale(lexical: float, generated: float) -> float:
    """Factor on an anchor's departure from the neutral face that gives a grounded phrase its
    own strength back: ``apex_scale(lexical) / apex_scale(generated)`` (bounded).

    Grounding masks the phrase, so I2FET generates the average strength of its label's words
    in the corpus ("look sad" came out at intensity 0.85, the mean of the sadness words, and
    "annoyed" as strong as "furious"). The corpus draws an anchor as the posed apex times
    :func:`engines.instructions.facs.apex_scale` of its intensity; ``generated`` is the
    intensity I2FET's head reports, ``lexical`` the one the vocabulary reads for the phrase.
    """
    if generated <= 0.0:
        return 1.0
    ratio = apex_scale(lexical) / apex_scale(generated)
    return float(np.clip(ratio, *_RESCALE_LIMITS))


def rescaled_anchor(
    apex: NDArray[np.float32],
    neutral: NDArray[np.float32],
    label: str,
    lexical: float,
    generated: float,
    names: Sequence[str] = EXPRESSION_NAMES,
) -> NDArray[np.float32]:
    """(E,) the anchor ``apex`` (E,) I2FET generated at intensity ``generated``, at the
    phrase's own intensity ``lexical`` instead (:func:`lexical_rescale`), from ``neutral``.

    Each shape's departure from the neutral face is scaled by the factor, except that a
    shape the corpus clipped at 1 does not show how far beyond 1 it was: its per-shape
    strength against the emotion's prototype (``departure / (prototype × apex_scale)``) is
    taken as at least the median of the unclipped prototype shapes' (a sad anchor generated
    at 0.85 keeps its inner brows at E when brought back to the plain word's 0.75).
    """
    factor = lexical_rescale(lexical, generated)
    departure = apex - neutral
    out = neutral + factor * departure
    sides = _prototypes(label, tuple(names))
    prototype = max(sides, key=lambda p: float(p @ departure))  # one-sided: contempt
    active = prototype > _ACTIVE
    saturated = active & (apex >= _SATURATED)
    free = active & ~saturated
    if saturated.any() and free.any():
        at_generated = prototype * apex_scale(generated)
        strength = departure[active] / at_generated[active]
        typical = float(np.median(departure[free] / at_generated[free]))
        strength = np.maximum(strength, np.where(saturated[active], typical, 0.0))
        out[active] = neutral[active] + factor * at_generated[active] * strength
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def one_sided_anchor(
    apex: NDArray[np.float32],
    neutral: NDArray[np.float32],
    label: str,
    names: Sequence[str] = EXPRESSION_NAMES,
) -> NDArray[np.float32]:
    """(E,) ``apex`` (E,) with a unilateral emotion's shapes on one side only.

    Contempt is one-sided (R12 + R14, ``engines.instructions.facs``) and the corpus draws
    its side at random, so I2FET's mean anchor is both sides at half strength: a faint
    symmetric smile. Each one-sided shape of the prototype takes its mirror's departure from
    ``neutral`` on the side I2FET made stronger; the other side goes back to neutral. A
    label without one-sided shapes is returned as it is.
    """
    right, left = _prototypes(label, tuple(names))
    only_right = np.flatnonzero((right > _ACTIVE) & (left <= _ACTIVE))
    if only_right.size == 0:
        return apex
    index = {name: i for i, name in enumerate(names)}
    mirror = np.array([index[names[int(i)].replace("_R", "_L")] for i in only_right])
    departure = apex - neutral
    strong, weak = only_right, mirror
    if departure[mirror].sum() > departure[only_right].sum():
        strong, weak = mirror, only_right
    out = apex.copy()
    out[strong] = neutral[strong] + departure[strong] + np.maximum(departure[weak], 0.0)
    out[weak] = neutral[weak]
    return np.clip(out, 0.0, 1.0).astype(np.float32)
