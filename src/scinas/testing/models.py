"""The conformance suite of :class:`~scinas.models.base.ModelGenerator` implementations.

:func:`check_model_generator` builds every architecture on every dataset description and checks
what the trainer, the store and the exporters rely on:

* ``build`` returns a ``keras.Model`` with the requested name and the dataset's input shape;
* its (last) output has shape ``(batch, n_classes)`` with rows of probabilities summing to 1 for
  classification, ``(batch, *target_shape)`` (``(batch, n_targets)`` for targets of at most one
  dimension) for regression; every output is float32, also under the ``mixed_float16`` policy;
* ``count_params`` equals ``model.count_params()`` whenever it is not ``None``;
* ``loss_weights`` (when not ``None``) names exactly the model's outputs;
* a model with several outputs gives them distinct names and names its final head ``"output"``
  (the trainer reports the metrics of that head);
* the model saves to ``.keras`` and reloads (without custom objects passed in, so custom layers
  must be registered serialisable) with identical outputs and output names;
* one training step runs, compiled and fed as the trainer does (losses, loss weights, metrics
  and targets keyed by output name for multi-output models), and gives a finite loss.

Example (in a test module)::

    def test_my_generator_conforms():
        check_model_generator(MyGenerator(), [arch_a, arch_b], [image_info, series_info])
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import keras
import numpy as np

from scinas.data.base import DatasetInfo
from scinas.models.base import ModelGenerator
from scinas.search_space.architecture import Architecture

__all__ = ["check_model_generator", "precision_policy"]


@contextmanager
def precision_policy(name: str) -> Iterator[None]:
    """Set Keras' global dtype policy (``"mixed_float16"``...) and always restore the previous one."""
    previous = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def check_model_generator(generator: ModelGenerator, architectures: Sequence[Architecture],
                          infos: Sequence[DatasetInfo], *, batch_size: int = 2, mixed_precision: bool = True,
                          seed: int = 0) -> None:
    """Raise AssertionError, naming the architecture, dataset and broken rule, unless
    ``generator`` honours the contract on every architecture × dataset.  Use tiny shapes: every
    combination is built twice (once under ``mixed_float16`` when ``mixed_precision``), saved,
    reloaded and trained one step."""
    _require(bool(architectures) and bool(infos), "check_model_generator",
             "give at least one architecture and one dataset description")
    rng = np.random.default_rng(seed)
    for info in infos:
        for architecture in architectures:
            label = f"{type(generator).__name__} on {architecture.to_text()!r} / dataset {info.name!r}"
            _require(generator.accepts(architecture), label, "accepts() refuses an architecture it was given")
            keras.backend.clear_session()
            keras.utils.set_random_seed(seed)
            x = rng.standard_normal((batch_size, *info.input_shape)).astype("float32")
            model = generator.build(architecture, info, name="conformance")
            _check_model(generator, model, architecture, info, x, label)
            _check_round_trip(model, x, label)
            _check_training_step(generator, model, architecture, info, x, rng, label)
            if mixed_precision:
                keras.backend.clear_session()
                with precision_policy("mixed_float16"):
                    mixed = generator.build(architecture, info, name="conformance")
                    _check_outputs(mixed, info, mixed(x, training=False), f"{label} (mixed_float16)")
            keras.backend.clear_session()


def _require(condition: bool, label: str, message: str) -> None:
    if not condition:
        raise AssertionError(f"{label}: {message}")


def _output_names(model: keras.Model) -> list[str]:
    """The names of ``model``'s outputs (``keras.Sequential`` models have no ``output_names``:
    their one output is named after their last layer)."""
    names = getattr(model, "output_names", None)
    if names is not None:
        return [str(name) for name in names]
    return [model.layers[-1].name] if model.layers else []


def _as_list(outputs: Any) -> list[Any]:
    if isinstance(outputs, dict):
        return list(outputs.values())
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def _check_model(generator: ModelGenerator, model: keras.Model, architecture: Architecture, info: DatasetInfo,
                 x: np.ndarray, label: str) -> None:
    _require(isinstance(model, keras.Model), label, f"build() must return a keras.Model, got {type(model).__name__}")
    _require(model.name == "conformance", label, f"the model is named {model.name!r}, not the name passed in")
    _require(tuple(model.input_shape[1:]) == tuple(info.input_shape), label,
             f"input shape {model.input_shape} does not match the dataset's {info.input_shape}")
    _check_outputs(model, info, model(x, training=False), label)
    expected = generator.count_params(architecture, info)
    if expected is not None:
        _require(expected == model.count_params(), label,
                 f"count_params() says {expected} but the model has {model.count_params()} weights")
    names = _output_names(model)
    if len(model.outputs) > 1:
        _require(len(set(names)) == len(names), label, f"the outputs need distinct names, got {names}")
        _require("output" in names, label, f"a multi-output model must name its final head 'output', got {names}")
    weights = generator.loss_weights(architecture)
    if weights is not None:
        _require(set(weights) == set(names), label,
                 f"loss_weights() names {sorted(weights)} but the outputs are {names}")
        _require(all(np.isfinite(w) and w > 0 for w in weights.values()), label,
                 f"loss weights must be positive, got {weights}")


def _check_outputs(model: keras.Model, info: DatasetInfo, outputs: Any, label: str) -> None:
    values = _as_list(outputs)
    for tensor in model.outputs:
        _require(keras.backend.standardize_dtype(tensor.dtype) == "float32", label,
                 f"output {tensor.name!r} is {tensor.dtype}; outputs must be float32 (give the output layer "
                 "dtype='float32' so mixed precision keeps them)")
    batch = np.asarray(values[-1]).shape[0]
    for value in values:
        array = np.asarray(value)
        _require(bool(np.all(np.isfinite(array))), label, "the outputs are not all finite")
        if info.task == "classification":
            _require(array.shape == (batch, info.n_classes), label,
                     f"output shape {array.shape}, expected {(batch, info.n_classes)} (classes)")
            _require(bool(np.allclose(array.sum(axis=-1), 1.0, atol=1e-3)) and bool(np.all(array >= 0)), label,
                     "classification outputs must be probabilities (end with a softmax)")
        else:
            shape = tuple(info.target_shape) if len(info.target_shape) > 1 else (info.n_targets,)
            _require(array.shape == (batch, *shape), label,
                     f"output shape {array.shape}, expected {(batch, *shape)} (targets)")


def _check_round_trip(model: keras.Model, x: np.ndarray, label: str) -> None:
    before = _as_list(model(x, training=False))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.keras"
        model.save(path)
        try:
            restored = keras.models.load_model(path, compile=False)
        except (TypeError, ValueError) as exc:
            raise AssertionError(f"{label}: the saved model does not load back ({exc}); register custom "
                                 "layers with keras.saving.register_keras_serializable") from exc
    after = _as_list(restored(x, training=False))
    _require(len(before) == len(after), label, "the reloaded model has another number of outputs")
    _require(_output_names(restored) == _output_names(model), label,
             f"the reloaded model names its outputs {_output_names(restored)}, not {_output_names(model)}")
    for a, b in zip(before, after, strict=True):
        _require(bool(np.allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)), label,
                 "the reloaded model computes other outputs than the saved one")


def _check_training_step(generator: ModelGenerator, model: keras.Model, architecture: Architecture,
                         info: DatasetInfo, x: np.ndarray, rng: np.random.Generator, label: str) -> None:
    batch = x.shape[0]
    if info.task == "classification":
        y = np.asarray(rng.integers(0, int(info.n_classes or 2), size=batch))
        loss, metric = "sparse_categorical_crossentropy", "sparse_categorical_accuracy"
    else:
        shape = tuple(info.target_shape) if len(info.target_shape) > 1 else (info.n_targets,)
        y = rng.standard_normal((batch, *shape)).astype("float32")
        loss, metric = "mse", "mae"
    if len(model.outputs) == 1:
        model.compile(optimizer="sgd", jit_compile=False, loss=loss, metrics=[metric])
        result = model.train_on_batch(x, y, return_dict=True)
    else:  # as the trainer does it: everything keyed by output name, metrics on the final head
        names = _output_names(model)
        weights = generator.loss_weights(architecture) or {}
        model.compile(optimizer="sgd", jit_compile=False, loss=dict.fromkeys(names, loss),
                      loss_weights={name: weights.get(name, 1.0) for name in names},
                      metrics={"output": [metric]})
        result = model.train_on_batch(x, dict.fromkeys(names, y), return_dict=True)
    _require(bool(np.isfinite(result["loss"])), label, f"one training step gave the loss {result['loss']}")
