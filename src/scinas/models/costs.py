"""Cost measures of a model: parameters, FLOPs per sample and inference latency.

These are the "cheap" side of a Pareto search (accuracy vs cost), so they are measured the same
way for every trial:

* **parameters** — ``model.count_params()`` (trainable and not, as Keras counts them);
* **FLOPs** — floating-point operations of one sample's forward pass (inference mode), counted
  by TensorFlow's profiler on the traced graph of the model at batch size 1.  A multiply-add
  counts as 2, as in the profiler and in most papers; operations without a registered count
  (pooling maxima, reshapes) count 0;
* **latency** — wall time of one inference call (``model(x, training=False)`` inside a compiled
  ``tf.function``) on a batch of ``batch_size`` random inputs: ``warmup`` calls are run and
  discarded (tracing, allocation), then the median of ``repeats`` timed calls is reported.

Example::

    costs = measure_costs(model, CostConfig(latency_batch_size=32))
    costs.params, costs.flops, costs.latency_s
"""

from __future__ import annotations

import logging
import statistics
import time
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from scinas.config.experiment import CostConfig

__all__ = ["ModelCosts", "count_flops", "measure_costs", "measure_latency"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelCosts:
    """What :func:`measure_costs` found; ``None`` for a measure that was switched off or failed."""

    params: int
    flops: float | None
    latency_s: float | None

    def as_fields(self) -> dict[str, Any]:
        """The store's trial columns."""
        return {"params": self.params, "flops": self.flops, "latency_s": self.latency_s}


def _input_specs(model: keras.Model, batch_size: int) -> list[tf.TensorSpec]:
    specs = []
    for tensor in model.inputs:
        shape = tuple(tensor.shape[1:])
        if any(dim is None for dim in shape):
            raise ValueError(f"costs need fully defined input shapes; {model.name} has input shape {shape}")
        specs.append(tf.TensorSpec((batch_size, *shape), tf.as_dtype(tensor.dtype)))
    return specs


def _inference_function(model: keras.Model) -> Any:
    single = len(model.inputs) == 1

    def forward(*inputs: tf.Tensor) -> Any:
        return model(inputs[0] if single else list(inputs), training=False)

    return tf.function(forward)


def count_flops(model: keras.Model) -> float:
    """Floating-point operations of one sample's inference pass (see the module docstring)."""
    concrete = _inference_function(model).get_concrete_function(*_input_specs(model, 1))
    builder = tf.compat.v1.profiler.ProfileOptionBuilder
    options = builder(builder.float_operation()).with_empty_output().build()
    tf_logger = logging.getLogger("tensorflow")
    level = tf_logger.level
    tf_logger.setLevel(logging.ERROR)  # the v1 profiler logs a deprecation notice on every call
    try:
        profile = tf.compat.v1.profiler.profile(graph=concrete.graph, options=options)
    finally:
        tf_logger.setLevel(level)
    return float(profile.total_float_ops)


def measure_latency(model: keras.Model, *, batch_size: int = 1, warmup: int = 3, repeats: int = 20,
                    seed: int = 0) -> float:
    """Median seconds of one inference call on a batch of ``batch_size`` (warm-up calls excluded)."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, not {repeats}")
    rng = np.random.default_rng(seed)
    inputs = [tf.constant(rng.standard_normal(spec.shape).astype(spec.dtype.as_numpy_dtype))
              for spec in _input_specs(model, batch_size)]
    forward = _inference_function(model)
    for _ in range(max(warmup, 1)):  # at least one call: tracing must never be timed
        _block(forward(*inputs))
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        _block(forward(*inputs))
        timings.append(time.perf_counter() - started)
    return float(statistics.median(timings))


def _block(outputs: Any) -> None:
    """Wait for the computation (GPU kernels run asynchronously) by reading the outputs back."""
    for tensor in tf.nest.flatten(outputs):
        tensor.numpy()


def measure_costs(model: keras.Model, config: CostConfig | None = None) -> ModelCosts:
    """Parameters, FLOPs and latency of ``model`` as ``config`` asks.

    A FLOP count or latency that cannot be measured (an operation the tracer cannot handle) is
    logged and left ``None``; it never fails the trial it belongs to.
    """
    config = config or CostConfig()
    flops = latency = None
    if config.flops:
        try:
            flops = count_flops(model)
        except (ValueError, TypeError, tf.errors.OpError) as exc:
            logger.warning("FLOPs of %s could not be counted: %s", model.name, exc)
    if config.latency:
        try:
            latency = measure_latency(model, batch_size=config.latency_batch_size, warmup=config.latency_warmup,
                                      repeats=config.latency_repeats)
        except (ValueError, TypeError, tf.errors.OpError) as exc:
            logger.warning("latency of %s could not be measured: %s", model.name, exc)
    return ModelCosts(int(model.count_params()), flops, latency)
