"""A graph isomorphism network (GIN) ensemble: the accuracy predictor of a cell-based search.

Each cell is a small directed graph (:class:`~scinas.search_space.encoding.CellGraph`): one-hot
node labels (operators, inputs, joins) and an adjacency matrix.  Three GIN layers (30, 60 and 120
units, swish) update every node from itself and its neighbours,
``h ← swish(W · ((1 + ε) h + Σ neighbours h) + b)``, a masked mean pools the nodes, and a dense
layer of 100 units and a linear unit give the score.  Targets are standardised over the training
set and unscaled on predict, so any score range works (accuracy in 0–1 or percent, R², −MSE).

``ensemble = k ≥ 2`` trains k models, model i on every fold but fold i of a k-fold split, and
averages their predictions (fewer training graphs than k: each model sees all of them); ``ensemble
= 1`` trains one model on everything.  All members are trained *together* as one stacked model
(each weight has a leading member axis and each member gets its own batches), which on a CPU
costs little more than training one: the per-step overhead, not the arithmetic, dominates graphs
this small.  Training: MSE, AdamW (weight decay 5e-4, not on biases and ε) with a cosine-decayed
learning rate from 5e-3, batch 16.

Deterministic for a seed: the initial weights and the batch order come from a NumPy generator
seeded by ``seed``, and no global random state (NumPy's, Python's, Keras's) is read or changed.

Example::

    predictor = GINPredictor(domain.max_nodes, ensemble=5, epochs=80, seed=0)
    predictor.fit([domain.graph(a) for a in trained], accuracies)
    predictor.predict([domain.graph(a) for a in candidates])     # shape [len(candidates)]
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import keras
import numpy as np
import tensorflow as tf

from scinas.configurable import option, options_table
from scinas.errors import ConfigError
from scinas.interrupt import check_interrupt
from scinas.predictors.base import PREDICTORS, Predictor, SearchSettings, check_fit_inputs
from scinas.search_space.encoding import CellGraph, batch_graphs

__all__ = ["AGGREGATIONS", "LOSSES", "GINPredictor"]

logger = logging.getLogger(__name__)

Aggregation = Literal["in", "out", "both", "split"]
#: How a node gathers its neighbours: ``in`` from its predecessors (along the edges), ``out``
#: from its successors, ``both`` from either (the graph made undirected), ``split`` predecessors
#: and successors through separate weights.
AGGREGATIONS: tuple[str, ...] = ("in", "out", "both", "split")

#: Graphs pushed through the network at once when predicting (bounds memory for huge candidate sets).
_PREDICT_CHUNK = 2048


def _glorot(rng: np.random.Generator, members: int, fan_in: int, fan_out: int) -> np.ndarray:
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=(members, fan_in, fan_out)).astype(np.float32)


class _StackedGIN(keras.layers.Layer):
    """``members`` independent GIN regressors with their weights stacked on a leading axis.

    ``call(features [E, B, N, F], propagation [E, B, P, N, N], mask [E, B, N]) -> [E, B]`` where
    ``propagation[..., p, i, j]`` says how much node ``j`` sends to node ``i`` through channel p.
    """

    def __init__(self, members: int, n_features: int, channels: int, units: Sequence[int], hidden: int,
                 seed: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        rng = np.random.default_rng(seed)
        self.channels = channels

        def weight(name: str, value: np.ndarray) -> keras.Variable:
            return self.add_weight(name=name, shape=value.shape, initializer=lambda shape, dtype=None: value,
                                   trainable=True, dtype="float32")

        self.gin: list[tuple[keras.Variable, keras.Variable, keras.Variable]] = []
        width = n_features
        for layer, size in enumerate(units):
            kernel = weight(f"gin{layer}_kernel", _glorot(rng, members, channels * width, size))
            bias = weight(f"gin{layer}_bias", np.zeros((members, 1, 1, size), np.float32))
            eps = weight(f"gin{layer}_eps", np.zeros((members, 1, 1, 1), np.float32))
            self.gin.append((kernel, bias, eps))
            width = size
        self.hidden_kernel = weight("hidden_kernel", _glorot(rng, members, width, hidden))
        self.hidden_bias = weight("hidden_bias", np.zeros((members, 1, hidden), np.float32))
        self.out_kernel = weight("out_kernel", _glorot(rng, members, hidden, 1))
        self.out_bias = weight("out_bias", np.zeros((members, 1, 1), np.float32))

    def call(self, features: Any, propagation: Any, mask: Any) -> Any:
        ops = keras.ops
        node_mask = ops.expand_dims(mask, -1)
        h = features
        for kernel, bias, eps in self.gin:
            # Channel 0 carries the node itself scaled by (1 + eps); other channels only neighbours.
            gathered = [ops.einsum("ebij,ebjf->ebif", propagation[:, :, p], h) for p in range(self.channels)]
            gathered[0] = gathered[0] + (1.0 + eps) * h
            mixed = gathered[0] if self.channels == 1 else ops.concatenate(gathered, axis=-1)
            h = ops.silu(ops.einsum("ebnf,efo->ebno", mixed, kernel) + bias) * node_mask
        pooled = ops.sum(h, axis=2) / ops.maximum(ops.sum(node_mask, axis=2), 1.0)
        hidden = ops.silu(ops.einsum("ebf,efo->ebo", pooled, self.hidden_kernel) + self.hidden_bias)
        return (ops.einsum("ebf,efo->ebo", hidden, self.out_kernel) + self.out_bias)[..., 0]


def _batch_loss(predicted: tf.Tensor, target: tf.Tensor, weight: tf.Tensor, kind: str) -> tf.Tensor:
    """The summed loss of every member over its batch (``[E, B]`` each; padding has weight 0).

    ``mse``: the weighted mean squared error; ``ranking``: the pairwise logistic loss over the
    ordered pairs of the batch, ``log(1 + exp(-(p_i - p_j)))`` for every pair with ``y_i > y_j``
    (only the order is learnt); ``mse+ranking``: their sum (the order, anchored to the scale).
    """
    total = tf.constant(0.0)
    if kind in ("mse", "mse+ranking"):
        error = tf.square(predicted - target) * weight
        total += tf.reduce_sum(tf.reduce_sum(error, axis=1) / tf.maximum(tf.reduce_sum(weight, axis=1), 1.0))
    if kind in ("ranking", "mse+ranking"):
        ordered = tf.cast(target[:, :, None] > target[:, None, :], tf.float32) * weight[:, :, None] * weight[:, None, :]
        pairs = tf.nn.softplus(-(predicted[:, :, None] - predicted[:, None, :])) * ordered
        total += tf.reduce_sum(tf.reduce_sum(pairs, axis=[1, 2]) / tf.maximum(tf.reduce_sum(ordered, axis=[1, 2]), 1.0))
    return total


#: The training losses of the GIN (see :func:`_batch_loss`).
LOSSES: tuple[str, ...] = ("mse", "ranking", "mse+ranking")


@dataclass(frozen=True)
class GINOptions:
    """``[X.search.predictor]`` of ``name = "gin"``: the hyperparameters of :class:`GINPredictor`."""

    ensemble: int = option(5, minimum=1, doc="networks averaged (k-fold: each trained on all folds but one)")
    epochs: int = option(80, minimum=1, doc="training epochs of every network")
    batch_size: int = option(16, minimum=1, doc="graphs per training batch")
    learning_rate: float = option(5e-3, minimum=0, exclusive_minimum=True, doc="initial learning rate of AdamW "
                                  "(cosine-decayed to 0)")
    weight_decay: float = option(5e-4, minimum=0, doc="AdamW weight decay (not on biases and epsilons)")
    units: tuple[int, ...] = option((30, 60, 120), minimum=1, doc="widths of the GIN layers, one per layer")
    hidden: int = option(100, minimum=1, doc="width of the dense layer after pooling")
    aggregation: str = option("split", choices=AGGREGATIONS, doc="how a node gathers its neighbours: in "
                              "(predecessors), out (successors), both, split (each through its own weights)")
    loss: str = option("mse", choices=LOSSES, doc="training loss: mse, ranking (pairwise logistic: only the order "
                       "of the scores is learnt) or mse+ranking")

    def check(self) -> None:
        if not self.units:
            raise ConfigError("expected at least one GIN layer width", path="units", value=[],
                              fix="write e.g. units = [30, 60, 120]")


@PREDICTORS.register("gin")
class GINPredictor(Predictor):
    """A k-fold ensemble of GIN regressors over cell graphs (see the module docstring).

    ``max_nodes`` pads every graph (a wider graph is a ValueError); ``units`` are the GIN layers'
    widths, ``hidden`` the dense layer's; ``aggregation`` one of :data:`AGGREGATIONS`.  The other
    arguments are its TOML options (:class:`GINOptions`).
    """

    name = "gin"

    encoding = "graph"
    Options: ClassVar[type[Any]] = GINOptions
    search_shorthands: ClassVar[dict[str, str]] = {"predictor_epochs": "epochs", "predictor_ensemble": "ensemble"}

    @classmethod
    def for_search(cls, settings: SearchSettings, options: Any) -> GINPredictor:
        """The ensemble ``options`` (a :class:`GINOptions`) describe, over graphs of ``max_nodes``."""
        return cls(settings.max_nodes, seed=settings.seed, **options_table(options))

    def __init__(self, max_nodes: int, *, ensemble: int = 5, epochs: int = 80, batch_size: int = 16, seed: int = 0,
                 learning_rate: float = 5e-3, weight_decay: float = 5e-4, units: Sequence[int] = (30, 60, 120),
                 hidden: int = 100, aggregation: Aggregation = "split", loss: str = "mse") -> None:
        for what, value in (("max_nodes", max_nodes), ("ensemble", ensemble), ("epochs", epochs),
                            ("batch_size", batch_size), ("hidden", hidden)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"GINPredictor {what} must be an integer >= 1, got {value!r}")
        if aggregation not in AGGREGATIONS:
            raise ValueError(f"GINPredictor aggregation must be one of {', '.join(AGGREGATIONS)}, got {aggregation!r}")
        if loss not in LOSSES:
            raise ValueError(f"GINPredictor loss must be one of {', '.join(LOSSES)}, got {loss!r}")
        if not units or any(size < 1 for size in units):
            raise ValueError(f"GINPredictor units must be positive layer widths, got {tuple(units)}")
        if not (learning_rate > 0 and weight_decay >= 0):
            raise ValueError(f"GINPredictor needs learning_rate > 0 and weight_decay >= 0, got {learning_rate} and "
                             f"{weight_decay}")
        self.max_nodes = max_nodes
        self.ensemble = ensemble
        self.epochs = epochs
        self.batch_size = batch_size
        self.seed = seed
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.units = tuple(units)
        self.hidden = hidden
        self.aggregation: Aggregation = aggregation
        self.loss = loss
        self.options = GINOptions(ensemble=ensemble, epochs=epochs, batch_size=batch_size,
                                  learning_rate=learning_rate, weight_decay=weight_decay, units=self.units,
                                  hidden=hidden, aggregation=aggregation, loss=loss)
        """The TOML options of this predictor (:meth:`to_table` writes them)."""
        self._network: _StackedGIN | None = None
        self._forward: Callable[..., Any] | None = None
        self._n_features = 0
        self._center = 0.0
        self._scale = 1.0
        self.fit_seconds = 0.0
        """Wall time of the last :meth:`fit`."""

    @property
    def fitted(self) -> bool:
        return self._network is not None

    # -- encoding --------------------------------------------------------------------------------
    def _encode(self, graphs: Sequence[CellGraph]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Padded features ``[n, N, F]``, propagation ``[n, P, N, N]`` and mask ``[n, N]``."""
        if any(not isinstance(graph, CellGraph) for graph in graphs):
            bad = next(graph for graph in graphs if not isinstance(graph, CellGraph))
            raise ValueError(f"the GIN predictor takes CellGraphs (domain.graph(architecture)), got "
                             f"{type(bad).__name__}")
        features, adjacency, mask = batch_graphs(graphs, self.max_nodes)
        incoming = np.transpose(adjacency, (0, 2, 1))  # incoming[i, j] = 1 for an edge j → i
        channels = {"in": [incoming], "out": [adjacency], "both": [np.minimum(incoming + adjacency, 1.0)],
                    "split": [incoming, adjacency]}[self.aggregation]
        return features, np.stack(channels, axis=1), mask

    # -- training --------------------------------------------------------------------------------
    def _members_training_sets(self, n: int, rng: np.random.Generator) -> list[np.ndarray]:
        if self.ensemble == 1 or n < self.ensemble:
            return [np.arange(n)] * self.ensemble
        folds = np.array_split(rng.permutation(n), self.ensemble)
        return [np.sort(np.concatenate([fold for other, fold in enumerate(folds) if other != member]))
                for member in range(self.ensemble)]

    def _batches(self, training: list[np.ndarray], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Batch indices and weights ``[epochs, steps, E, B]``: each member's training set
        shuffled every epoch, padded with weight-0 entries to a whole number of batches."""
        steps = max(math.ceil(len(indices) / self.batch_size) for indices in training)
        size = steps * self.batch_size
        index = np.zeros((self.epochs, len(training), size), np.int32)
        weight = np.zeros((self.epochs, len(training), size), np.float32)
        for epoch in range(self.epochs):
            for member, indices in enumerate(training):
                index[epoch, member, :len(indices)] = rng.permutation(indices)
                weight[epoch, member, :len(indices)] = 1.0
        shape = (self.epochs, len(training), steps, self.batch_size)
        return (index.reshape(shape).transpose(0, 2, 1, 3), weight.reshape(shape).transpose(0, 2, 1, 3))

    def fit(self, inputs: Sequence[CellGraph], targets: np.ndarray) -> None:
        started = time.perf_counter()
        y = check_fit_inputs(inputs, targets, "the GIN predictor")
        features, propagation, mask = self._encode(inputs)
        center, spread = float(y.mean()), float(y.std())
        scaled = ((y - center) / (spread if spread > 0 else 1.0)).astype(np.float32)

        rng = np.random.default_rng(self.seed)
        training = self._members_training_sets(len(y), rng)
        index, weight = self._batches(training, rng)
        network = _StackedGIN(self.ensemble, features.shape[-1], propagation.shape[1], self.units, self.hidden,
                              seed=int(rng.integers(2**31)))
        network.build(None)
        optimizer = keras.optimizers.AdamW(
            learning_rate=keras.optimizers.schedules.CosineDecay(self.learning_rate, index.shape[0] * index.shape[1]),
            weight_decay=self.weight_decay)
        optimizer.exclude_from_weight_decay(var_names=["bias", "eps"])
        variables = network.trainable_variables
        optimizer.build(variables)

        data = tuple(tf.constant(array) for array in (features, propagation, mask, scaled))

        def epoch_steps(index: tf.Tensor, weight: tf.Tensor) -> tf.Tensor:
            all_features, all_propagation, all_mask, all_targets = data
            total = tf.constant(0.0)
            for step in tf.range(tf.shape(index)[0]):
                batch, batch_weight = index[step], weight[step]
                with tf.GradientTape() as tape:
                    predicted = network(tf.gather(all_features, batch), tf.gather(all_propagation, batch),
                                        tf.gather(all_mask, batch))
                    loss = _batch_loss(predicted, tf.gather(all_targets, batch), batch_weight, self.loss)
                gradients = tape.gradient(loss, variables)
                optimizer.apply_gradients(zip(gradients, variables, strict=True))
                total += loss
            return total / tf.cast(tf.shape(index)[0], tf.float32)

        # One compiled call per epoch (a graph-mode loop over its steps): little Python overhead.
        train_epoch: Callable[[tf.Tensor, tf.Tensor], tf.Tensor] = tf.function(epoch_steps, jit_compile=False)

        loss = math.nan
        for epoch in range(self.epochs):
            check_interrupt()  # tracing drops interrupts in weakref callbacks: answer them here (scinas.interrupt)
            loss = float(train_epoch(tf.constant(index[epoch]), tf.constant(weight[epoch])))
        # Set only now, so a fit that fails half-way leaves the previous model whole.
        # Constant targets: a zero scale makes every prediction that constant.
        self._center, self._scale = center, spread
        self._network = network
        self._forward = tf.function(network.call, jit_compile=False, reduce_retracing=True)
        self._n_features = features.shape[-1]
        self.fit_seconds = time.perf_counter() - started
        logger.debug("GIN predictor: %d graphs, %d members, %d epochs, final loss %.4g, %.1f s", len(y),
                     self.ensemble, self.epochs, loss / self.ensemble, self.fit_seconds)

    def predict(self, inputs: Sequence[CellGraph]) -> np.ndarray:
        """The ensemble's prediction for each graph: the mean of :meth:`predict_members`."""
        return np.asarray(self.predict_members(inputs).mean(axis=0), dtype=np.float64)

    def predict_members(self, inputs: Sequence[CellGraph]) -> np.ndarray:
        """Each member's predictions, ``[ensemble, len(inputs)]`` (their spread is a rough uncertainty)."""
        network, forward = self._network, self._forward
        if network is None or forward is None:
            raise self._not_fitted()
        if len(inputs) == 0:
            return np.zeros((self.ensemble, 0), dtype=np.float64)
        features, propagation, mask = self._encode(inputs)
        if features.shape[-1] != self._n_features:
            raise ValueError(f"the GIN predictor was fitted on graphs with {self._n_features} node features, got "
                             f"{features.shape[-1]}: use graphs of the same search space")
        outputs = []
        for start in range(0, len(inputs), _PREDICT_CHUNK):
            check_interrupt()
            chunk = slice(start, start + _PREDICT_CHUNK)
            stacked = [np.broadcast_to(array[chunk], (self.ensemble, *array[chunk].shape))
                       for array in (features, propagation, mask)]
            outputs.append(np.asarray(forward(*(tf.constant(array) for array in stacked)), dtype=np.float64))
        return np.concatenate(outputs, axis=1) * self._scale + self._center
