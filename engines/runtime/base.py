"""What every backend shares: its tensor specs and a warmup that runs ``predict``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from engines.runtime.spec import TensorSpec

__all__ = ["SpecPredictor"]


class SpecPredictor(ABC):
    """Base of the backends (a :class:`engines.runtime.Predictor`): a subclass reads its specs,
    passes them to ``__init__`` and implements ``predict``."""

    def __init__(self, input_spec: Sequence[TensorSpec], output_spec: Sequence[TensorSpec]) -> None:
        self._inputs = tuple(input_spec)
        self._outputs = tuple(output_spec)

    @property
    def input_spec(self) -> tuple[TensorSpec, ...]:
        return self._inputs

    @property
    def output_spec(self) -> tuple[TensorSpec, ...]:
        return self._outputs

    @abstractmethod
    def predict(self, inputs: Mapping[str, NDArray[np.generic]]) -> dict[str, NDArray[np.generic]]:
        """Run the model once on validated inputs."""

    def warmup(self, runs: int = 2) -> None:
        """Run ``runs`` times on the specs' example inputs (first-call costs paid up front)."""
        example = {spec.name: spec.example() for spec in self._inputs}
        for _ in range(runs):
            self.predict(example)
