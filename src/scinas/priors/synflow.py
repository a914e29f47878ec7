"""``"synflow"``: the data-free SynFlow saliency of the network at its random initialisation.

SynFlow (Tanaka et al. 2020, used as a zero-cost proxy by Abdelfattah et al. 2021) replaces every
weight by its absolute value, feeds one all-ones input, sums the outputs into ``R`` and scores the
network by ``Σ_θ |θ · ∂R/∂θ|`` over its trainable weights: how much signal the network, made
positive and linear, carries from input to output.  No data and no labels are needed; batch
normalisation runs in inference mode (at initialisation it only rescales).  The weights are
restored afterwards.  The score grows exponentially with depth, so ``log_scale = true`` (the
default) reports ``log10`` of it (same order); a score of 0 (no path from input to output) is
then ``-inf`` and recorded as unavailable.

Hand check, a network ``x ∈ R² → W₁ (2×2) → W₂ (2×1)`` without biases: with ``A = |W₁|``,
``b = |W₂|`` and ``h = 1ᵀA``, ``R = h·b`` and the score is ``Σ A_ij b_j + Σ h_j b_j = 2R``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from scinas.configurable import option
from scinas.priors.base import PRIORS, Prior, PriorUnavailable

__all__ = ["SynflowPrior"]


@dataclass(frozen=True)
class SynflowOptions:
    """``[X.search.prior]`` of ``name = "synflow"``."""

    log_scale: bool = option(True, doc="report log10 of the score (the same order; comparable across depths)")


@PRIORS.register("synflow")
class SynflowPrior(Prior):
    """SynFlow: ``Σ |θ · ∂R/∂θ|`` with absolute weights and an all-ones input (data-free)."""

    Options = SynflowOptions

    def score(self, model: keras.Model) -> float:
        weights = list(model.trainable_weights)
        if not weights:
            raise PriorUnavailable("the network has no trainable weights")
        saved = [w.numpy() for w in weights]
        try:
            for w, value in zip(weights, saved, strict=True):
                w.assign(np.abs(value))
            shape = tuple(int(d) for d in model.inputs[0].shape[1:])
            ones = tf.ones((1, *shape), dtype=model.inputs[0].dtype)
            with tf.GradientTape() as tape:
                total = tf.reduce_sum(tf.cast(model(ones, training=False), tf.float64))
            gradients = tape.gradient(total, [w.value for w in weights])
            value = sum(float(tf.reduce_sum(tf.abs(tf.cast(w.value, tf.float64) * tf.cast(g, tf.float64))))
                        for w, g in zip(weights, gradients, strict=True) if g is not None)
        finally:
            for w, value_before in zip(weights, saved, strict=True):
                w.assign(value_before)
        if not math.isfinite(value):
            raise PriorUnavailable(f"the score overflowed ({value})")
        if not self.options.log_scale:
            return value
        if value <= 0:
            raise PriorUnavailable("the score is 0: no signal reaches the output")
        return math.log10(value)
