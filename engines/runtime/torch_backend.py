"""The torch backend: an ``nn.Module`` run under ``inference_mode``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from numpy.typing import NDArray

from engines.runtime.base import SpecPredictor
from engines.runtime.exceptions import BackendUnavailableError
from engines.runtime.spec import TensorSpec, check_inputs

__all__ = ["TorchPredictor"]


class TorchPredictor(SpecPredictor):
    """Calls ``module(*inputs in spec order)``; outputs a tensor or a tuple in spec order."""

    def __init__(
        self,
        module: torch.nn.Module,
        input_spec: Sequence[TensorSpec],
        output_spec: Sequence[TensorSpec],
        *,
        device: str = "cpu",
    ) -> None:
        if not input_spec or not output_spec:
            raise ValueError("TorchPredictor needs non-empty input and output specs")
        if device == "cuda" and not torch.cuda.is_available():
            raise BackendUnavailableError("device 'cuda' asked for, but torch sees no CUDA GPU")
        self._module = module.eval().to(device)
        self._device = torch.device(device)
        super().__init__(input_spec, output_spec)

    def predict(self, inputs: Mapping[str, NDArray[np.generic]]) -> dict[str, NDArray[np.generic]]:
        arrays = check_inputs(self._inputs, inputs)
        tensors = [torch.from_numpy(arrays[spec.name]).to(self._device) for spec in self._inputs]
        with torch.inference_mode():
            result = self._module(*tensors)
        outputs = result if isinstance(result, tuple | list) else (result,)
        if len(outputs) != len(self._outputs):
            raise ValueError(
                f"module returned {len(outputs)} outputs, spec has {len(self._outputs)}"
            )
        return {
            spec.name: tensor.detach().cpu().numpy()
            for spec, tensor in zip(self._outputs, outputs, strict=True)
        }
