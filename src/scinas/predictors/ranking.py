"""An interpretable ranking graph network: the score predictor that says which nodes mattered.

Like the GIN (:mod:`scinas.predictors.gin`) it reads cell graphs, but it is built to be read back:

* **per-category node features** (:func:`node_categories`): each node's operation (the graph's
  one-hot label), its operator family (the label without sizes: ``conv``, ``maxpool``,
  ``nor_conv``), its kernel size, its dilation rate, its position (node slot and depth from the
  inputs) and its degree are embedded by *separate* small MLPs, concatenated and made
  non-negative (absolute value): the 0-hop node embedding;
* **message passing**: ``hops`` layers update each node from itself, its predecessors and its
  successors (separate weights), again non-negative; one **graph embedding per hop** is the sum
  of the node embeddings of that hop;
* **the loss**: the mean squared error of the prediction (a small head on the concatenated hop
  embeddings, standardised target) plus ``rank_weight`` × the mean over hops of
  ``1 − soft Spearman(target, ‖graph embedding‖)``, plus ``prediction_rank_weight`` ×
  ``1 − soft Spearman(target, prediction)``.  The soft Spearman correlation ranks the
  norms with a differentiable soft rank (:func:`soft_rank`: ``r_i = ½ + Σ_j σ((x_i − x_j)/τ)``
  over the batch, the norms standardised first) and correlates it with the targets' ranks.  So
  at every hop, a larger embedding norm means a better cell;
* **node importance** (:meth:`RankingPredictor.node_importance`): per hop, each node's
  embedding norm.  Because embeddings are non-negative and summed, a node with a large norm
  pushes its graph up the ranking: those are the nodes (operators, blocks) that matter.

``ensemble`` models with different seeds are averaged (predictions and importances).  Training:
AdamW with a cosine-decayed learning rate, batches of ``batch_size``.  Deterministic for a seed;
no global random state is read or changed.

Example::

    predictor = RankingPredictor(domain.max_nodes, epochs=100, seed=0)
    predictor.fit([domain.graph(a) for a in trained], accuracies)
    predictor.predict([domain.graph(a) for a in candidates])
    predictor.node_importance([domain.graph(best)])[0]     # [hops + 1, nodes of that graph]
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import keras
import numpy as np
import tensorflow as tf

from scinas.configurable import option, options_table
from scinas.predictors.base import PREDICTORS, Predictor, SearchSettings, check_fit_inputs
from scinas.search_space.encoding import CellGraph, batch_graphs

__all__ = ["CATEGORIES", "RankingPredictor", "node_categories", "soft_rank", "soft_spearman"]

logger = logging.getLogger(__name__)

#: The node-feature categories, each embedded by its own MLP.
CATEGORIES: tuple[str, ...] = ("operation", "family", "kernel", "dilation", "position", "degree")

_KERNEL_2D = re.compile(r"(\d+)x(\d+)")
_KERNEL_1D = re.compile(r"^(\d+)(?=[ :])")
_DILATION = re.compile(r":(\d+)dr\b")
_SIZES = re.compile(r"\d+x\d+(?:-\d+x\d+)?|:\d+\w*|^\d+\b|\d+")
#: Graphs pushed through the network at once when predicting.
_PREDICT_CHUNK = 2048
#: Hidden width of each category's MLP.
_INNER = 16


def operator_family(label: str) -> str:
    """The label without its sizes: ``"3x3:2dr conv"`` → ``"conv"``, ``"nor_conv_3x3"`` → ``"nor conv"``;
    a lookback (``"-1"``, ``"-2"``) is ``"input"``."""
    if re.fullmatch(r"-?\d+", label):
        return "input"
    family = _SIZES.sub(" ", label).replace("_", " ").split()
    return " ".join(family) or label


def _kernel(label: str) -> float:
    sizes = [max(int(a), int(b)) for a, b in _KERNEL_2D.findall(label)]
    if sizes:
        return float(max(sizes))
    match = _KERNEL_1D.match(label)
    return float(match.group(1)) if match else 0.0


def _depths(adjacency: np.ndarray) -> np.ndarray:
    """Longest path (in edges) from a source node to each node of a DAG (0 for sources)."""
    n = adjacency.shape[0]
    depth = np.zeros(n)
    incoming = [np.flatnonzero(adjacency[:, j]) for j in range(n)]
    for _ in range(n):  # relax n times: enough for any DAG of n nodes, whatever the node order
        changed = False
        for j in range(n):
            if incoming[j].size:
                value = depth[incoming[j]].max() + 1
                if value > depth[j]:
                    depth[j], changed = value, True
        if not changed:
            break
    return depth


def node_categories(graph: CellGraph, max_nodes: int, families: Sequence[str]) -> dict[str, np.ndarray]:
    """The node features of ``graph`` by category (:data:`CATEGORIES`), each ``[nodes, width]`` float32.

    ``families`` is the vocabulary of operator families (an unknown family is all zeros).  Kernel
    sizes and depths are scaled to about 0–1; ``position`` is the node slot (one-hot over
    ``max_nodes``) and the depth.
    """
    n = graph.n_nodes
    index = {family: column for column, family in enumerate(families)}
    family = np.zeros((n, len(families)), np.float32)
    kernel = np.zeros((n, 2), np.float32)
    dilation = np.zeros((n, 1), np.float32)
    for node, label in enumerate(graph.node_labels):
        column = index.get(operator_family(label))
        if column is not None:
            family[node, column] = 1.0
        size = _kernel(label)
        kernel[node] = (size / 7.0, 1.0 if size else 0.0)
        match = _DILATION.search(label)
        dilation[node, 0] = (float(match.group(1)) if match else 1.0 if size else 0.0) / 4.0
    position = np.zeros((n, max_nodes + 1), np.float32)
    position[np.arange(n), np.arange(n)] = 1.0
    position[:, -1] = _depths(graph.adjacency) / max(max_nodes - 1, 1)
    degree = np.stack([graph.adjacency.sum(axis=0), graph.adjacency.sum(axis=1)], axis=1).astype(np.float32) / 4.0
    return {"operation": graph.features.astype(np.float32), "family": family, "kernel": kernel,
            "dilation": dilation, "position": position, "degree": degree}


def soft_rank(values: tf.Tensor, weight: tf.Tensor, temperature: float) -> tf.Tensor:
    """A differentiable rank of each entry among the weighted entries of its row.

    ``values``, ``weight``: ``[B, N]`` (weight 0: padding).  ``r_i = ½ + Σ_j w_j σ((x_i − x_j) / τ)``
    with x standardised over the row's real entries: as τ → 0 it is the ordinary rank (1-based,
    ties halved), and its gradient moves entries past their neighbours.
    """
    count = tf.maximum(tf.reduce_sum(weight, axis=-1, keepdims=True), 1.0)
    mean = tf.reduce_sum(values * weight, axis=-1, keepdims=True) / count
    spread = tf.sqrt(tf.reduce_sum(tf.square(values - mean) * weight, axis=-1, keepdims=True) / count + 1e-12)
    scaled = (values - mean) / (spread + 1e-6)
    pairs = tf.sigmoid((scaled[..., :, None] - scaled[..., None, :]) / temperature) * weight[..., None, :]
    return tf.reduce_sum(pairs, axis=-1) + 0.5  # the self-pair adds ½ more: the lowest entry ranks 1


def _hard_rank(values: tf.Tensor, weight: tf.Tensor) -> tf.Tensor:
    """The ordinary rank among weighted entries (ties share their mean rank)."""
    above = tf.cast(values[..., :, None] > values[..., None, :], tf.float32) * weight[..., None, :]
    tied = tf.cast(values[..., :, None] == values[..., None, :], tf.float32) * weight[..., None, :]
    return tf.reduce_sum(above, axis=-1) + 0.5 * (tf.reduce_sum(tied, axis=-1) + 1.0)


def _pearson(a: tf.Tensor, b: tf.Tensor, weight: tf.Tensor) -> tf.Tensor:
    count = tf.maximum(tf.reduce_sum(weight, axis=-1), 1.0)
    da = a - tf.reduce_sum(a * weight, axis=-1, keepdims=True) / count[..., None]
    db = b - tf.reduce_sum(b * weight, axis=-1, keepdims=True) / count[..., None]
    covariance = tf.reduce_sum(da * db * weight, axis=-1)
    norm = tf.sqrt(tf.reduce_sum(da * da * weight, axis=-1) * tf.reduce_sum(db * db * weight, axis=-1) + 1e-12)
    return covariance / norm


def soft_spearman(predicted: tf.Tensor, target: tf.Tensor, weight: tf.Tensor, temperature: float = 0.1
                  ) -> tf.Tensor:
    """Spearman's ρ with the soft rank of ``predicted`` (differentiable in it) and the rank of ``target``."""
    return _pearson(soft_rank(predicted, weight, temperature), _hard_rank(target, weight), weight)


class _RankingNetwork(keras.layers.Layer):
    """``members`` ranking networks with their weights stacked on a leading axis (trained together).

    Category MLPs → non-negative node embeddings → ``hops`` message-passing layers → a head.  The
    category MLPs are separate networks computed at once through block-diagonal kernels.
    ``call(features [E, B, N, F], incoming [E, B, N, N], outgoing, mask [E, B, N])`` gives the
    prediction ``[E, B]``, the node embeddings of every hop ``[H+1, E, B, N, W]`` and the graph
    embeddings ``[H+1, E, B, W]``.
    """

    def __init__(self, members: int, widths: Sequence[int], embedding: int, hops: int, hidden: int, seed: int,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        rng = np.random.default_rng(seed)

        def weight(name: str, shape: tuple[int, ...], zeros: bool = False,
                   block: np.ndarray | None = None) -> keras.Variable:
            full = (members, *shape)
            if zeros:
                value = np.zeros(full, np.float32)
            else:
                fan_in = shape[0] if block is None else int(block.sum(axis=0).max())
                fan_out = shape[-1] if block is None else int(block.sum(axis=1).max())
                limit = math.sqrt(6.0 / (fan_in + fan_out))
                value = rng.uniform(-limit, limit, size=full).astype(np.float32)
                if block is not None:
                    value *= block
            return self.add_weight(name=name, shape=full, initializer=lambda s, dtype=None: value, dtype="float32")

        per_category = max(2, embedding // len(widths))
        first = np.zeros((sum(widths), _INNER * len(widths)), np.float32)
        second = np.zeros((_INNER * len(widths), per_category * len(widths)), np.float32)
        row = 0
        for index, width in enumerate(widths):
            first[row:row + width, index * _INNER:(index + 1) * _INNER] = 1.0
            second[index * _INNER:(index + 1) * _INNER, index * per_category:(index + 1) * per_category] = 1.0
            row += width
        self.blocks = (tf.constant(first), tf.constant(second))
        self.encoder = (weight("encoder_k1", first.shape, block=first),
                        weight("encoder_b1", (1, 1, first.shape[1]), True),
                        weight("encoder_k2", second.shape, block=second),
                        weight("encoder_b2", (1, 1, second.shape[1]), True))
        width = second.shape[1]
        self.hop_layers = [(weight(f"hop{h}_self", (width, width)), weight(f"hop{h}_in", (width, width)),
                            weight(f"hop{h}_out", (width, width)), weight(f"hop{h}_b", (1, 1, width), True))
                           for h in range(hops)]
        self.head = (weight("head_k1", (width * (hops + 1), hidden)), weight("head_b1", (1, hidden), True),
                     weight("head_k2", (hidden, 1)), weight("head_b2", (1, 1), True))

    def call(self, features: Any, incoming: Any, outgoing: Any, mask: Any) -> tuple[Any, Any, Any]:
        node_mask = mask[..., None]
        k1, b1, k2, b2 = self.encoder
        first, second = self.blocks  # the masks keep each category's MLP apart
        hidden = tf.nn.silu(tf.einsum("ebnf,efo->ebno", features, k1 * first) + b1)
        h = tf.abs(tf.einsum("ebnf,efo->ebno", hidden, k2 * second) + b2) * node_mask
        nodes = [h]
        for w_self, w_in, w_out, bias in self.hop_layers:
            mixed = (tf.einsum("ebnf,efo->ebno", h, w_self)
                     + tf.einsum("ebnf,efo->ebno", tf.matmul(incoming, h), w_in)
                     + tf.einsum("ebnf,efo->ebno", tf.matmul(outgoing, h), w_out) + bias)
            h = tf.abs(mixed) * node_mask
            nodes.append(h)
        stacked = tf.stack(nodes)                      # [H+1, E, B, N, W]
        graphs = tf.reduce_sum(stacked, axis=3)        # [H+1, E, B, W]
        hk1, hb1, hk2, hb2 = self.head
        count = tf.maximum(tf.reduce_sum(mask, -1, keepdims=True), 1.0)
        pooled = tf.concat(tf.unstack(graphs), axis=-1) / count
        hidden_head = tf.nn.silu(tf.einsum("ebf,efo->ebo", pooled, hk1) + hb1)
        predicted = (tf.einsum("ebf,efo->ebo", hidden_head, hk2) + hb2)[..., 0]
        return predicted, stacked, graphs


@dataclass(frozen=True)
class RankingOptions:
    """``[X.search.predictor]`` of ``name = "ranking"``: the hyperparameters of :class:`RankingPredictor`."""

    ensemble: int = option(3, minimum=1, doc="networks trained together with different initial weights and "
                           "batches, averaged")
    epochs: int = option(120, minimum=1, doc="training epochs of every network")
    batch_size: int = option(32, minimum=2, doc="graphs per training batch (the ranking loss compares the graphs "
                             "of a batch)")
    learning_rate: float = option(3e-3, minimum=0, exclusive_minimum=True, doc="initial learning rate of AdamW "
                                  "(cosine-decayed to 0)")
    weight_decay: float = option(1e-4, minimum=0, doc="AdamW weight decay")
    hops: int = option(3, minimum=1, doc="message-passing layers (one graph embedding per hop, plus hop 0)")
    embedding: int = option(48, minimum=6, doc="width of the node embeddings (split over the feature categories)")
    hidden: int = option(64, minimum=1, doc="width of the prediction head's hidden layer")
    rank_weight: float = option(1.0, minimum=0, doc="weight of the per-hop soft-Spearman loss between the target "
                                "and the graph embedding norms (0: regression only)")
    prediction_rank_weight: float = option(1.0, minimum=0, doc="weight of the soft-Spearman loss between the "
                                           "target and the prediction itself")
    temperature: float = option(0.1, minimum=0, exclusive_minimum=True, doc="temperature of the soft rank "
                                "(smaller: closer to the hard rank)")


@PREDICTORS.register("ranking")
class RankingPredictor(Predictor):
    """The interpretable ranking graph network over cell graphs (see the module docstring).

    ``max_nodes`` pads every graph; the other arguments are its TOML options (:class:`RankingOptions`).
    """

    name = "ranking"
    encoding = "graph"
    Options: ClassVar[type[Any]] = RankingOptions
    search_shorthands: ClassVar[dict[str, str]] = {"predictor_epochs": "epochs", "predictor_ensemble": "ensemble"}

    @classmethod
    def for_search(cls, settings: SearchSettings, options: Any) -> RankingPredictor:
        """The predictor ``options`` (a :class:`RankingOptions`) describe, over graphs of ``max_nodes``."""
        return cls(settings.max_nodes, seed=settings.seed, **options_table(options))

    def __init__(self, max_nodes: int, *, ensemble: int = 3, epochs: int = 120, batch_size: int = 32, seed: int = 0,
                 learning_rate: float = 3e-3, weight_decay: float = 1e-4, hops: int = 3, embedding: int = 48,
                 hidden: int = 64, rank_weight: float = 1.0, prediction_rank_weight: float = 1.0,
                 temperature: float = 0.1) -> None:
        for what, value, least in (("max_nodes", max_nodes, 1), ("ensemble", ensemble, 1), ("epochs", epochs, 1),
                                   ("batch_size", batch_size, 2), ("hops", hops, 1), ("embedding", embedding, 6),
                                   ("hidden", hidden, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"RankingPredictor {what} must be an integer >= {least}, got {value!r}")
        if not (learning_rate > 0 and weight_decay >= 0 and rank_weight >= 0 and prediction_rank_weight >= 0
                and temperature > 0):
            raise ValueError(f"RankingPredictor needs learning_rate > 0, weight_decay >= 0, rank weights >= 0 and "
                             f"temperature > 0, got {learning_rate}, {weight_decay}, {rank_weight}, "
                             f"{prediction_rank_weight}, {temperature}")
        self.max_nodes = max_nodes
        self.seed = seed
        self.options = RankingOptions(ensemble=ensemble, epochs=epochs, batch_size=batch_size,
                                      learning_rate=learning_rate, weight_decay=weight_decay, hops=hops,
                                      embedding=embedding, hidden=hidden, rank_weight=rank_weight,
                                      prediction_rank_weight=prediction_rank_weight, temperature=temperature)
        """The TOML options of this predictor (:meth:`to_table` writes them)."""
        self._network: _RankingNetwork | None = None
        self._forward: Callable[..., Any] | None = None
        self._families: tuple[str, ...] = ()
        self._n_features = 0
        self._center = 0.0
        self._scale = 1.0
        self.fit_seconds = 0.0
        """Wall time of the last :meth:`fit`."""

    @property
    def fitted(self) -> bool:
        return self._network is not None

    @property
    def hops(self) -> int:
        return int(self.options.hops)

    @property
    def families(self) -> tuple[str, ...]:
        """The operator families seen by the last :meth:`fit` (the ``family`` category's columns)."""
        return self._families

    # -- encoding --------------------------------------------------------------------------------
    def _encode(self, graphs: Sequence[CellGraph], families: Sequence[str]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[int]]:
        """The categories' features side by side ``[n, N, ΣF_c]`` (:data:`CATEGORIES` order), incoming
        and outgoing adjacency ``[n, N, N]``, mask ``[n, N]`` and each category's width."""
        if any(not isinstance(graph, CellGraph) for graph in graphs):
            bad = next(graph for graph in graphs if not isinstance(graph, CellGraph))
            raise ValueError(f"the ranking predictor takes CellGraphs (domain.graph(architecture)), got "
                             f"{type(bad).__name__}")
        _, adjacency, mask = batch_graphs(graphs, self.max_nodes)
        rows = []
        widths: list[int] = []
        for graph in graphs:
            categories = node_categories(graph, self.max_nodes, families)
            widths = [categories[category].shape[1] for category in CATEGORIES]
            padded = np.zeros((self.max_nodes, sum(widths)), np.float32)
            padded[:graph.n_nodes] = np.concatenate([categories[category] for category in CATEGORIES], axis=1)
            rows.append(padded)
        incoming = np.transpose(adjacency, (0, 2, 1))  # incoming[i, j] = 1 for an edge j → i
        return np.stack(rows), incoming, adjacency, mask, widths

    # -- training --------------------------------------------------------------------------------
    def fit(self, inputs: Sequence[CellGraph], targets: np.ndarray) -> None:
        started = time.perf_counter()
        y = check_fit_inputs(inputs, targets, "the ranking predictor")
        families = tuple(sorted({operator_family(label) for graph in inputs if isinstance(graph, CellGraph)
                                 for label in graph.node_labels}))
        features, incoming, outgoing, mask, widths = self._encode(inputs, families)
        center, spread = float(y.mean()), float(y.std())
        scaled = ((y - center) / (spread if spread > 0 else 1.0)).astype(np.float32)
        options = self.options
        members, n = int(options.ensemble), len(y)
        rng = np.random.default_rng(self.seed)
        network = _RankingNetwork(members, widths, options.embedding, options.hops, options.hidden,
                                  seed=int(rng.integers(2**31)))
        network.build(None)
        batch = min(options.batch_size, n)
        steps = max(1, math.ceil(n / batch))
        optimizer = keras.optimizers.AdamW(
            learning_rate=keras.optimizers.schedules.CosineDecay(options.learning_rate, options.epochs * steps),
            weight_decay=options.weight_decay)
        variables = network.trainable_variables
        optimizer.build(variables)
        rank_weight, temperature = float(options.rank_weight), float(options.temperature)
        prediction_rank = float(options.prediction_rank_weight)
        data = tuple(tf.constant(array) for array in (features, incoming, outgoing, mask, scaled))

        def epoch_steps(index: tf.Tensor, weight: tf.Tensor) -> tf.Tensor:
            all_features, all_incoming, all_outgoing, all_mask, all_targets = data
            total = tf.constant(0.0)
            for step in tf.range(tf.shape(index)[0]):
                chosen, w = index[step], weight[step]           # [E, B] each
                with tf.GradientTape() as tape:
                    predicted, _, graphs = network(tf.gather(all_features, chosen), tf.gather(all_incoming, chosen),
                                                   tf.gather(all_outgoing, chosen), tf.gather(all_mask, chosen))
                    y = tf.gather(all_targets, chosen)
                    error = tf.reduce_sum(tf.square(predicted - y) * w, axis=1)
                    loss = tf.reduce_sum(error / tf.maximum(tf.reduce_sum(w, axis=1), 1.0))
                    if rank_weight > 0:
                        norms = tf.sqrt(tf.reduce_sum(tf.square(graphs), axis=-1) + 1e-12)  # [H+1, E, B]
                        correlation = soft_spearman(norms, tf.broadcast_to(y, tf.shape(norms)),
                                                    tf.broadcast_to(w, tf.shape(norms)), temperature)
                        loss += rank_weight * tf.reduce_sum(tf.reduce_mean(1.0 - correlation, axis=0))
                    if prediction_rank > 0:
                        loss += prediction_rank * tf.reduce_sum(1.0 - soft_spearman(predicted, y, w, temperature))
                gradients = tape.gradient(loss, variables)
                optimizer.apply_gradients(zip(gradients, variables, strict=True))
                total += loss
            return total / tf.cast(tf.shape(index)[0], tf.float32)

        # One compiled call per epoch (a graph-mode loop over its steps): little Python overhead.
        train_epoch: Callable[[tf.Tensor, tf.Tensor], tf.Tensor] = tf.function(epoch_steps, jit_compile=False)
        size = steps * batch
        shape = (members, steps, batch)
        for _ in range(options.epochs):
            order = np.zeros((members, size), np.int32)
            weight = np.zeros((members, size), np.float32)
            for member in range(members):
                order[member, :n], weight[member, :n] = rng.permutation(n), 1.0
            train_epoch(tf.constant(order.reshape(shape).transpose(1, 0, 2)),
                        tf.constant(weight.reshape(shape).transpose(1, 0, 2)))
        # Set only now, so a fit that fails half-way leaves the previous model whole.
        self._center, self._scale, self._families = center, spread, families
        self._network = network
        self._forward = tf.function(network.call, jit_compile=False, reduce_retracing=True)
        self._n_features = features.shape[-1]
        self.fit_seconds = time.perf_counter() - started
        logger.debug("ranking predictor: %d graphs, %d members, %.1f s", n, members, self.fit_seconds)

    # -- reading it back -------------------------------------------------------------------------
    def _outputs(self, inputs: Sequence[CellGraph]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mean over members of the scaled prediction ``[n]``, node norms ``[H+1, n, N]`` and graph
        norms ``[H+1, n]``."""
        forward = self._forward
        if forward is None:
            raise self._not_fitted()
        hops, members = self.hops + 1, int(self.options.ensemble)
        if len(inputs) == 0:
            return np.zeros(0), np.zeros((hops, 0, self.max_nodes)), np.zeros((hops, 0))
        features, incoming, outgoing, mask, _ = self._encode(inputs, self._families)
        if features.shape[-1] != self._n_features:
            raise ValueError(f"the ranking predictor was fitted on graphs with {self._n_features} node features, got "
                             f"{features.shape[-1]}: use graphs of the same search space")
        predictions, node_norms, graph_norms = [], [], []
        for start in range(0, len(inputs), _PREDICT_CHUNK):
            chunk = slice(start, start + _PREDICT_CHUNK)
            stacked = [tf.constant(np.broadcast_to(array[chunk], (members, *array[chunk].shape)))
                       for array in (features, incoming, outgoing, mask)]
            predicted, nodes, graphs = forward(*stacked)
            predictions.append(np.asarray(predicted, np.float64).mean(axis=0))
            node_norms.append(np.linalg.norm(np.asarray(nodes, np.float64), axis=-1).mean(axis=1))
            graph_norms.append(np.linalg.norm(np.asarray(graphs, np.float64), axis=-1).mean(axis=1))
        return (np.concatenate(predictions), np.concatenate(node_norms, axis=1),
                np.concatenate(graph_norms, axis=1))

    def predict(self, inputs: Sequence[CellGraph]) -> np.ndarray:
        """The members' mean prediction for each graph."""
        scaled, _, _ = self._outputs(inputs)
        return np.asarray(scaled * self._scale + self._center, dtype=np.float64)

    def node_importance(self, inputs: Sequence[CellGraph]) -> list[np.ndarray]:
        """Per graph, ``[hops + 1, nodes]``: each node's embedding norm at each hop (hop 0: the
        category MLPs), averaged over the members.  Larger: the node pushes its graph up the ranking."""
        _, node_norms, _ = self._outputs(inputs)
        return [node_norms[:, index, :graph.n_nodes] for index, graph in enumerate(inputs)]

    def embedding_norms(self, inputs: Sequence[CellGraph]) -> np.ndarray:
        """``[hops + 1, len(inputs)]``: the norm of each graph's embedding at each hop (what the ranking
        loss correlates with the target), averaged over the members."""
        _, _, graph_norms = self._outputs(inputs)
        return graph_norms
