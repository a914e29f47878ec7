"""The bilevel optimisation of a DARTS search: network weights on the training split, α on the
validation split, alternating step by step.

Each step first updates α with Adam on a validation batch, then the weights with SGD on a
training batch (both with L2 weight decay added to the gradient, and the weights' gradient
clipped by its global norm), as DARTS does.  The weights' learning rate follows a cosine from
``learning_rate`` to ``learning_rate_min`` over ``epochs`` (set once per epoch).

**First order** (``order = 1``) takes α's gradient of the validation loss at the current weights.
**Second order** (``order = 2``) takes the gradient of the validation loss *after* one virtual
SGD step of the weights, ``w' = w + μ·m - ξ·(∇_w L_train(w, α) + λ·w)`` (ξ the current learning
rate, μ the momentum, m the SGD momentum, λ the weight decay: exactly the next real step without
clipping).  By the chain rule that gradient is ``∇_α L_val(w', α) - ξ·∇²_{α,w} L_train(w, α)·∇_{w'}
L_val(w', α)``; the mixed second derivative times a vector is the finite difference
``(∇_α L_train(w⁺, α) - ∇_α L_train(w⁻, α)) / 2ε`` with ``w± = w ± ε·∇_{w'} L_val(w', α)`` and
``ε = r / ‖∇_{w'} L_val(w', α)‖`` (``hessian_epsilon``: r = 0.01, DARTS' choice, suits float32).  It
costs about three times the first-order step.  r = 0.01 is an approximation: on a tiny network
the product can be off by tens of percent, and it converges to the exact gradient as r shrinks
(``tests/training/test_bilevel.py`` checks both in float64).

The defaults are DARTS' (weights: SGD 0.025 → 0.001 cosine, momentum 0.9, weight decay 3e-4,
clip 5; α: Adam 3e-4, betas (0.5, 0.999), weight decay 1e-3).

Example::

    search = BilevelSearch(supernet, keras.losses.SparseCategoricalCrossentropy(), BilevelSettings(epochs=10))
    for epoch in range(10):
        search.train_epoch(epoch, zip(train_batches, validation_batches))
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from scinas.atomic import write_bytes_atomic, write_text_atomic
from scinas.models.supernet import Supernet

__all__ = ["BilevelSearch", "BilevelSettings"]

Loss = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class BilevelSettings:
    """The optimisers of a DARTS search (defaults: DARTS')."""

    epochs: int = 50
    order: int = 1
    learning_rate: float = 0.025
    learning_rate_min: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    arch_learning_rate: float = 3e-4
    arch_beta_1: float = 0.5
    arch_beta_2: float = 0.999
    arch_weight_decay: float = 1e-3
    hessian_epsilon: float = 0.01

    def __post_init__(self) -> None:
        if self.order not in (1, 2):
            raise ValueError(f"order must be 1 (first order) or 2 (unrolled), not {self.order!r}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, not {self.epochs}")

    def learning_rate_at(self, epoch: int) -> float:
        """The weights' learning rate during 0-based ``epoch`` (cosine annealing)."""
        progress = min(max(epoch, 0), self.epochs) / self.epochs
        return self.learning_rate_min + 0.5 * (self.learning_rate - self.learning_rate_min) * (
            1.0 + math.cos(math.pi * progress))


class BilevelSearch:
    """Trains a :class:`~scinas.models.supernet.Supernet` by the alternating updates described in
    the module docstring.  ``loss(y_true, y_pred)`` is the training loss (its mean over the batch)."""

    def __init__(self, model: Supernet, loss: Loss, settings: BilevelSettings, *, compiled: bool = True) -> None:
        """``compiled=False`` runs the steps eagerly (no tracing: quicker for a few steps of a tiny net)."""
        self.model = model
        self.compiled = compiled
        self.loss = loss
        self.settings = settings
        self.weight_optimizer = keras.optimizers.SGD(learning_rate=settings.learning_rate,
                                                     momentum=settings.momentum)
        self.arch_optimizer = keras.optimizers.Adam(learning_rate=settings.arch_learning_rate,
                                                    beta_1=settings.arch_beta_1, beta_2=settings.arch_beta_2)
        self._step: Callable[..., Any] | None = None
        self._momenta: dict[int, Any] = {}

    # ------------------------------------------------------------------ building

    def build(self, sample: Any) -> None:
        """Create every weight (a forward pass on ``sample``) and both optimisers' states."""
        if not self.model.built or not self.model.network_weights:
            self.model(sample, training=False)
        if not self.weight_optimizer.built:
            self.weight_optimizer.build(self.model.network_weights)
            if self.settings.momentum:
                self._momenta = {id(w): m for w, m in zip(self.model.network_weights, self.weight_optimizer.momentums,
                                                          strict=True)}
        if not self.arch_optimizer.built:
            self.arch_optimizer.build(self.model.architecture_weights)

    # ------------------------------------------------------------------ gradients

    def loss_of(self, x: Any, y: Any) -> Any:
        """The loss of one batch, in training mode (batch statistics, as during the search)."""
        return self.loss(y, self.model(x, training=True))

    def _weight_gradients(self, x: Any, y: Any) -> list[Any]:
        weights = self.model.network_weights
        with tf.GradientTape() as tape:
            loss = self.loss_of(x, y)
        gradients = tape.gradient(loss, weights)
        return [tf.zeros_like(w.value) if g is None else g for w, g in zip(weights, gradients, strict=True)]

    def _alpha_gradients(self, x: Any, y: Any) -> list[Any]:
        with tf.GradientTape() as tape:
            loss = self.loss_of(x, y)
        return list(tape.gradient(loss, self.model.architecture_weights))

    def _momentum_of(self, weight: Any) -> Any:
        """The SGD momentum of ``weight`` (zero before the first step, or without momentum)."""
        if not self._momenta:
            return tf.zeros_like(weight.value)
        return self._momenta[id(weight)].value

    def virtual_weights(self, x_train: Any, y_train: Any, learning_rate: Any) -> list[Any]:
        """``w'``: the weights after the next SGD step on ``(x_train, y_train)``, not applied."""
        weights = self.model.network_weights
        gradients = self._weight_gradients(x_train, y_train)
        decay, momentum = self.settings.weight_decay, self.settings.momentum
        return [w.value + momentum * self._momentum_of(w) - tf.cast(learning_rate, w.dtype) * (g + decay * w.value)
                for w, g in zip(weights, gradients, strict=True)]

    def architecture_gradients(self, x_train: Any, y_train: Any, x_val: Any, y_val: Any,
                               learning_rate: Any) -> list[Any]:
        """α's gradient of the validation loss, first or second order (``settings.order``), before
        weight decay."""
        if self.settings.order == 1:
            return self._alpha_gradients(x_val, y_val)
        weights = self.model.network_weights
        alphas = self.model.architecture_weights
        saved = [tf.identity(w.value) for w in weights]
        for weight, value in zip(weights, self.virtual_weights(x_train, y_train, learning_rate), strict=True):
            weight.assign(value)
        with tf.GradientTape(persistent=True) as tape:
            loss = self.loss_of(x_val, y_val)
        d_alpha = tape.gradient(loss, alphas)
        d_weights = [tf.zeros_like(w.value) if g is None else g
                     for w, g in zip(weights, tape.gradient(loss, weights), strict=True)]
        del tape
        epsilon = self.settings.hessian_epsilon / (tf.linalg.global_norm(d_weights) + 1e-12)
        for weight, value, direction in zip(weights, saved, d_weights, strict=True):
            weight.assign(value + epsilon * direction)
        plus = self._alpha_gradients(x_train, y_train)
        for weight, value, direction in zip(weights, saved, d_weights, strict=True):
            weight.assign(value - epsilon * direction)
        minus = self._alpha_gradients(x_train, y_train)
        for weight, value in zip(weights, saved, strict=True):
            weight.assign(value)
        return [d - tf.cast(learning_rate, d.dtype) * (p - m) / (2.0 * tf.cast(epsilon, d.dtype))
                for d, p, m in zip(d_alpha, plus, minus, strict=True)]

    # ------------------------------------------------------------------ steps

    def _train_step(self, x_train: Any, y_train: Any, x_val: Any, y_val: Any, learning_rate: Any) -> Any:
        alphas = self.model.architecture_weights
        gradients = self.architecture_gradients(x_train, y_train, x_val, y_val, learning_rate)
        decay = self.settings.arch_weight_decay
        self.arch_optimizer.apply_gradients([(g + decay * a.value, a) for g, a in zip(gradients, alphas, strict=True)])
        weights = self.model.network_weights
        with tf.GradientTape() as tape:
            loss = self.loss_of(x_train, y_train)
        gradients = [tf.zeros_like(w.value) if g is None else g + self.settings.weight_decay * w.value
                     for w, g in zip(weights, tape.gradient(loss, weights), strict=True)]
        gradients, _ = tf.clip_by_global_norm(gradients, self.settings.grad_clip)
        self.weight_optimizer.apply_gradients(zip(gradients, weights, strict=True))
        return loss

    def train_step(self, x_train: Any, y_train: Any, x_val: Any, y_val: Any) -> float:
        """One α step then one weights step; returns the training batch's loss."""
        if self._step is None:
            self._step = tf.function(self._train_step, reduce_retracing=True) if self.compiled else self._train_step
        learning_rate = tf.constant(float(keras.ops.convert_to_numpy(self.weight_optimizer.learning_rate)),
                                    dtype=tf.float32)
        return float(self._step(x_train, y_train, x_val, y_val, learning_rate))

    def train_epoch(self, epoch: int, batches: Iterable[tuple[tuple[Any, Any], tuple[Any, Any]]]) -> float:
        """Train 0-based ``epoch`` over ``((x_train, y_train), (x_val, y_val))`` pairs; returns the
        mean training loss."""
        self.weight_optimizer.learning_rate.assign(self.settings.learning_rate_at(epoch))
        losses = []
        for (x_train, y_train), (x_val, y_val) in batches:
            self.build(x_train)
            losses.append(self.train_step(x_train, y_train, x_val, y_val))
        return float(np.mean(losses)) if losses else math.nan

    # ------------------------------------------------------------------ state

    def save(self, directory: Path, extra: dict[str, Any] | None = None) -> None:
        """Weights, α, both optimisers' states and ``extra`` (JSON) into ``directory``; the JSON
        file is written last, so a directory with it holds a complete state."""
        directory.mkdir(parents=True, exist_ok=True)
        self.model.save_weights(str(directory / "supernet.weights.h5"))
        for name, optimizer in (("weights", self.weight_optimizer), ("alpha", self.arch_optimizer)):
            arrays = {f"v{i}": keras.ops.convert_to_numpy(v) for i, v in enumerate(optimizer.variables)}
            buffer = io.BytesIO()
            np.savez(buffer, **arrays)  # type: ignore[arg-type]
            write_bytes_atomic(directory / f"optimizer_{name}.npz", buffer.getvalue())
        write_text_atomic(directory / "state.json",
                          json.dumps({"settings": asdict(self.settings), **(extra or {})}, indent=2))

    def load(self, directory: Path, sample: Any) -> dict[str, Any]:
        """Restore what :meth:`save` wrote (``sample``: one input batch, to build the model);
        returns its ``extra``."""
        self.build(sample)
        self.model.load_weights(str(directory / "supernet.weights.h5"))
        for name, optimizer in (("weights", self.weight_optimizer), ("alpha", self.arch_optimizer)):
            with np.load(directory / f"optimizer_{name}.npz", allow_pickle=False) as arrays:
                for i, variable in enumerate(optimizer.variables):
                    variable.assign(arrays[f"v{i}"])
        state = json.loads((directory / "state.json").read_text())
        state.pop("settings", None)
        return dict(state)
