"""A tiny fake dataset generator whose samples carry their global index (registered nowhere).

Target column 0 of every sample is its global index, so tests can check that splits are exact,
disjoint and ordered, and how shuffling permutes them.  Input element ``[-1, -1]`` is constant
(5.0) to exercise the standard-deviation floor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from scinas.config.reader import Table
from scinas.data.base import SPLITS, DatasetGenerator, DatasetInfo, NormalizationConfig, ShapeConfig, split_sizes


@dataclass(frozen=True)
class TaggedParameters:
    scale: float = 2.0
    rows: int = 4
    channels: int = 2


class TaggedGenerator(DatasetGenerator):
    """Gaussian inputs with a different mean and spread per element; targets tagged by index."""

    name = "tagged_test"
    description = "test generator"

    def __init__(self, dataset: str, parameters: Any, shape: ShapeConfig,
                 normalization: NormalizationConfig | None = None) -> None:
        super().__init__(dataset, parameters, shape, normalization)
        self.calls: list[int] = []
        self.fail_on_shard: int | None = None
        self.on_shard: Callable[[int], None] | None = None

    @classmethod
    def parse_parameters(cls, table: Table) -> TaggedParameters:
        parameters = TaggedParameters(table.number("scale", 2.0))
        table.finish()
        return parameters

    def info(self) -> DatasetInfo:
        p = self.parameters
        sizes = split_sizes(self.shape.n_samples, self.shape.splits)
        return DatasetInfo(self.dataset, "regression", (p.rows, p.channels), (3,),
                           dict(zip(SPLITS, sizes, strict=True)))

    def generate_shard(self, index: int, n_samples: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        self.calls.append(index)
        if self.fail_on_shard == index:
            raise RuntimeError("simulated crash")
        if self.on_shard is not None:
            self.on_shard(index)
        p = self.parameters
        start, stop = self.shard_bounds()[index]
        assert stop - start == n_samples
        size = p.rows * p.channels
        offsets = (np.arange(size) * 1.5 - 3.0).reshape(p.rows, p.channels)
        spreads = (0.5 + np.arange(size) * 0.25).reshape(p.rows, p.channels) * p.scale
        x = rng.normal(size=(n_samples, p.rows, p.channels)) * spreads + offsets
        x[:, -1, -1] = 5.0
        y = np.empty((n_samples, 3))
        y[:, 0] = np.arange(start, stop)
        y[:, 1] = rng.uniform(-1.0, 3.0, n_samples)
        y[:, 2] = 3.0 * x[:, 0, 0] + 1.0
        return x.astype(np.float32), y.astype(np.float32)


MakeGenerator = Callable[..., TaggedGenerator]


@pytest.fixture
def make_generator() -> MakeGenerator:
    """``make_generator(n_samples=50, scale=2.0, inputs="feature", ...)`` → a fresh TaggedGenerator."""

    def make(*, dataset: str = "tagged", seed: int = 7, n_samples: int = 50, n_shards: int = 4,
             batch_size: int = 8, shuffle_buffer_size: int = 16,
             splits: tuple[float, float, float] = (0.6, 0.2, 0.2), inputs: str = "feature",
             targets: str = "feature", **parameters: Any) -> TaggedGenerator:
        shape = ShapeConfig(seed, n_samples, n_shards, batch_size, shuffle_buffer_size, splits)
        return TaggedGenerator(dataset, TaggedParameters(**parameters), shape, NormalizationConfig(inputs, targets))

    return make


@pytest.fixture
def cache_root(tmp_path: Path) -> Path:
    return tmp_path / "cache"
