"""Building a cache with worker processes gives byte-identical shards to a sequential build."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from scinas.config.loading import load_config
from scinas.data.cache import default_workers, ensure_cache
from scinas.data.spec import build_generator
from tests.conftest import ConfigWriter


def test_parallel_build_matches_sequential(write_config: ConfigWriter, tmp_path: Path) -> None:
    generator = build_generator(load_config(write_config(), ["tiny.shape.n_shards=4"]), "tiny")
    sequential = ensure_cache(generator, tmp_path / "one", progress=False, workers=1)
    parallel = ensure_cache(generator, tmp_path / "two", progress=False, workers=2)
    for shard in range(4):
        for path in (sequential.x_path(shard), sequential.y_path(shard)):
            twin = parallel.directory / path.name
            assert np.array_equal(np.fromfile(path, "<f4"), np.fromfile(twin, "<f4"))
    meta_one = json.loads((sequential.directory / "meta.json").read_text())
    meta_two = json.loads((parallel.directory / "meta.json").read_text())
    assert meta_one["sha256"] == meta_two["sha256"] and meta_one["shards"] == meta_two["shards"]


@pytest.mark.parametrize(("cores", "expected"), [(1, 1), (3, 3), (8, 8), (64, 8)])
def test_default_workers_one_per_core_up_to_the_shards(write_config: ConfigWriter, monkeypatch: pytest.MonkeyPatch,
                                                        cores: int, expected: int) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    large = build_generator(load_config(write_config(), ["tiny.shape.n_samples=40000", "tiny.shape.n_shards=8"]),
                            "tiny")  # 5000 samples per shard
    assert default_workers(large) == expected


def test_default_workers_only_for_large_shards(write_config: ConfigWriter, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    small = build_generator(load_config(write_config()), "tiny")
    assert default_workers(small) == 1
    # just under and at the 500 samples per shard from which shards are built in parallel
    under = build_generator(load_config(write_config(), ["tiny.shape.n_samples=3992", "tiny.shape.n_shards=8"]),
                            "tiny")
    assert default_workers(under) == 1
    at = build_generator(load_config(write_config(), ["tiny.shape.n_samples=4000", "tiny.shape.n_shards=8"]),
                         "tiny")
    assert default_workers(at) == 8
