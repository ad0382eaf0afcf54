"""A numpy forward pass of a functional Keras image model, interpreted layer by layer.

:class:`Network` reads the graph from a :class:`~evaluation.judge.weights.KerasModel` (its
``model_config``): each layer becomes one small operator, run in dependency order following
``inbound_nodes``, so residual ``Add`` merges are whatever the file says they are. Nothing
about fer's mini-Xception is hard-coded here. Everything is channels-last float32:
feature maps are (N, H, W, C).

Supported layers: InputLayer, Conv2D, SeparableConv2D, DepthwiseConv2D, BatchNormalization,
Activation (linear, relu, sigmoid, tanh, softmax), MaxPooling2D, GlobalAveragePooling2D, Add,
Dropout (identity at inference). Anything else raises :class:`JudgeError` naming the layer.

Convolutions are im2col + one matmul; depthwise convolutions are a sum of kh*kw shifted,
per-channel-scaled views. ``padding="same"`` follows TensorFlow: the total padding
``max((ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0)`` is split with the odd pixel after.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .exceptions import JudgeError, JudgeInputError
from .weights import KerasLayer, KerasModel, load_keras_model

__all__ = ["SUPPORTED_LAYERS", "Network", "load_network"]

logger = logging.getLogger(__name__)

Activation = Callable[[np.ndarray], np.ndarray]
Padding = tuple[tuple[int, int], tuple[int, int]]


# --- activations --------------------------------------------------------------------------


def _linear(x: np.ndarray) -> np.ndarray:
    return x


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, np.float32(0.0))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-x))).astype(np.float32)


def _tanh(x: np.ndarray) -> np.ndarray:
    return np.tanh(x)


def _softmax(x: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, shifted by the max for stability."""
    shifted = np.exp(x - x.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


_ACTIVATIONS: Mapping[str, Activation] = {
    "linear": _linear,
    "relu": _relu,
    "sigmoid": _sigmoid,
    "tanh": _tanh,
    "softmax": _softmax,
}


def _activation(layer: KerasLayer) -> Activation:
    name = layer.config.get("activation", "linear")
    if not isinstance(name, str) or name not in _ACTIVATIONS:
        raise JudgeError(
            f"layer {layer.name!r}: activation {name!r} is not supported "
            f"(supported: {sorted(_ACTIVATIONS)})"
        )
    return _ACTIVATIONS[name]


# --- window geometry ----------------------------------------------------------------------


def _pair(value: Any, layer: KerasLayer, key: str) -> tuple[int, int]:
    if isinstance(value, int):
        return (value, value)
    if isinstance(value, list | tuple) and len(value) == 2:
        return (int(value[0]), int(value[1]))
    raise JudgeError(f"layer {layer.name!r}: {key}={value!r} is not an int or a pair")


def _axis_padding(
    size: int, kernel: int, stride: int, dilation: int, padding: str
) -> tuple[int, int, int]:
    """(pad_before, pad_after, output_size) along one spatial axis, as TensorFlow does it."""
    effective = (kernel - 1) * dilation + 1
    if padding == "valid":
        return 0, 0, (size - effective) // stride + 1
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2, out


@dataclass(frozen=True)
class _Window:
    """Sliding-window geometry shared by convolutions and pooling (channels-last)."""

    kernel: tuple[int, int]
    strides: tuple[int, int]
    dilation: tuple[int, int]
    padding: str  # "same" | "valid"

    def plan(self, height: int, width: int) -> tuple[Padding, tuple[int, int]]:
        """The (top, bottom), (left, right) padding and the (H_out, W_out) for an input."""
        top, bottom, out_h = _axis_padding(
            height, self.kernel[0], self.strides[0], self.dilation[0], self.padding
        )
        left, right, out_w = _axis_padding(
            width, self.kernel[1], self.strides[1], self.dilation[1], self.padding
        )
        if out_h < 1 or out_w < 1:
            raise JudgeInputError(
                f"a {height}x{width} feature map is smaller than the {self.kernel} window"
            )
        return ((top, bottom), (left, right)), (out_h, out_w)

    def views(self, x: np.ndarray, fill: float) -> tuple[list[np.ndarray], tuple[int, int]]:
        """The kh*kw shifted views of padded ``x``, each (N, H_out, W_out, C), row-major (i, j).

        View (i, j) holds ``x_padded[:, i*dh + s_h*r, j*dw + s_w*c, :]`` at output (r, c), so
        concatenating the views along C gives im2col columns in Keras kernel order (kh, kw, C).
        """
        ((top, bottom), (left, right)), (out_h, out_w) = self.plan(x.shape[1], x.shape[2])
        if top or bottom or left or right:
            x = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=fill)
        sh, sw = self.strides
        dh, dw = self.dilation
        views = [
            x[
                :,
                i * dh : i * dh + (out_h - 1) * sh + 1 : sh,
                j * dw : j * dw + (out_w - 1) * sw + 1 : sw,
                :,
            ]
            for i in range(self.kernel[0])
            for j in range(self.kernel[1])
        ]
        return views, (out_h, out_w)


def _window(layer: KerasLayer, kernel_key: str, strides_default: Any = None) -> _Window:
    config = layer.config
    if config.get("data_format", "channels_last") != "channels_last":
        raise JudgeError(f"layer {layer.name!r}: only data_format='channels_last' is supported")
    padding = config.get("padding", "valid")
    if padding not in ("same", "valid"):
        raise JudgeError(f"layer {layer.name!r}: padding {padding!r} is not supported")
    kernel = _pair(config[kernel_key], layer, kernel_key)
    strides = config.get("strides") or strides_default or kernel
    return _Window(
        kernel=kernel,
        strides=_pair(strides, layer, "strides"),
        dilation=_pair(config.get("dilation_rate", 1), layer, "dilation_rate"),
        padding=str(padding),
    )


# --- operators ----------------------------------------------------------------------------


def _weights(layer: KerasLayer, count: int) -> tuple[np.ndarray, ...]:
    if len(layer.weights) != count:
        raise JudgeError(
            f"layer {layer.name!r} ({layer.class_name}) has {len(layer.weights)} weight arrays, "
            f"its config implies {count}"
        )
    return layer.weights


def _depthwise(x: np.ndarray, window: _Window, kernel: np.ndarray) -> np.ndarray:
    """Depthwise convolution: (N, H, W, C) * kernel (kh, kw, C, M) -> (N, H', W', C*M).

    Output channel c*M + m is input channel c filtered by kernel[..., c, m] (Keras order).
    """
    views, (out_h, out_w) = window.views(x, 0.0)
    channels, multiplier = kernel.shape[2], kernel.shape[3]
    taps = kernel.reshape(-1, channels, multiplier)  # (kh*kw, C, M)
    if multiplier == 1:
        out = views[0] * taps[0, :, 0]
        for view, tap in zip(views[1:], taps[1:], strict=True):
            out += view * tap[:, 0]
        return out
    wide = views[0][..., None] * taps[0]
    for view, tap in zip(views[1:], taps[1:], strict=True):
        wide += view[..., None] * tap
    return wide.reshape(x.shape[0], out_h, out_w, channels * multiplier)


@dataclass(frozen=True)
class _Conv2D:
    """Conv2D: (N, H, W, C) -> (N, H', W', F) with kernel (kh, kw, C, F), optional bias (F,)."""

    window: _Window
    kernel: np.ndarray = field(repr=False)
    bias: np.ndarray | None = field(repr=False)
    activation: Activation

    def __call__(self, x: np.ndarray) -> np.ndarray:
        kh, kw, channels, filters = self.kernel.shape
        if x.shape[-1] != channels:
            raise JudgeInputError(f"Conv2D expects {channels} channels, got {x.shape[-1]}")
        views, (out_h, out_w) = self.window.views(x, 0.0)
        # im2col: (N, H', W', kh*kw*C) columns in the kernel's (kh, kw, C) order.
        columns = views[0] if len(views) == 1 else np.concatenate(views, axis=-1)
        out = columns.reshape(-1, kh * kw * channels) @ self.kernel.reshape(-1, filters)
        if self.bias is not None:
            out += self.bias
        return self.activation(out.reshape(x.shape[0], out_h, out_w, filters))


@dataclass(frozen=True)
class _SeparableConv2D:
    """Depthwise (kh, kw, C, M) then pointwise (1, 1, C*M, F) convolution, optional bias (F,)."""

    window: _Window
    depthwise_kernel: np.ndarray = field(repr=False)
    pointwise_kernel: np.ndarray | None = field(repr=False)
    bias: np.ndarray | None = field(repr=False)
    activation: Activation

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if x.shape[-1] != self.depthwise_kernel.shape[2]:
            raise JudgeInputError(
                f"depthwise convolution expects {self.depthwise_kernel.shape[2]} channels, "
                f"got {x.shape[-1]}"
            )
        out = _depthwise(x, self.window, self.depthwise_kernel)
        if self.pointwise_kernel is not None:
            out = out @ self.pointwise_kernel[0, 0]
        if self.bias is not None:
            out += self.bias
        return self.activation(out)


@dataclass(frozen=True)
class _BatchNormalization:
    """Inference BN folded to ``x * scale + shift`` over the last axis; (C,) each."""

    scale: np.ndarray = field(repr=False)
    shift: np.ndarray = field(repr=False)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return x * self.scale + self.shift


@dataclass(frozen=True)
class _MaxPooling2D:
    """Max pooling; padded cells are -inf so they never win (TensorFlow 'same')."""

    window: _Window

    def __call__(self, x: np.ndarray) -> np.ndarray:
        views, _ = self.window.views(x, -np.inf)
        out = views[0].copy()
        for view in views[1:]:
            np.maximum(out, view, out=out)
        return out


@dataclass(frozen=True)
class _GlobalAveragePooling2D:
    """(N, H, W, C) -> (N, C), or (N, 1, 1, C) with keepdims."""

    keepdims: bool

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return x.mean(axis=(1, 2), keepdims=self.keepdims, dtype=np.float32)


@dataclass(frozen=True)
class _Elementwise:
    """A one-input operator: an activation or the identity."""

    function: Activation

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.function(x)


def _add(*inputs: np.ndarray) -> np.ndarray:
    out = inputs[0] + inputs[1]
    for extra in inputs[2:]:
        out += extra
    return out


Operator = Callable[..., np.ndarray]


def _conv2d(layer: KerasLayer) -> Operator:
    use_bias = bool(layer.config.get("use_bias", True))
    arrays = _weights(layer, 2 if use_bias else 1)
    return _Conv2D(
        _window(layer, "kernel_size"),
        arrays[0],
        arrays[1] if use_bias else None,
        _activation(layer),
    )


def _separable_conv2d(layer: KerasLayer) -> Operator:
    use_bias = bool(layer.config.get("use_bias", True))
    arrays = _weights(layer, 3 if use_bias else 2)
    return _SeparableConv2D(
        _window(layer, "kernel_size"),
        arrays[0],
        arrays[1],
        arrays[2] if use_bias else None,
        _activation(layer),
    )


def _depthwise_conv2d(layer: KerasLayer) -> Operator:
    use_bias = bool(layer.config.get("use_bias", True))
    arrays = _weights(layer, 2 if use_bias else 1)
    return _SeparableConv2D(
        _window(layer, "kernel_size"),
        arrays[0],
        None,
        arrays[1] if use_bias else None,
        _activation(layer),
    )


def _batch_normalization(layer: KerasLayer) -> Operator:
    config = layer.config
    axis = config.get("axis", -1)
    if isinstance(axis, list):
        axis = axis[0] if len(axis) == 1 else axis
    if axis not in (-1, 3):
        raise JudgeError(
            f"layer {layer.name!r}: BatchNormalization over axis {axis!r} is not supported"
        )
    use_scale, use_center = bool(config.get("scale", True)), bool(config.get("center", True))
    arrays = list(_weights(layer, 2 + use_scale + use_center))
    gamma = arrays.pop(0) if use_scale else None
    beta = arrays.pop(0) if use_center else None
    mean, variance = arrays
    epsilon = np.float32(config.get("epsilon", 1e-3))
    scale = (1.0 / np.sqrt(variance + epsilon)).astype(np.float32)
    if gamma is not None:
        scale = scale * gamma
    shift = -mean * scale
    if beta is not None:
        shift = shift + beta
    return _BatchNormalization(scale.astype(np.float32), shift.astype(np.float32))


def _max_pooling2d(layer: KerasLayer) -> Operator:
    return _MaxPooling2D(_window(layer, "pool_size"))


def _global_average_pooling2d(layer: KerasLayer) -> Operator:
    if layer.config.get("data_format", "channels_last") != "channels_last":
        raise JudgeError(f"layer {layer.name!r}: only data_format='channels_last' is supported")
    return _GlobalAveragePooling2D(bool(layer.config.get("keepdims", False)))


_BUILDERS: Mapping[str, Callable[[KerasLayer], Operator]] = {
    "Conv2D": _conv2d,
    "SeparableConv2D": _separable_conv2d,
    "DepthwiseConv2D": _depthwise_conv2d,
    "BatchNormalization": _batch_normalization,
    "Activation": lambda layer: _Elementwise(_activation(layer)),
    "Dropout": lambda layer: _Elementwise(_linear),
    "MaxPooling2D": _max_pooling2d,
    "GlobalAveragePooling2D": _global_average_pooling2d,
    "Add": lambda layer: _add,
}

SUPPORTED_LAYERS: tuple[str, ...] = ("InputLayer", *sorted(_BUILDERS))


# --- the graph ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Step:
    name: str
    operator: Operator
    inputs: tuple[str, ...]
    release: tuple[str, ...]  # tensors no later step reads: dropped after this step


def _topological(layers: Sequence[KerasLayer]) -> list[KerasLayer]:
    """Layers in an order where every layer follows its inputs (file order when it already is)."""
    by_name = {layer.name: layer for layer in layers}
    if len(by_name) != len(layers):
        raise JudgeError("the model config has duplicate layer names")
    done: set[str] = set()
    ordered: list[KerasLayer] = []
    pending = list(layers)
    while pending:
        ready = [layer for layer in pending if all(name in done for name in layer.inputs)]
        if not ready:
            missing = sorted({n for layer in pending for n in layer.inputs if n not in by_name})
            raise JudgeError(f"the model graph has a cycle or unknown inputs {missing}")
        for layer in ready:
            done.add(layer.name)
        ordered.extend(ready)
        pending = [layer for layer in pending if layer.name not in done]
    return ordered


class Network:
    """The forward pass of a single-input, single-output functional Keras image model.

    Example (fer's mini-Xception): ``Network(load_keras_model())(faces)`` maps faces
    (N, 64, 64, 1) float32 in [-1, 1] to probabilities (N, 7).
    """

    def __init__(self, model: KerasModel) -> None:
        if len(model.input_names) != 1 or len(model.output_names) != 1:
            raise JudgeError(
                f"model {model.name!r} has inputs {model.input_names} and outputs "
                f"{model.output_names}; the interpreter supports exactly one of each"
            )
        layers = _topological(model.layers)
        by_name = {layer.name: layer for layer in layers}
        input_layer = by_name.get(model.input_names[0])
        if input_layer is None or input_layer.class_name != "InputLayer":
            raise JudgeError(
                f"model {model.name!r}: input {model.input_names[0]!r} is not an InputLayer"
            )
        shape = input_layer.config.get("batch_input_shape") or input_layer.config.get("batch_shape")
        if not isinstance(shape, list) or len(shape) != 4:
            raise JudgeError(f"model {model.name!r}: input shape {shape!r} is not (N, H, W, C)")
        self._input_name = input_layer.name
        self._input_shape: tuple[int | None, ...] = tuple(
            None if d is None else int(d) for d in shape[1:]
        )
        self._output_name = model.output_names[0]
        if self._output_name not in by_name:
            raise JudgeError(f"model {model.name!r}: output {self._output_name!r} is not a layer")

        compute = [layer for layer in layers if layer.name != self._input_name]
        last_use: dict[str, int] = {}
        for index, layer in enumerate(compute):
            if layer.class_name == "InputLayer":
                raise JudgeError(f"model {model.name!r}: a second InputLayer {layer.name!r}")
            for name in layer.inputs:
                last_use[name] = index
        steps = []
        for index, layer in enumerate(compute):
            builder = _BUILDERS.get(layer.class_name)
            if builder is None:
                raise JudgeError(
                    f"layer {layer.name!r}: {layer.class_name} is not supported by the numpy "
                    f"interpreter (supported: {', '.join(SUPPORTED_LAYERS)})"
                )
            arity_ok = (
                len(layer.inputs) >= 2 if layer.class_name == "Add" else len(layer.inputs) == 1
            )
            if not arity_ok:
                raise JudgeError(
                    f"layer {layer.name!r} ({layer.class_name}) has inputs {layer.inputs}"
                )
            release = tuple(
                name
                for name in dict.fromkeys(layer.inputs)
                if last_use.get(name) == index and name != self._output_name
            )
            steps.append(_Step(layer.name, builder(layer), layer.inputs, release))
        self._steps: tuple[_Step, ...] = tuple(steps)
        logger.debug("built %d steps for model %r", len(steps), model.name)

    @property
    def input_shape(self) -> tuple[int | None, ...]:
        """The per-example input shape (H, W, C) from the InputLayer (None: any size)."""
        return self._input_shape

    def __call__(self, inputs: np.ndarray) -> np.ndarray:
        """Run the model.

        Args:
            inputs: (N, H, W, C) real-valued array matching :attr:`input_shape`.

        Returns:
            the output layer's activations, e.g. (N, 7) float32 probabilities.

        Raises:
            JudgeInputError: wrong rank, shape or dtype.
        """
        if not isinstance(inputs, np.ndarray) or inputs.ndim != 4:
            raise JudgeInputError(
                f"network input must be a (N, H, W, C) array, got "
                f"{getattr(inputs, 'shape', type(inputs).__name__)}"
            )
        if not (
            np.issubdtype(inputs.dtype, np.floating) or np.issubdtype(inputs.dtype, np.integer)
        ):
            raise JudgeInputError(f"network input must be real-valued, got dtype {inputs.dtype}")
        for axis, (got, expected) in enumerate(
            zip(inputs.shape[1:], self._input_shape, strict=True)
        ):
            if expected is not None and got != expected:
                raise JudgeInputError(
                    f"network input axis {axis + 1} has size {got}; the model takes "
                    f"(N, {', '.join('?' if d is None else str(d) for d in self._input_shape)})"
                )
        tensors: dict[str, np.ndarray] = {
            self._input_name: np.ascontiguousarray(inputs, dtype=np.float32)
        }
        for step in self._steps:
            tensors[step.name] = step.operator(*(tensors[name] for name in step.inputs))
            for name in step.release:
                del tensors[name]
        return tensors[self._output_name]


def load_network(path: str | Path | None = None) -> Network:
    """:class:`Network` for a Keras HDF5 model file (``None``: fer's emotion_model.hdf5)."""
    return Network(load_keras_model(path))
