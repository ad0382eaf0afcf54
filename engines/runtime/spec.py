"""Tensor specs: what a predictor takes and returns, checked at the boundary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from engines.runtime.exceptions import InputSpecError

__all__ = ["TensorSpec", "check_inputs"]


@dataclass(frozen=True)
class TensorSpec:
    """One named tensor. ``shape`` entries are sizes or None for a dynamic axis (batch, ...)."""

    name: str
    shape: tuple[int | None, ...]
    dtype: str = "float32"

    def example(self, dynamic: int = 1) -> NDArray[np.generic]:
        """A zero array of this spec, dynamic axes set to ``dynamic``."""
        shape = tuple(dynamic if size is None else size for size in self.shape)
        return np.zeros(shape, dtype=self.dtype)


def check_inputs(
    specs: Sequence[TensorSpec], inputs: Mapping[str, NDArray[np.generic]]
) -> dict[str, NDArray[np.generic]]:
    """Validate ``inputs`` against ``specs``; returns contiguous arrays of the spec's dtype.

    Raises:
        InputSpecError: a missing or unexpected name, a wrong rank or a fixed size that differs.
    """
    expected = {spec.name for spec in specs}
    unknown = set(inputs) - expected
    if unknown:
        raise InputSpecError(f"unexpected inputs {sorted(unknown)}; expected {sorted(expected)}")
    checked: dict[str, NDArray[np.generic]] = {}
    for spec in specs:
        if spec.name not in inputs:
            raise InputSpecError(f"missing input {spec.name!r}")
        array = np.asarray(inputs[spec.name])
        if array.ndim != len(spec.shape):
            raise InputSpecError(
                f"{spec.name}: rank {array.ndim}, expected {len(spec.shape)} {spec.shape}"
            )
        for axis, (size, want) in enumerate(zip(array.shape, spec.shape, strict=True)):
            if want is not None and size != want:
                raise InputSpecError(f"{spec.name}: axis {axis} is {size}, expected {want}")
        checked[spec.name] = np.ascontiguousarray(array, dtype=spec.dtype)
    return checked
