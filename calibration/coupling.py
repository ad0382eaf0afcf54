"""The cheek raise a smile implies: moved from the person's identity into the expression.

A smiling photo and a person with high, full cheeks give mediapipe nearly the same
landmarks. The landmark fit's L1 prior then decides "no cheek raise" for every smile (the
cheek raiser, FACS AU6 / ICT ``cheekSquint``, costs twice a plain shape because landmarks
barely see it): on the 17 development photos it fitted ``cheekSquint`` ≤ 0.06 on every
broad smile (``mouthSmile`` 0.7-1.0), and with its cost lowered from 2 to 0.1 it gave
0.1-0.3 to neutral and smiling faces alike, so the landmarks do not separate the two. The
raised cheeks of a broad smile then belong to the person, and the face made neutral or sad
keeps its smiling cheeks and eyes (issue 11: "neutral from a photo that smiles must remove
those cues").

So after the fit, each smile carries the cheek raise of the happiness prototype the
generator uses (``engines.instructions.facs``: happiness is 6D + 12E, AU6 = 0.8 × AU12) on
top of what the fit found, and the identity is re-solved for that expression at the fitted
pose (linear, the same ridge prior), so the landmarks stay explained: what the cheek raise
moves is now the expression's, and a target expression without it lowers the cheeks.

Tried first and taken back: tying the cheek raise to the smile inside the fit (a coupled
smile shape). The landmarks then pulled the coupled shape down: the fitted smiles of the
broad-smile photos fell by a quarter (Obama 1.00 -> 0.82, Mayer 0.97 -> 0.69), so less of
the smile was taken away and more of it stayed in the identity.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from calibration.fit import FitResult, LandmarkFitter
from engines.face_model.ict import EXPRESSION_NAMES
from engines.instructions.facs import emotion_prototype

__all__ = [
    "SMILE_CHEEK_RAISE",
    "Coupling",
    "assign_implied_shapes",
    "implied_expression",
    "smile_cheek_raise",
    "validate_couplings",
]

# (driver shape, follower shape, follower weight per unit of the driver).
Coupling = tuple[str, str, float]


def smile_cheek_raise() -> tuple[Coupling, ...]:
    """AU12 → AU6 at the happiness prototype's ratio, per side (0.8 for 6D + 12E)."""
    prototype = emotion_prototype("happiness", EXPRESSION_NAMES)
    couplings = []
    for side in ("L", "R"):
        smile = float(prototype[EXPRESSION_NAMES.index(f"mouthSmile_{side}")])
        cheek = float(prototype[EXPRESSION_NAMES.index(f"cheekSquint_{side}")])
        couplings.append((f"mouthSmile_{side}", f"cheekSquint_{side}", cheek / smile))
    return tuple(couplings)


SMILE_CHEEK_RAISE: tuple[Coupling, ...] = smile_cheek_raise()


def validate_couplings(couplings: Sequence[Coupling], names: Sequence[str]) -> None:
    """Check ``couplings`` against the model's expression ``names``.

    Raises:
        ValueError: an unknown shape, a shape coupled to itself, a follower that also
            drives (the result would depend on the order) or a weight outside [0, 1].
    """
    known = set(names)
    drivers = {driver for driver, _, _ in couplings}
    for driver, follower, weight in couplings:
        for name in (driver, follower):
            if name not in known:
                raise ValueError(f"coupled shape {name!r} is not an expression shape")
        if driver == follower or follower in drivers:
            raise ValueError(f"{follower!r} cannot follow {driver!r}: no self-coupling or chains")
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f"coupling weight of {follower!r} must be in [0, 1], got {weight}")


def implied_expression(
    expression: NDArray[np.floating], names: Sequence[str], couplings: Sequence[Coupling]
) -> NDArray[np.float32]:
    """(E,) ``expression`` (E,) with each follower raised by ``weight × driver`` (≤ 1).

    Raises:
        ValueError: a wrong shape of ``expression`` or invalid ``couplings``
            (:func:`validate_couplings`).
    """
    values = np.asarray(expression, np.float64)
    if values.shape != (len(names),):
        raise ValueError(f"expression must have shape ({len(names)},), got {values.shape}")
    validate_couplings(couplings, names)
    index = {name: i for i, name in enumerate(names)}
    out = values.copy()
    for driver, follower, weight in couplings:
        out[index[follower]] += weight * values[index[driver]]
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def assign_implied_shapes(
    fitter: LandmarkFitter,
    points: Sequence[NDArray[np.floating]],
    fits: Sequence[FitResult],
    couplings: Sequence[Coupling],
) -> list[FitResult]:
    """The fits of F frames of one person with the implied shapes in their expressions.

    Args:
        fitter: the fitter that made ``fits`` (all its identity modes).
        points: F landmark sets (L, 2), one per fit.
        fits: F fits sharing one identity (a single frame: F = 1).
        couplings: ``(driver, follower, weight)`` (:data:`SMILE_CHEEK_RAISE`).

    Returns:
        F fits: each expression raised by :func:`implied_expression`, one identity
        re-solved over every frame at its pose for those expressions, then each frame's
        pose for that shape.
    """
    if not couplings:
        return list(fits)
    names = fitter.model.expression_names
    moved = [
        dataclasses.replace(fit, expression=implied_expression(fit.expression, names, couplings))
        for fit in fits
    ]
    targets = [np.asarray(p, np.float64) for p in points]
    identity = fitter.shared_identity(targets, moved)
    return [
        fitter.fit_pose(target, identity, fit.expression, fit.rotation, fit.camera)
        for target, fit in zip(targets, moved, strict=True)
    ]
