"""One predictor interface over inference backends: torch, ONNX Runtime, TensorRT (optional)."""

from engines.runtime.exceptions import BackendUnavailableError, InputSpecError, RuntimeBackendError
from engines.runtime.predictor import BACKENDS, Predictor, PredictorConfig, create_predictor
from engines.runtime.spec import TensorSpec, check_inputs

__all__ = [
    "BACKENDS",
    "BackendUnavailableError",
    "InputSpecError",
    "Predictor",
    "PredictorConfig",
    "RuntimeBackendError",
    "TensorSpec",
    "check_inputs",
    "create_predictor",
]
