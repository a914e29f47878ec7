"""Fixed architectures written as a TOML layer list, built into a ``keras.Sequential`` model.

Layer types are Keras layer class names (``Conv2D``, ``Dense``, ``Flatten``, ...); argument names
are checked against the layer's constructor before anything is built, and the input shape comes
from the dataset.  Example::

    [E.structure]
    layers = [
      { type = "Conv2D", filters = 32, kernel_size = [3, 1], activation = "relu" },
      { type = "Flatten" },
      { type = "Dense", units = 12 },
    ]
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from functools import cache
from typing import Any

import keras

from scinas.config.reader import suggest
from scinas.data.base import DatasetInfo
from scinas.errors import ConfigError
from scinas.models.catalog import public_classes
from scinas.search_space.layer_spec import LayerSpec

__all__ = ["build_layer", "build_layer_stack", "known_layer_types", "layer_arguments"]

# Layers that cannot appear in a stack: the input is created from the dataset.
_EXCLUDED = {"Layer", "InputLayer", "InputSpec", "TFSMLayer"}


def _layer_classes() -> dict[str, type[keras.layers.Layer]]:
    return public_classes(keras.layers, keras.layers.Layer, _EXCLUDED)


def known_layer_types() -> list[str]:
    """Every Keras layer class name usable as ``type``."""
    return sorted(_layer_classes())


@cache
def layer_arguments(layer_type: str) -> frozenset[str]:
    """Argument names accepted by a layer's constructor (its own and the base ``Layer``'s)."""
    cls = _layer_classes()[layer_type]
    names: set[str] = set()
    for klass in (cls, keras.layers.Layer):
        for parameter in inspect.signature(klass.__init__).parameters.values():
            if parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY):
                names.add(parameter.name)
    names.discard("self")
    names -= {"input_shape", "batch_input_shape", "batch_size", "input_dim"}
    return frozenset(names)


def build_layer(spec: LayerSpec) -> keras.layers.Layer:
    """Instantiate one layer, with errors that name the TOML path."""
    classes = _layer_classes()
    if spec.type not in classes:
        fix = suggest(spec.type, classes)
        if spec.type in ("Input", "InputLayer"):
            fix = "remove it: the input shape comes from the dataset"
        raise ConfigError(f"unknown layer type {spec.type!r}: expected a Keras layer class name",
                          file=spec.file, path=f"{spec.path}.type", value=spec.type, fix=fix)
    allowed = layer_arguments(spec.type)
    for argument in spec.arguments:
        if argument not in allowed:
            raise ConfigError(f"{spec.type} has no argument {argument!r}", file=spec.file,
                              path=f"{spec.path}.{argument}", value=spec.arguments[argument],
                              fix=suggest(argument, allowed))
    try:
        return classes[spec.type](**dict(spec.arguments))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"Keras rejected the {spec.type} arguments: {exc}", file=spec.file,
                          path=spec.path, fix="check the values against the Keras documentation "
                                              f"of {spec.type}") from None


def _output_mismatch(model: keras.Model, info: DatasetInfo) -> str | None:
    output = tuple(model.output_shape[1:])
    if info.task == "classification":
        expected: tuple[Any, ...] = (info.n_classes,)
    else:
        expected = tuple(info.target_shape)
    if output == expected:
        return None
    what = f"{info.n_classes} classes" if info.task == "classification" else f"targets of shape {expected}"
    return f"the model outputs shape {output} but dataset {info.name!r} has {what}"


def _product(shape: Sequence[Any]) -> int:
    result = 1
    for size in shape:
        result *= int(size) if size is not None else 0
    return result


def build_layer_stack(layers: Sequence[LayerSpec], info: DatasetInfo, *, name: str = "model") -> keras.Model:
    """A ``keras.Sequential`` model for ``layers`` on the dataset's input shape.

    Raises ConfigError when a layer does not exist, takes no such argument, does not fit the
    shape of its input, or when the output does not match the dataset's targets.
    """
    model = keras.Sequential(name=name)
    model.add(keras.Input(shape=info.input_shape))
    for spec in layers:
        layer = build_layer(spec)
        current = model.output_shape if model.layers else (None, *info.input_shape)
        try:
            model.add(layer)
        except (TypeError, ValueError) as exc:
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"{spec.type} does not fit its input of shape {current}: "
                              f"{first_line}", file=spec.file, path=spec.path,
                              fix="change this layer's arguments or the layers before it") from None
    mismatch = _output_mismatch(model, info)
    if mismatch is not None:
        last = layers[-1]
        n = info.n_classes if info.task == "classification" else _product(info.target_shape)
        raise ConfigError(mismatch, file=last.file, path=last.path,
                          fix=f"end with a layer producing {n} outputs, e.g. {{ type = \"Dense\", units = {n} }}")
    return model
