"""One predictor interface over every inference backend (torch, ONNX Runtime, TensorRT).

Like FasterLivePortrait's predictor: ``input_spec``, ``output_spec``, ``predict`` and
``warmup``; the backend is chosen by name with :func:`create_predictor`. Inputs and outputs
are numpy arrays keyed by tensor name, so callers never see backend types.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from engines.runtime.spec import TensorSpec

__all__ = ["BACKENDS", "Predictor", "PredictorConfig", "create_predictor"]

BACKENDS = ("torch", "onnxruntime", "tensorrt")


@runtime_checkable
class Predictor(Protocol):
    """A loaded model that maps named numpy inputs to named numpy outputs."""

    @property
    def input_spec(self) -> tuple[TensorSpec, ...]: ...

    @property
    def output_spec(self) -> tuple[TensorSpec, ...]: ...

    def predict(self, inputs: Mapping[str, NDArray[np.generic]]) -> dict[str, NDArray[np.generic]]:
        """Run the model once on validated inputs."""
        ...

    def warmup(self, runs: int = 2) -> None:
        """Run on zero inputs so that first-call costs (allocation, JIT) are paid up front."""
        ...


@dataclass(frozen=True)
class PredictorConfig:
    """How to build a predictor.

    Attributes:
        backend: one of :data:`BACKENDS`.
        model_path: ONNX file (onnxruntime) or serialized engine (tensorrt); unused for torch.
        device: "cpu" or "cuda" (onnxruntime: picks the execution provider).
        use_tensorrt_provider: onnxruntime only: put TensorRT's execution provider first.
        threads: intra-op threads (0: the backend's default).
    """

    backend: str = "torch"
    model_path: Path | None = None
    device: str = "cpu"
    use_tensorrt_provider: bool = False
    threads: int = 0
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown backend {self.backend!r}; choose one of {BACKENDS}")
        if self.device not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda', not {self.device!r}")
        if self.backend != "torch" and self.model_path is None:
            raise ValueError(f"backend {self.backend!r} needs model_path")


def create_predictor(
    config: PredictorConfig,
    *,
    module: object | None = None,
    input_spec: Sequence[TensorSpec] = (),
    output_spec: Sequence[TensorSpec] = (),
) -> Predictor:
    """Build the predictor ``config`` names.

    Args:
        config: backend choice and its options.
        module: the ``torch.nn.Module`` (torch backend only).
        input_spec: tensors the model takes, in the module's positional order (torch backend).
        output_spec: tensors it returns, in order (torch backend).

    Raises:
        BackendUnavailableError: the backend is not installed or not usable here.
    """
    if config.backend == "torch":
        from engines.runtime.torch_backend import TorchPredictor

        if module is None:
            raise ValueError("the torch backend needs the module")
        return TorchPredictor(module, input_spec, output_spec, device=config.device)  # type: ignore[arg-type]
    assert config.model_path is not None  # checked in PredictorConfig
    if config.backend == "onnxruntime":
        from engines.runtime.onnx_backend import OnnxRuntimePredictor

        return OnnxRuntimePredictor(
            config.model_path,
            device=config.device,
            use_tensorrt_provider=config.use_tensorrt_provider,
            threads=config.threads,
        )
    from engines.runtime.tensorrt_backend import TensorRTPredictor

    return TensorRTPredictor(config.model_path)
