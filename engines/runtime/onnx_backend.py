"""ONNX export and the ONNX Runtime backend (CPU, CUDA or TensorRT execution providers)."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray

from engines.runtime.base import SpecPredictor
from engines.runtime.exceptions import BackendUnavailableError
from engines.runtime.spec import TensorSpec, check_inputs

__all__ = ["OnnxRuntimePredictor", "execution_providers", "export_onnx"]

logger = logging.getLogger(__name__)

_ORT_TYPES = {"tensor(float)": "float32", "tensor(int64)": "int64", "tensor(bool)": "bool"}


def export_onnx(
    module: torch.nn.Module,
    input_spec: Sequence[TensorSpec],
    output_spec: Sequence[TensorSpec],
    path: Path,
    *,
    opset: int = 17,
) -> Path:
    """Export ``module`` to ONNX with the specs' names; None axes become dynamic axes."""
    examples = tuple(torch.from_numpy(spec.example(dynamic=2)) for spec in input_spec)
    dynamic_axes = {
        spec.name: {
            axis: f"{spec.name}_{axis}" for axis, size in enumerate(spec.shape) if size is None
        }
        for spec in (*input_spec, *output_spec)
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # the TorchScript exporter is deprecated, but the torch.export-based one needs
        # onnxscript and handles fewer of our models; silence its notice only
        warnings.simplefilter("ignore", DeprecationWarning)
        _export(module, examples, path, input_spec, output_spec, dynamic_axes, opset)
    return path


def _export(
    module: torch.nn.Module,
    examples: tuple[torch.Tensor, ...],
    path: Path,
    input_spec: Sequence[TensorSpec],
    output_spec: Sequence[TensorSpec],
    dynamic_axes: dict[str, dict[int, str]],
    opset: int,
) -> None:
    torch.onnx.export(
        module.eval(),
        examples,
        str(path),
        input_names=[spec.name for spec in input_spec],
        output_names=[spec.name for spec in output_spec],
        dynamic_axes={name: axes for name, axes in dynamic_axes.items() if axes},
        opset_version=opset,
        dynamo=False,
    )


def execution_providers(device: str, use_tensorrt_provider: bool) -> list[str]:
    """The ONNX Runtime execution providers for a device, checked against what is installed.

    Raises:
        BackendUnavailableError: the provider asked for is not in this onnxruntime build.
    """
    import onnxruntime as ort

    available = set(ort.get_available_providers())
    wanted: list[str] = []
    if use_tensorrt_provider:
        wanted.append("TensorrtExecutionProvider")
    if device == "cuda":
        wanted.append("CUDAExecutionProvider")
    missing = [provider for provider in wanted if provider not in available]
    if missing:
        raise BackendUnavailableError(
            f"onnxruntime here has no {', '.join(missing)} (available: {sorted(available)}); "
            "install onnxruntime-gpu on a machine with an NVIDIA GPU, or use device='cpu'"
        )
    return [*wanted, "CPUExecutionProvider"]


class OnnxRuntimePredictor(SpecPredictor):
    """An ONNX model in an ``onnxruntime.InferenceSession``; specs read from the model."""

    def __init__(
        self,
        model_path: Path,
        *,
        device: str = "cpu",
        use_tensorrt_provider: bool = False,
        threads: int = 0,
    ) -> None:
        try:
            import onnxruntime as ort
        except ImportError as error:
            raise BackendUnavailableError("onnxruntime is not installed") from error
        if not Path(model_path).is_file():
            raise FileNotFoundError(f"ONNX model not found: {model_path}")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self._session = ort.InferenceSession(
            str(model_path),
            sess_options=options,
            providers=execution_providers(device, use_tensorrt_provider),
        )
        super().__init__(
            [self._spec(node) for node in self._session.get_inputs()],
            [self._spec(node) for node in self._session.get_outputs()],
        )

    @staticmethod
    def _spec(node: object) -> TensorSpec:
        shape = tuple(size if isinstance(size, int) else None for size in node.shape)  # type: ignore[attr-defined]
        dtype = _ORT_TYPES.get(node.type, "float32")  # type: ignore[attr-defined]
        return TensorSpec(node.name, shape, dtype)  # type: ignore[attr-defined]

    @property
    def providers(self) -> list[str]:
        return list(self._session.get_providers())

    def predict(self, inputs: Mapping[str, NDArray[np.generic]]) -> dict[str, NDArray[np.generic]]:
        arrays = check_inputs(self._inputs, inputs)
        values = self._session.run([spec.name for spec in self._outputs], arrays)
        return {
            spec.name: np.asarray(value) for spec, value in zip(self._outputs, values, strict=True)
        }
