"""The DatasetGenerator conformance suite: passes a correct generator, names each broken rule."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from scinas.data.base import DatasetInfo
from scinas.testing.generators import check_generator

MakeGenerator = Callable[..., Any]  # the fixture of conftest.py


@pytest.mark.parametrize("n_shards", [1, 2, 5])
def test_the_fake_generator_conforms(make_generator: MakeGenerator, n_shards: int) -> None:
    check_generator(make_generator(n_samples=23, n_shards=n_shards))


def _broken(make_generator: MakeGenerator, defect: str) -> Any:
    """The fake generator with one defect, as a subclass (the suite also builds new instances)."""
    good = make_generator()
    base: type[Any] = type(good)

    def generate_shard(self: Any, index: int, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        if defect == "same shards":
            rng = self.shard_rng(0)
        elif defect == "ignores seed":
            rng = np.random.default_rng(index)
        x, y = base.generate_shard(self, index, n, rng)
        if defect == "float64":
            return x.astype(np.float64), y
        if defect == "nan":
            x[0, 0, 0] = np.nan
        elif defect == "stateful":
            x += len(self.calls)
        elif defect == "short":
            return x[:-1], y[:-1]
        return x, y

    def info(self: Any) -> DatasetInfo:
        info: DatasetInfo = base.info(self)
        if defect == "split sizes":
            return DatasetInfo(info.name, info.task, info.input_shape, info.target_shape,
                               {"train": 1, "validation": 1, "test": 48})
        return info

    broken = type("Broken", (base,), {"generate_shard": generate_shard, "info": info})
    return broken(good.dataset, good.parameters, good.shape, good.normalization)


@pytest.mark.parametrize(("defect", "message"), [
    ("float64", "dtype float64, expected float32"),
    ("nan", "NaN or infinite"),
    ("stateful", "differs when generated again"),
    ("same shards", "have identical inputs"),
    ("ignores seed", "another seed gives the same samples"),
    ("short", r"has shape \(11, 4, 2\), expected \(12, 4, 2\)"),
    ("split sizes", "split_sizes"),
])
def test_each_broken_rule_is_named(make_generator: MakeGenerator, defect: str, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_generator(_broken(make_generator, defect))


def test_a_definition_that_is_not_json_is_rejected(make_generator: MakeGenerator) -> None:
    generator = make_generator()
    definition = generator.definition()
    generator.definition = lambda: {**definition, "grid": np.arange(3)}
    with pytest.raises(AssertionError, match="plain JSON"):
        check_generator(generator)
