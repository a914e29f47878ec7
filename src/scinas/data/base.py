"""The dataset-generator interface, the dataset description and the generator registry.

A :class:`DatasetGenerator` turns one ``data.toml`` entry into samples, one shard at a time.
Shard ``i`` is produced from its own random stream (``SeedSequence([seed, i])``), so the data
do not depend on how many processes build the cache or in which order.

Example ``data.toml`` entry::

    [dtest]
    generator = "michaelis_menten"
    description = "small Michaelis–Menten set for tests"
    [dtest.parameters]
    k1_min = 0.01
    ...
    [dtest.shape]
    seed = 42
    n_samples = 5000
    n_shards = 10
    batch_size = 50
    shuffle_buffer_size = 100
    splits = [0.7, 0.15, 0.15]
"""

from __future__ import annotations

import abc
import dataclasses
import hashlib
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from scinas.config.reader import Table
from scinas.configurable import options_table
from scinas.registry import Registry

__all__ = [
    "GENERATORS",
    "SPLITS",
    "TASKS",
    "DatasetGenerator",
    "DatasetInfo",
    "NormalizationConfig",
    "ShapeConfig",
    "split_sizes",
]

SPLITS: tuple[str, str, str] = ("train", "validation", "test")
Task = Literal["regression", "classification", "segmentation"]
TASKS: tuple[str, ...] = ("regression", "classification", "segmentation")
"""What a dataset's targets are: values, one class per sample, or one class per pixel."""


@dataclass(frozen=True)
class ShapeConfig:
    """``[d.shape]``: how many samples, how they are sharded, batched, shuffled and split.

    ``fresh_training = true`` (simulated datasets only) draws new training samples every epoch
    from the generator instead of reading the cached training split, ``fresh_training_samples``
    per epoch (0, the default: as many as the training split holds); validation and test stay
    fixed (see :mod:`scinas.data.fresh`).
    """

    seed: int
    n_samples: int
    n_shards: int
    batch_size: int
    shuffle_buffer_size: int
    splits: tuple[float, float, float]
    fresh_training: bool = False
    fresh_training_samples: int = 0

    @classmethod
    def parse(cls, table: Table, *, n_samples_required: bool = True, fresh_allowed: bool = True) -> ShapeConfig:
        """Read ``[d.shape]``.  With ``n_samples_required = False`` (datasets read from files,
        whose size the files give) ``n_samples`` may be left out: it is then 0, meaning "all".
        ``fresh_allowed = False`` (datasets read from files) rejects ``fresh_training``."""
        seed = table.integer("seed", 0, minimum=0)
        needed = n_samples_required or table.has("n_samples")
        n_samples = table.integer("n_samples", minimum=3) if needed else 0
        n_shards = table.integer("n_shards", 1, minimum=1)
        if n_samples and n_shards > n_samples:
            raise table.error("n_shards", f"more shards than samples (n_samples = {n_samples})",
                              fix="use at most one shard per sample")
        batch_size = table.integer("batch_size", 32, minimum=1)
        shuffle = table.integer("shuffle_buffer_size", 1000, minimum=0)
        splits = table.number_list("splits", [0.8, 0.1, 0.1], length=3, minimum=0.0, maximum=1.0)
        if abs(sum(splits) - 1.0) > 1e-6:
            raise table.error("splits", f"the splits sum to {sum(splits):g}, expected 1",
                              fix="give [train, validation, test] fractions that add up to 1")
        if splits[0] <= 0:
            raise table.error("splits", "the training split is empty",
                              fix="give the training split a fraction > 0")
        fresh = table.boolean("fresh_training", False)
        if fresh and not fresh_allowed:
            raise table.error("fresh_training", "this dataset is read from files: there is no generator to draw "
                              "fresh training samples from", fix="remove fresh_training (it applies to simulated "
                              "datasets such as generator = \"xfel\")")
        fresh_samples = table.integer("fresh_training_samples", 0, minimum=0)
        if fresh_samples and not fresh:
            raise table.error("fresh_training_samples", "fresh_training is off, so no fresh sample is drawn",
                              fix="add fresh_training = true, or remove fresh_training_samples")
        shape = cls(seed, n_samples, n_shards, batch_size, shuffle, (splits[0], splits[1], splits[2]), fresh,
                    fresh_samples)
        if n_samples:
            sizes = split_sizes(n_samples, shape.splits)
            for name, size, frac in zip(SPLITS, sizes, splits, strict=True):
                if frac > 0 and size == 0:
                    raise table.error("splits", f"the {name} split gets no sample of {n_samples}",
                                      fix="raise n_samples or that split's fraction")
        table.finish()
        return shape


def split_sizes(n_samples: int, fractions: tuple[float, float, float]) -> tuple[int, int, int]:
    """Exact split sizes: validation and test are rounded, training takes the rest."""
    n_val = round(n_samples * fractions[1])
    n_test = round(n_samples * fractions[2])
    return n_samples - n_val - n_test, n_val, n_test


@dataclass(frozen=True)
class NormalizationConfig:
    """``[d.normalization]``: how inputs and targets are standardised (training statistics only).

    ``inputs``: ``"feature"`` (a mean and deviation per input element), ``"channel"`` (per last
    axis), ``"global"`` (one scalar) or ``"none"``.  ``targets``: ``"feature"``, ``"none"`` or
    ``"auto"`` (the default): ``"feature"`` for a regression dataset, ``"none"`` for class labels
    (:meth:`resolved`).  Standardised regression targets put every target on the same scale in
    the loss; the saved model still predicts raw units (its last layer undoes the scaling).
    """

    inputs: str = "feature"
    targets: str = "auto"

    @classmethod
    def parse(cls, table: Table) -> NormalizationConfig:
        inputs = table.string("inputs", "feature", choices=("feature", "channel", "global", "none"))
        targets = table.string("targets", "auto", choices=("auto", "feature", "none"))
        table.finish()
        return cls(inputs, targets)

    def resolved(self, task: Task) -> NormalizationConfig:
        """``targets = "auto"`` made concrete for ``task``: ``"feature"`` (regression) or ``"none"``."""
        if self.targets != "auto":
            return self
        return dataclasses.replace(self, targets="feature" if task == "regression" else "none")


@dataclass(frozen=True)
class DatasetInfo:
    """What a model needs to know about a dataset, available before any sample is generated.

    ``task = "segmentation"``: inputs are images ``(height, width, channels)``, targets masks
    ``(height, width)`` of class indices ``0..n_classes-1``; pixels labelled ``ignore_class``
    (when not ``None``) count in neither the loss nor the metrics.
    """

    name: str
    task: Task
    input_shape: tuple[int, ...]
    target_shape: tuple[int, ...]
    split_sizes: dict[str, int]
    n_classes: int | None = None
    target_names: tuple[str, ...] = ()
    ignore_class: int | None = None

    @property
    def n_targets(self) -> int:
        return int(np.prod(self.target_shape)) if self.target_shape else 1


class DatasetGenerator(abc.ABC):
    """One family of datasets (``generator = "<name>"`` in ``data.toml``).

    Subclasses implement :meth:`parse_parameters`, :meth:`info` and :meth:`generate_shard` and
    register themselves with ``@GENERATORS.register("<name>")``.  Bump ``version`` whenever a
    change of the code changes the samples, so stale caches are rebuilt.
    """

    name: ClassVar[str] = ""
    version: ClassVar[int] = 1
    description: ClassVar[str] = ""
    generated: ClassVar[bool] = True
    """False for datasets read from files (``n_samples`` optional: the files give it)."""
    augmentable: ClassVar[bool] = False
    """True when ``[d.augmentation]`` applies (image datasets)."""

    def __init__(self, dataset: str, parameters: Any, shape: ShapeConfig,
                 normalization: NormalizationConfig | None = None, *, augmentation: Any = None) -> None:
        self.dataset = dataset
        self.parameters = parameters
        self.shape = shape
        self.normalization = normalization or NormalizationConfig()
        self.augmentation = augmentation

    @classmethod
    @abc.abstractmethod
    def parse_parameters(cls, table: Table) -> Any:
        """Validate ``[d.parameters]`` into a frozen dataclass (call ``table.finish()``)."""

    @classmethod
    def from_table(cls, table: Table) -> Any:
        """``[d.parameters]`` read and checked by this generator (:meth:`parse_parameters`)."""
        return cls.parse_parameters(table)

    @classmethod
    def parameters_table(cls, parameters: Any) -> dict[str, Any]:
        """The ``[d.parameters]`` table that :meth:`from_table` reads back as ``parameters``.

        The default writes every field that is set (``None`` and empty strings are left out);
        generators whose TOML keys differ from their fields override it.
        """
        return {key: value for key, value in options_table(parameters).items() if value != ""}

    def to_table(self) -> dict[str, Any]:
        """This generator's ``[d.parameters]`` table."""
        return self.parameters_table(self.parameters)

    @classmethod
    def example_table(cls, folder: Path) -> dict[str, Any]:
        """A small valid ``[d.parameters]`` table, for the conformance suite
        (:func:`scinas.testing.tables.check_generator_table`, run on every registered generator).

        The default is the empty table (every parameter has a default); a generator with required
        keys overrides it, and one that reads files may write small example files under
        ``folder`` (a fresh empty folder) and name them.
        """
        return {}

    @abc.abstractmethod
    def info(self) -> DatasetInfo:
        """Shapes, task and split sizes, without generating anything."""

    @abc.abstractmethod
    def generate_shard(self, index: int, n_samples: int,
                       rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n_samples`` samples ``(x, y)`` of shard ``index`` as float32 arrays."""

    def release(self) -> None:
        """Free memory held only for :meth:`generate_shard` once the cache holds every shard.

        Generated datasets hold nothing (a no-op); datasets read from files drop their arrays.
        """
        return None

    def shard_bounds(self) -> list[tuple[int, int]]:
        """Global ``[start, stop)`` sample indices of each shard (contiguous, near-equal sizes)."""
        edges = np.linspace(0, self.shape.n_samples, self.shape.n_shards + 1).round().astype(int)
        return [(int(a), int(b)) for a, b in itertools.pairwise(edges)]

    def shard_rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([self.shape.seed, index]))

    def definition(self) -> dict[str, Any]:
        """Everything that determines the samples (batching and shuffling do not)."""
        params = self.parameters
        if dataclasses.is_dataclass(params) and not isinstance(params, type):
            params = dataclasses.asdict(params)
        return {
            "generator": self.name,
            "version": self.version,
            "parameters": params,
            "seed": self.shape.seed,
            "n_samples": self.shape.n_samples,
            "n_shards": self.shape.n_shards,
        }

    def fingerprint(self) -> str:
        """Hash of :meth:`definition`; names the on-disk cache."""
        text = json.dumps(self.definition(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:20]


GENERATORS: Registry[type[DatasetGenerator]] = Registry("dataset generator")
