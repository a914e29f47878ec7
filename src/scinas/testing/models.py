"""The conformance suite of :class:`~scinas.models.base.ModelGenerator` implementations.

:func:`check_model_generator` builds every architecture on every dataset description and checks
what the trainer, the store and the exporters rely on:

* ``build`` returns a ``keras.Model`` with the requested name and the dataset's input shape;
* its (last) output has shape ``(batch, n_classes)`` with rows of probabilities summing to 1 for
  classification, ``(batch, *target_shape)`` (``(batch, n_targets)`` for targets of at most one
  dimension) for regression; every output is float32, also under the ``mixed_float16`` policy;
* ``count_params`` equals ``model.count_params()`` whenever it is not ``None``;
* ``loss_weights`` (when not ``None``) names exactly the model's outputs;
* the model saves to ``.keras`` and reloads (without custom objects passed in, so custom layers
  must be registered serialisable) with identical outputs;
* one training step runs and gives a finite loss.

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
    weights = generator.loss_weights(architecture)
    if weights is not None:
        _require(set(weights) == set(model.output_names), label,
                 f"loss_weights() names {sorted(weights)} but the outputs are {model.output_names}")
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
    for a, b in zip(before, after, strict=True):
        _require(bool(np.allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)), label,
                 "the reloaded model computes other outputs than the saved one")


def _check_training_step(generator: ModelGenerator, model: keras.Model, architecture: Architecture,
                         info: DatasetInfo, x: np.ndarray, rng: np.random.Generator, label: str) -> None:
    batch = x.shape[0]
    if info.task == "classification":
        y = np.asarray(rng.integers(0, int(info.n_classes or 2), size=batch))
        loss = "sparse_categorical_crossentropy"
    else:
        y = rng.standard_normal((batch, *info.target_shape) if info.target_shape else (batch, 1)).astype("float32")
        if len(info.target_shape) <= 1:
            y = y.reshape(batch, -1)
        loss = "mse"
    n_outputs = len(model.outputs)
    weights = generator.loss_weights(architecture)
    model.compile(optimizer="sgd", jit_compile=False, loss=[loss] * n_outputs if n_outputs > 1 else loss,
                  loss_weights=[weights[name] for name in model.output_names] if weights and n_outputs > 1 else None)
    result = model.train_on_batch(x, [y] * n_outputs if n_outputs > 1 else y, return_dict=True)
    _require(bool(np.isfinite(result["loss"])), label, f"one training step gave the loss {result['loss']}")
