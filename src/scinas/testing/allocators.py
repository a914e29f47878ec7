"""The conformance suite of :class:`~scinas.search_space.operators.base.OpAllocator` families.

Every operator family, built-in or contributed, should pass :func:`check_allocator` on a few of
its operator strings.  For each string it checks the contract the model generator relies on:

* the allocator parses the string into a frozen, hashable spec of its family and rank whose
  canonical ``text`` parses back to the same spec (and, when the family is registered,
  :func:`~scinas.search_space.operators.grammar.parse_operator` agrees);
* for the normal, adaptation and reduction variants (strides 2 and 3) on every size (odd sizes
  included), the built layer maps ``(batch, *spatial, in_channels)`` to
  ``(batch, *ceil(spatial / strides), filters)`` with finite float32 values,
  ``compute_output_shape`` agrees, and ``count_params`` equals Keras' count after the build;
* ``get_config`` / ``from_config`` round-trips to the same (JSON-serialisable) config;
* a small functional model holding the layer is saved to a ``.keras`` file and reloaded with
  identical outputs, and one training step (``train_on_batch``, MSE, SGD; compiled into a graph
  for the reduction variant, eager otherwise to save tracing time) keeps the loss finite and
  changes the weights;
* under a global ``mixed_float16`` policy, and when constructed with ``dtype="mixed_float16"``,
  the layer computes in float16, keeps float32 weights and returns finite values.

Example (in a test module)::

    def test_my_family_conforms():
        check_allocator(MyAllocator(), ["3x3 myop", "5x5 myop"], rank=2)
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from scinas.search_space.operators import (
    ALLOCATORS,
    LayerRequest,
    OpAllocator,
    OpSpec,
    normalize_operator_text,
    parse_operator,
)

__all__ = ["DEFAULT_SIZES", "check_allocator", "expected_output_shape"]

DEFAULT_SIZES: dict[int, tuple[tuple[int, ...], ...]] = {2: ((8, 8), (7, 9)), 1: ((12,), (13,))}
"""Spatial sizes tried by default: one even and one odd (and non-square) per rank."""


def expected_output_shape(batch: int, size: Sequence[int], request: LayerRequest) -> tuple[int, ...]:
    """The contract: each spatial size ``n`` becomes ``ceil(n / strides)``, the channels ``filters``."""
    return (batch, *(-(-n // request.strides) for n in size), request.filters)


def _require(condition: bool, label: str, message: str) -> None:
    if not condition:
        raise AssertionError(f"{label}: {message}")


def _requests(rank: int, channels: int, filters: int, strides: Sequence[int]) -> list[LayerRequest]:
    requests = [
        LayerRequest(rank=rank, in_channels=channels, filters=channels, name="op_normal"),
        LayerRequest(rank=rank, in_channels=channels, filters=filters, name="op_adaptation"),
        LayerRequest(rank=rank, in_channels=channels, filters=channels, strides=2, name="op_reduction_same"),
    ]
    requests += [
        LayerRequest(rank=rank, in_channels=channels, filters=filters, strides=s, name=f"op_reduction_{s}")
        for s in strides
    ]
    return requests


def _check_spec(allocator: OpAllocator[Any], text: str, rank: int, label: str) -> OpSpec:
    _require(bool(allocator.family), label, "the class attribute `family` must be set")
    _require(bool(allocator.forms), label, "the class attribute `forms` must list the valid forms")
    _require(rank in allocator.ranks, label, f"the family does not support rank {rank} (ranks: {allocator.ranks})")
    spec: OpSpec | None = allocator.parse(normalize_operator_text(text), rank)
    _require(spec is not None, label, "parse() returned None for an operator of its own family")
    assert spec is not None  # narrowing for type checkers; _require already raised
    _require(isinstance(spec, OpSpec), label, f"parse() must return an OpSpec, not {type(spec).__name__}")
    _require(spec.family == allocator.family, label, f"spec.family is {spec.family!r}, not {allocator.family!r}")
    _require(spec.rank == rank, label, f"spec.rank is {spec.rank}, not {rank}")
    try:
        hash(spec)
    except TypeError as error:
        raise AssertionError(f"{label}: specs must be frozen and hashable ({error})") from None
    again = allocator.parse(spec.text, rank)
    _require(again == spec, label, f"the canonical text {spec.text!r} parses to {again!r}, not to the same spec")
    if allocator.family in ALLOCATORS and ALLOCATORS.get(allocator.family) is type(allocator):
        through_grammar = parse_operator(text, rank)
        _require(through_grammar == spec, label, f"parse_operator gives {through_grammar!r}, the allocator {spec!r}")
    return spec


def _inputs(rng: np.random.Generator, batch: int, size: Sequence[int], channels: int) -> np.ndarray[Any, Any]:
    return rng.normal(size=(batch, *size, channels)).astype("float32")


def _check_build(
    allocator: OpAllocator[Any], spec: OpSpec, request: LayerRequest, x: np.ndarray[Any, Any], label: str
) -> keras.layers.Layer:
    layer = allocator.build(spec, request)
    _require(isinstance(layer, keras.layers.Layer), label, f"build() must return a keras Layer, not {type(layer)}")
    y = keras.ops.convert_to_numpy(layer(x))
    expected = expected_output_shape(x.shape[0], x.shape[1:-1], request)
    _require(tuple(y.shape) == expected, label, f"output shape {tuple(y.shape)}, expected {expected} (the contract: "
             "each spatial size n becomes ceil(n / strides), channels become filters)")
    _require(y.dtype == np.float32, label, f"output dtype {y.dtype} under the float32 policy")
    _require(bool(np.all(np.isfinite(y))), label, "the output has NaN or infinite values")
    try:
        declared: tuple[int, ...] | None = tuple(layer.compute_output_shape(tuple(x.shape)))
    except NotImplementedError:
        declared = None  # optional: Keras traces call() instead
    _require(declared in (None, expected), label,
             f"compute_output_shape gives {declared}, the layer returns {expected}")
    counted, analytic = layer.count_params(), allocator.count_params(spec, request)
    _require(counted == analytic, label, f"count_params() = {analytic} but the built layer has {counted} weights")
    return layer


def _check_config(layer: keras.layers.Layer, label: str) -> None:
    config = layer.get_config()
    try:
        json.dumps(config)
    except TypeError as error:
        raise AssertionError(f"{label}: get_config() is not JSON-serialisable ({error})") from None
    try:
        clone = type(layer).from_config(config)
    except Exception as error:  # any failure here is the contract's breach, reported as such
        raise AssertionError(f"{label}: from_config(get_config()) fails: {error!r}") from error
    _require(clone.get_config() == config, label,
             f"from_config(get_config()) changes the config:\n{config}\n!=\n{clone.get_config()}")


def _check_save_and_train(
    allocator: OpAllocator[Any], spec: OpSpec, request: LayerRequest, x: np.ndarray[Any, Any],
    folder: Path, label: str, *, graph: bool,
) -> None:
    """Save/reload a one-layer functional model, then take one MSE training step (compiled into a
    graph when ``graph``, eagerly otherwise: tracing costs a few tenths of a second)."""
    inputs = keras.Input(shape=x.shape[1:])
    model = keras.Model(inputs, allocator.build(spec, request)(inputs))
    before = keras.ops.convert_to_numpy(model(x, training=False))
    path = folder / f"{request.name}.keras"
    try:
        model.save(path)
        reloaded = keras.saving.load_model(path)
    except Exception as error:  # reported with the likely fix
        raise AssertionError(
            f"{label}: a model holding the layer does not round-trip through a .keras file ({error!r}); "
            'register its class with keras.saving.register_keras_serializable(package="...") and '
            "make get_config() return every constructor argument"
        ) from error
    after = keras.ops.convert_to_numpy(reloaded(x, training=False))
    _require(np.allclose(before, after, rtol=1e-5, atol=1e-6), label,
             f"the reloaded .keras model gives other outputs (max difference {np.max(np.abs(before - after))})")

    weights = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    if not weights:
        return  # nothing to train (a pooling or identity that keeps its shape)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="mse", run_eagerly=not graph)
    loss = float(model.train_on_batch(x, np.zeros_like(before)))
    _require(bool(np.isfinite(loss)), label, f"one training step gives a non-finite loss ({loss})")
    changed = any(
        not np.array_equal(old, keras.ops.convert_to_numpy(new))
        for old, new in zip(weights, model.trainable_weights, strict=True)
    )
    _require(changed, label, "one training step left every trainable weight unchanged (no gradient flows)")


def _check_mixed_precision(
    allocator: OpAllocator[Any], spec: OpSpec, request: LayerRequest, x: np.ndarray[Any, Any], label: str
) -> None:
    expected = expected_output_shape(x.shape[0], x.shape[1:-1], request)
    previous = keras.config.dtype_policy()
    try:
        keras.config.set_dtype_policy("mixed_float16")
        layer = allocator.build(spec, request)
        y = layer(x)
    finally:
        keras.config.set_dtype_policy(previous)
    _check_half(layer, y, expected, label + " [global mixed_float16 policy]")

    config = layer.get_config()
    config["dtype"] = "mixed_float16"
    constructed = type(layer).from_config(config)
    _check_half(constructed, constructed(x), expected, label + ' [dtype="mixed_float16"]')


def _check_half(layer: keras.layers.Layer, y: Any, expected: tuple[int, ...], label: str) -> None:
    dtype = keras.backend.standardize_dtype(y.dtype)
    _require(dtype == "float16", label, f"outputs are {dtype}, expected float16 (compute dtype)")
    _require(tuple(y.shape) == expected, label, f"output shape {tuple(y.shape)}, expected {expected}")
    values = keras.ops.convert_to_numpy(y)
    _require(bool(np.all(np.isfinite(values))), label, "NaN or infinite outputs in float16")
    for weight in layer.weights:
        weight_dtype = keras.backend.standardize_dtype(weight.dtype)
        _require(weight_dtype == "float32", label, f"weight {weight.path} is {weight_dtype}, expected float32")


def check_allocator(
    allocator: OpAllocator[Any],
    operators: Sequence[str],
    *,
    rank: int,
    sizes: Sequence[tuple[int, ...]] | None = None,
    channels: int = 4,
    filters: int = 8,
    strides: Sequence[int] = (2, 3),
    batch: int = 2,
    seed: int = 0,
    save_and_train: bool = True,
) -> None:
    """Raise AssertionError, naming the operator, variant and broken rule, unless ``allocator``
    honours the operator contract for every string of ``operators`` on inputs of ``rank``.

    ``sizes``: spatial sizes to try (default :data:`DEFAULT_SIZES`, an even and an odd one);
    ``channels``: input channels; ``filters``: output channels of the adaptation and reduction
    variants (the normal variant keeps ``channels``); ``strides``: reduction factors tried.
    ``save_and_train=False`` skips the slower ``.keras`` round trip and training step.
    """
    _require(rank in DEFAULT_SIZES, type(allocator).__name__, f"rank must be 1 or 2, not {rank}")
    _require(len(operators) > 0, type(allocator).__name__, "give at least one operator string")
    _require(len(strides) > 0 and min(strides) >= 2, type(allocator).__name__, "strides must be factors >= 2")
    _require(channels != filters, type(allocator).__name__, "channels and filters must differ (adaptation)")
    rng = np.random.default_rng(seed)
    chosen_sizes = tuple(sizes) if sizes is not None else DEFAULT_SIZES[rank]
    for size in chosen_sizes:
        _require(len(size) == rank, type(allocator).__name__, f"size {size} does not have {rank} dimensions")
    with tempfile.TemporaryDirectory(prefix="scinas-check-allocator-") as folder:
        for text in operators:
            spec = _check_spec(allocator, text, rank, f"{allocator.family} {text!r} (rank {rank})")
            for request in _requests(rank, channels, filters, strides):
                for index, size in enumerate(chosen_sizes):
                    label = (f"{allocator.family} {text!r}, {request.variant.value} variant "
                             f"(in {request.in_channels}, filters {request.filters}, strides {request.strides}), "
                             f"size {size}")
                    x = _inputs(rng, batch, size, request.in_channels)
                    layer = _check_build(allocator, spec, request, x, label)
                    if index > 0 or request.strides not in (1, strides[0]):
                        continue  # the slower checks: once per variant, on the first size
                    _check_config(layer, label)
                    _check_mixed_precision(allocator, spec, request, x, label)
                    if save_and_train:
                        graph = request.name == f"op_reduction_{strides[0]}"
                        _check_save_and_train(allocator, spec, request, x, Path(folder), label, graph=graph)
