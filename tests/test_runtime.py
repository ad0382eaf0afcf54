"""Predictor backends: torch and ONNX Runtime agree; TensorRT fails clearly without a GPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import engines.runtime as runtime
from engines.runtime import (
    BackendUnavailableError,
    InputSpecError,
    PredictorConfig,
    TensorSpec,
    create_predictor,
)
from engines.runtime.onnx_backend import export_onnx


class TwoHeads(torch.nn.Module):
    """A small model with two inputs and two outputs, like the planner's heads."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = torch.nn.Sequential(torch.nn.Linear(12, 32), torch.nn.GELU())
        self.expression = torch.nn.Linear(32, 53)
        self.pose = torch.nn.Linear(32, 3)

    def forward(self, features: torch.Tensor, scale: torch.Tensor):
        hidden = self.body(features) * scale
        return torch.sigmoid(self.expression(hidden)), torch.tanh(self.pose(hidden))


INPUTS = (TensorSpec("features", (None, 12)), TensorSpec("scale", (None, 1)))
OUTPUTS = (TensorSpec("expression", (None, 53)), TensorSpec("pose", (None, 3)))


def test_public_api():
    assert set(runtime.__all__) == {
        "BACKENDS", "BackendUnavailableError", "InputSpecError", "Predictor", "PredictorConfig",
        "RuntimeBackendError", "TensorSpec", "check_inputs", "create_predictor",
    }  # fmt: skip


def test_torch_and_onnxruntime_agree(tmp_path, rng):
    module = TwoHeads()
    torch_predictor = create_predictor(
        PredictorConfig("torch"), module=module, input_spec=INPUTS, output_spec=OUTPUTS
    )
    path = export_onnx(module, INPUTS, OUTPUTS, tmp_path / "two_heads.onnx")
    onnx_predictor = create_predictor(PredictorConfig("onnxruntime", model_path=path))
    assert isinstance(onnx_predictor, runtime.Predictor)
    assert [s.name for s in onnx_predictor.input_spec] == ["features", "scale"]
    assert onnx_predictor.output_spec[0].shape == (None, 53)
    onnx_predictor.warmup()
    for batch in (1, 5):
        inputs = {
            "features": rng.normal(size=(batch, 12)).astype(np.float32),
            "scale": rng.uniform(0.5, 2, size=(batch, 1)).astype(np.float32),
        }
        expected = torch_predictor.predict(inputs)
        got = onnx_predictor.predict(inputs)
        for name in ("expression", "pose"):
            assert got[name].shape == expected[name].shape
            np.testing.assert_allclose(got[name], expected[name], atol=1e-5)


def test_inputs_are_checked():
    predictor = create_predictor(
        PredictorConfig("torch"), module=TwoHeads(), input_spec=INPUTS, output_spec=OUTPUTS
    )
    good = {"features": np.zeros((2, 12)), "scale": np.ones((2, 1))}
    assert predictor.predict(good)["expression"].dtype == np.float32
    with pytest.raises(InputSpecError, match="missing input 'scale'"):
        predictor.predict({"features": np.zeros((2, 12))})
    with pytest.raises(InputSpecError, match="axis 1 is 11"):
        predictor.predict({"features": np.zeros((2, 11)), "scale": np.ones((2, 1))})
    with pytest.raises(InputSpecError, match="unexpected"):
        predictor.predict({**good, "other": np.zeros(1)})


def test_bad_configs_and_missing_gpu_backends(tmp_path):
    with pytest.raises(ValueError, match="unknown backend"):
        PredictorConfig("tflite")
    with pytest.raises(ValueError, match="needs model_path"):
        PredictorConfig("onnxruntime")
    path = export_onnx(TwoHeads(), INPUTS, OUTPUTS, tmp_path / "m.onnx")
    with pytest.raises(BackendUnavailableError, match="CUDAExecutionProvider"):
        create_predictor(PredictorConfig("onnxruntime", model_path=path, device="cuda"))
    with pytest.raises(BackendUnavailableError, match="TensorRT"):
        create_predictor(PredictorConfig("tensorrt", model_path=tmp_path / "m.engine"))
