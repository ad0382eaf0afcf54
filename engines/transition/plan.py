"""What the transition builder reads from a plan (``engines.i2fet.Plan`` satisfies it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

__all__ = ["AnchorLike", "LearnedCurveLike", "PlanLike", "WindowDynamics"]


class AnchorLike(Protocol):
    """One target of a plan: ``label``, ``intensity``, ``expression`` (E,), ``pose`` (3,)."""

    @property
    def label(self) -> str: ...

    @property
    def intensity(self) -> float: ...

    @property
    def expression(self) -> NDArray[np.floating]: ...

    @property
    def pose(self) -> NDArray[np.floating]: ...


class PlanLike(Protocol):
    """Anchors in order, and the subject's neutral face (E,) and pose (3,) for midpoints."""

    @property
    def text(self) -> str: ...

    @property
    def anchors(self) -> Sequence[AnchorLike]: ...

    @property
    def neutral_expression(self) -> NDArray[np.floating]: ...

    @property
    def neutral_pose(self) -> NDArray[np.floating]: ...


class LearnedCurveLike(Protocol):
    """Coefficients of one emotion window, from its onset's start (seconds)."""

    @property
    def apex(self) -> NDArray[np.floating]: ...

    def at(self, times: NDArray[np.floating]) -> NDArray[np.floating]: ...


class WindowDynamics(Protocol):
    """A model of how an emotion unfolds (``engines.dynamics.LearnedDynamics`` satisfies it):
    per-frame coefficients of a window onset -> hold -> offset (None: held to the end)."""

    def supports(self, label: str) -> bool: ...

    def intensity_of(self, label: str, apex_expression: NDArray[np.floating]) -> float: ...

    def curve(
        self, label: str, intensity: float, onset_s: float, hold_s: float, offset_s: float | None
    ) -> LearnedCurveLike: ...
