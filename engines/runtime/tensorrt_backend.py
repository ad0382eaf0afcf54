"""The TensorRT backend (optional; NVIDIA GPUs only), with TensorRT 10's name-based tensor API.

Engines are built from the same ONNX export the onnxruntime backend uses
(:func:`build_engine`). Device buffers are torch CUDA tensors, so no pycuda is needed.
Neither tensorrt nor a GPU exists on the project's CPU machines: importing this module is
fine there, and creating a predictor raises :class:`BackendUnavailableError` with a message
saying what to install.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from engines.runtime.base import SpecPredictor
from engines.runtime.exceptions import BackendUnavailableError
from engines.runtime.spec import TensorSpec, check_inputs

__all__ = ["TensorRTPredictor", "build_engine", "import_tensorrt"]

_TORCH_DTYPES = {"float32": torch.float32, "float16": torch.float16, "int64": torch.int64,
                 "int32": torch.int32, "bool": torch.bool}  # fmt: skip


def import_tensorrt() -> Any:
    """Import tensorrt and check for a CUDA GPU, or raise a clear BackendUnavailableError."""
    try:
        import tensorrt
    except ImportError as error:
        raise BackendUnavailableError(
            "TensorRT is not installed. It is an optional backend for NVIDIA GPUs: install "
            "tensorrt 10.x from NVIDIA on a GPU machine, or use backend 'onnxruntime' / 'torch'"
        ) from error
    if not torch.cuda.is_available():
        raise BackendUnavailableError("TensorRT needs a CUDA GPU, and torch sees none here")
    return tensorrt


def _dtype_name(trt: Any, dtype: Any) -> str:
    names = {trt.DataType.FLOAT: "float32", trt.DataType.HALF: "float16",
             trt.DataType.INT32: "int32", trt.DataType.INT64: "int64",
             trt.DataType.BOOL: "bool"}  # fmt: skip
    return names.get(dtype, "float32")


def build_engine(
    onnx_path: Path,
    engine_path: Path,
    *,
    shapes: Mapping[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]] | None = None,
    fp16: bool = False,
) -> Path:
    """Build and serialize a TensorRT engine from an ONNX file.

    Args:
        onnx_path: the model exported by ``engines.runtime.onnx_backend.export_onnx``.
        engine_path: where to write the serialized engine.
        shapes: for dynamic inputs, name -> (min, opt, max) shapes of an optimisation profile.
        fp16: allow half precision kernels.
    """
    trt = import_tensorrt()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(Path(onnx_path).read_bytes()):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise BackendUnavailableError(f"TensorRT could not parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    if fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    if shapes:
        profile = builder.create_optimization_profile()
        for name, (smallest, optimal, largest) in shapes.items():
            profile.set_shape(name, smallest, optimal, largest)
        config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise BackendUnavailableError(f"TensorRT failed to build an engine from {onnx_path}")
    engine_path.parent.mkdir(parents=True, exist_ok=True)
    engine_path.write_bytes(bytes(serialized))
    return engine_path


class TensorRTPredictor(SpecPredictor):
    """A deserialized TensorRT engine run with ``execute_async_v3`` on torch's CUDA stream."""

    def __init__(self, engine_path: Path) -> None:
        trt = import_tensorrt()
        self._trt = trt
        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self._engine = runtime.deserialize_cuda_engine(Path(engine_path).read_bytes())
        if self._engine is None:
            raise BackendUnavailableError(f"could not deserialize TensorRT engine {engine_path}")
        self._context = self._engine.create_execution_context()
        inputs: list[TensorSpec] = []
        outputs: list[TensorSpec] = []
        for index in range(self._engine.num_io_tensors):
            name = self._engine.get_tensor_name(index)
            shape = tuple(None if s < 0 else int(s) for s in self._engine.get_tensor_shape(name))
            spec = TensorSpec(name, shape, _dtype_name(trt, self._engine.get_tensor_dtype(name)))
            is_input = self._engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
            (inputs if is_input else outputs).append(spec)
        super().__init__(inputs, outputs)

    def predict(self, inputs: Mapping[str, NDArray[np.generic]]) -> dict[str, NDArray[np.generic]]:
        arrays = check_inputs(self._inputs, inputs)
        device_inputs = {name: torch.from_numpy(a).cuda() for name, a in arrays.items()}
        for name, tensor in device_inputs.items():
            self._context.set_input_shape(name, tuple(tensor.shape))
            self._context.set_tensor_address(name, tensor.data_ptr())
        device_outputs: dict[str, torch.Tensor] = {}
        for spec in self._outputs:
            shape = tuple(self._context.get_tensor_shape(spec.name))
            tensor = torch.empty(shape, dtype=_TORCH_DTYPES[spec.dtype], device="cuda")
            self._context.set_tensor_address(spec.name, tensor.data_ptr())
            device_outputs[spec.name] = tensor
        stream = torch.cuda.current_stream()
        if not self._context.execute_async_v3(stream.cuda_stream):
            raise BackendUnavailableError("TensorRT execution failed")
        stream.synchronize()
        return {name: tensor.cpu().numpy() for name, tensor in device_outputs.items()}
