"""Easing curves s(u): [0, 1] -> [0, 1] with s(0) = 0 and s(1) = 1 (vectorised)."""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType

import numpy as np
from numpy.typing import NDArray

__all__ = ["EASINGS", "ease"]

FloatArray = NDArray[np.float64]


def _linear(u: FloatArray) -> FloatArray:
    """The paper's linear interpolation (velocity jumps at the ends)."""
    return u


def _minjerk(u: FloatArray) -> FloatArray:
    """Minimum-jerk profile 10u^3 - 15u^4 + 6u^5 (zero velocity and acceleration at the ends)."""
    return u * u * u * (10.0 + u * (-15.0 + 6.0 * u))


def _cosine(u: FloatArray) -> FloatArray:
    """Half-cosine ease in-out (zero velocity at the ends)."""
    return 0.5 - 0.5 * np.cos(np.pi * u)


def _cubic(u: FloatArray) -> FloatArray:
    """Smoothstep 3u^2 - 2u^3."""
    return u * u * (3.0 - 2.0 * u)


def _responsive(u: FloatArray) -> FloatArray:
    """Quintic u + 4u^3 - 7u^4 + 3u^5: starts at the linear speed (a visible first frame, no
    ease-in lag), zero acceleration at the start, lands with zero velocity and acceleration.

    For live streams, where an instruction should show on the very next frames; position is
    continuous, only the start velocity steps (like a muscle's onset)."""
    return u * (1.0 + u * u * (4.0 + u * (-7.0 + 3.0 * u)))


EASINGS: MappingProxyType[str, Callable[[FloatArray], FloatArray]] = MappingProxyType(
    {
        "linear": _linear,
        "minjerk": _minjerk,
        "cosine": _cosine,
        "cubic": _cubic,
        "responsive": _responsive,
    }
)


def ease(name: str, u: FloatArray | float) -> FloatArray:
    """Apply easing ``name`` to ``u`` (clipped to [0, 1])."""
    if name not in EASINGS:
        raise ValueError(f"unknown easing {name!r}; valid: {', '.join(EASINGS)}")
    return EASINGS[name](np.clip(np.asarray(u, np.float64), 0.0, 1.0))
