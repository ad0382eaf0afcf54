"""What the transition builder reads from a plan (``engines.i2fet.Plan`` satisfies it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

__all__ = ["AnchorLike", "PlanLike"]


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
