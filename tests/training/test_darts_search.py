"""A DARTS search into a folder: killed and resumed with identical α, its genotype and α history
written, and the memory check before anything is built."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from scinas.data.base import DatasetInfo
from scinas.errors import ConfigError
from scinas.models.supernet import SupernetSettings
from scinas.search_space.genotype import parse_genotype
from scinas.training.bilevel import BilevelSettings
from scinas.training.darts_search import check_supernet_memory, estimate_supernet_bytes, run_supernet_search

INFO = DatasetInfo("tiny", "classification", (4, 4, 1), (), {"train": 8}, n_classes=3)
SETTINGS = SupernetSettings(operators=("identity", "3x3 dconv", "3x3 maxpool"), layers=3, nodes=2, filters=2,
                            path="A.search", file="configurations.toml")
BILEVEL = BilevelSettings(epochs=2, learning_rate=0.1, arch_learning_rate=0.05)


def _batches(epoch: int) -> list[tuple[tuple[Any, Any], tuple[Any, Any]]]:
    rng = np.random.default_rng(100 + epoch)  # each epoch's batches from the seed and the epoch alone
    x = rng.normal(size=(12, 4, 4, 1)).astype("float32")
    y = rng.integers(3, size=12)
    return [((x[:6], y[:6]), (x[6:], y[6:]))]


class _Killed(Exception):
    pass


def _killed_at(epoch: int) -> Any:
    def batches(e: int) -> Iterable[tuple[tuple[Any, Any], tuple[Any, Any]]]:
        if e == epoch:
            raise _Killed
        return _batches(e)
    return batches


def _search(directory: Path, batches: Any = _batches) -> Any:
    return run_supernet_search(SETTINGS, INFO, BILEVEL, batches, keras.losses.SparseCategoricalCrossentropy(),
                               directory=directory, seed=4, batch_size=6, compiled=False)


@pytest.mark.slow
def test_a_killed_search_resumes_with_identical_alpha(tmp_path: Path) -> None:
    straight = _search(tmp_path / "straight")
    with pytest.raises(_Killed):
        _search(tmp_path / "killed", _killed_at(1))
    assert json.loads((tmp_path / "killed" / "checkpoint" / "state.json").read_text())["epoch"] == 1
    resumed = _search(tmp_path / "killed")
    assert resumed.resumed_at == 1 and straight.resumed_at == 0
    assert resumed.alphas == straight.alphas and len(resumed.alphas) == 2
    assert resumed.genotype == straight.genotype
    assert resumed.alphas[0] != resumed.alphas[1]  # α moved between the epochs

    folder = tmp_path / "straight"
    genotype = parse_genotype((folder / "genotype.txt").read_text(), rank=2)
    assert genotype == straight.genotype and genotype.nodes == 2
    assert "normal: [" in (folder / "cells.txt").read_text() and (folder / "cell_normal.dot").exists()
    history = json.loads((folder / "alpha.json").read_text())
    assert history["candidates"] == ["none", "identity", "3x3 dconv", "3x3 maxpool"]
    assert np.asarray(history["epochs"][1]["reduce"]).shape == (5, 4)


def test_a_supernet_too_large_is_refused_with_smaller_settings() -> None:
    small = estimate_supernet_bytes(SETTINGS, INFO, 8)
    assert estimate_supernet_bytes(SETTINGS, INFO, 16) > small
    assert estimate_supernet_bytes(SETTINGS, INFO, 8, order=2) == 2 * small
    assert check_supernet_memory(SETTINGS, INFO, 8, limit_bytes=small) == small
    limit = estimate_supernet_bytes(SETTINGS, INFO, 8, order=2)
    with pytest.raises(ConfigError) as caught:
        check_supernet_memory(SETTINGS, INFO, 64, order=2, limit_bytes=limit)
    message = str(caught.value)
    assert caught.value.path == "A.search.filters" and "more than the" in message
    assert "batch_size = " in message and "order = 1" in message
    fits = int(message.split("batch_size = ")[1].split(maxsplit=1)[0])
    assert fits == 8 and "MiB available" in message
