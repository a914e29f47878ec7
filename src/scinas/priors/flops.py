"""``"flops"``: multiply-adds of one sample's forward pass, counted layer by layer from the built network.

Convolutions count ``output positions × kernel size × input channels × filters / groups``
(depthwise: × depth multiplier instead of filters; separable: depthwise plus pointwise), dense
layers ``inputs × units`` per position, batch normalisation, pooling and element-wise layers one
per output value, layers without weights and without a rule (reshapes, activations, merges,
inputs) none.  A layer *with* weights of a type without a rule has no FLOP count: with
``unknown_layers = "unavailable"`` (the default) the candidate's prior is recorded as unavailable
(:class:`~scinas.priors.PriorUnavailable`), with ``"ignore"`` that layer counts 0.  Nested models
are walked.  This is a layer count, fast enough for thousands of candidates; the trials' own
FLOPs (:func:`scinas.models.costs.count_flops`) come from TensorFlow's profiler instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import keras

from scinas.configurable import option
from scinas.priors.base import PRIORS, Prior, PriorUnavailable

__all__ = ["FlopsPrior", "layer_flops"]


def _positions(shape: Any) -> int:
    """Spatial positions of an output shape ``(batch, *space, channels)`` (1 for ``(batch, channels)``)."""
    return math.prod(int(d) for d in shape[1:-1]) if len(shape) > 2 else 1


def _size(shape: Any) -> int:
    return math.prod(int(d) for d in shape[1:])


def layer_flops(layer: keras.layers.Layer, unknown: str = "unavailable") -> float:
    """Multiply-adds of ``layer`` for one sample (see the module docstring)."""
    if isinstance(layer, keras.Model):
        return sum(layer_flops(inner, unknown) for inner in layer.layers)
    layers = keras.layers
    if isinstance(layer, layers.InputLayer):
        return 0.0
    out_shape = layer.output.shape
    if isinstance(layer, layers.SeparableConv1D | layers.SeparableConv2D):
        kernel = math.prod(layer.kernel_size)
        channels = int(layer.input.shape[-1])
        return float(_positions(out_shape) * channels * layer.depth_multiplier * (kernel + layer.filters))
    if isinstance(layer, layers.DepthwiseConv1D | layers.DepthwiseConv2D):
        kernel = math.prod(layer.kernel_size)
        return float(_positions(out_shape) * kernel * int(layer.input.shape[-1]) * layer.depth_multiplier)
    if isinstance(layer, layers.Conv1D | layers.Conv2D | layers.Conv3D):
        kernel = math.prod(layer.kernel_size)
        channels = int(layer.input.shape[-1]) // layer.groups
        return float(_positions(out_shape) * kernel * channels * layer.filters)
    if isinstance(layer, layers.Dense):
        return float(_positions(out_shape) * int(layer.input.shape[-1]) * layer.units)
    if isinstance(layer, layers.BatchNormalization | layers.LayerNormalization | layers.AveragePooling1D
                  | layers.AveragePooling2D | layers.MaxPooling1D | layers.MaxPooling2D | layers.Add):
        return float(_size(out_shape))
    if layer.weights:
        if unknown == "ignore":
            return 0.0
        raise PriorUnavailable(f"no FLOP count for a {type(layer).__name__} layer ({layer.name}); "
                               'set unknown_layers = "ignore" to count it as 0')
    return 0.0


@dataclass(frozen=True)
class FlopsOptions:
    """``[X.search.prior]`` of ``name = "flops"``."""

    unknown_layers: str = option("unavailable", choices=("unavailable", "ignore"),
                                 doc="a layer with weights of a type without a FLOP rule: the candidate's prior is "
                                 "unavailable, or the layer counts 0")


@PRIORS.register("flops")
class FlopsPrior(Prior):
    """Multiply-adds of one sample's forward pass, counted per layer (convolutions, dense, normalisation, pooling)."""

    Options = FlopsOptions

    def score(self, model: keras.Model) -> float:
        return float(sum(layer_flops(layer, self.options.unknown_layers) for layer in model.layers))
