"""A DARTS search into a folder: killed and resumed with identical α, its genotype and α history
written, early stopping on α, α per epoch handed to the caller, and the memory check before anything
is built."""

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
from scinas.training.darts_search import (
    check_supernet_memory,
    estimate_supernet_bytes,
    metric_name,
    run_supernet_search,
)

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


def _normal_counts(alphas: list[dict[str, Any]]) -> list[int]:
    """The parameter-free operations of the normal cell of the genotype after each epoch."""
    from scinas.search_space.genotype import derive_genotype

    return [derive_genotype({k: np.asarray(a[k]) for k in ("normal", "reduce")}, SETTINGS.candidates,
                            SETTINGS.nodes, 2).parameter_free()["normal"] for a in alphas]


@pytest.mark.slow
def test_early_stopping_on_alpha_stops_at_the_threshold_and_keeps_the_epoch_before(tmp_path: Path) -> None:
    bilevel = BilevelSettings(epochs=3, learning_rate=0.1, arch_learning_rate=0.3)

    def search(directory: Path, stop: int, warmup: int = 0) -> Any:
        return run_supernet_search(SETTINGS, INFO, bilevel, _batches, keras.losses.SparseCategoricalCrossentropy(),
                                   directory=directory, seed=2, batch_size=6, compiled=False,
                                   stop_parameter_free=stop, stop_warmup=warmup)

    straight = search(tmp_path / "straight", 0)
    counts = _normal_counts(straight.alphas)
    assert json.loads((tmp_path / "straight" / "alpha.json").read_text()).get("stopped_at") is None
    assert straight.stopped_at is None and straight.genotype_epoch == 3 and len(straight.alphas) == 3
    assert counts[0] < max(counts)  # (seed 2) a threshold first reached after epoch 1: the epoch before is kept
    # thresholds the search reaches: it stops after the first epoch at or above, keeping the epoch before
    for threshold in sorted({c for c in counts if c > 0}):
        first = next(e for e, c in enumerate(counts, 1) if c >= threshold)
        stopped = search(tmp_path / f"stop{threshold}", threshold)
        assert stopped.stopped_at == first and len(stopped.alphas) == first
        assert stopped.alphas == straight.alphas[:first]  # the same search, cut short
        kept = max(first - 1, 1)
        assert stopped.genotype_epoch == kept
        assert stopped.genotype == parse_genotype((tmp_path / f"stop{threshold}" / "genotype.txt").read_text(), 2)
        assert stopped.genotype.parameter_free()["normal"] == counts[kept - 1]
        assert json.loads((tmp_path / f"stop{threshold}" / "alpha.json").read_text())["stopped_at"] == first
        again = search(tmp_path / f"stop{threshold}", threshold)  # started again: stays stopped
        assert again.resumed_at == first and again.stopped_at == first and again.genotype == stopped.genotype
    # with a warm-up of one epoch the first epoch is not checked
    threshold = counts[0]
    later = next((e for e, c in enumerate(counts, 1) if e > 1 and c >= threshold), None)
    warmed = search(tmp_path / "warmup", threshold, warmup=1)
    assert warmed.stopped_at == later and len(warmed.alphas) == (later or 3)
    assert warmed.genotype_epoch == (later - 1 if later else 3)
    # a threshold above every epoch's count never stops
    unreached = max(counts) + 1
    if unreached <= 2 * SETTINGS.nodes:
        assert search(tmp_path / "unreached", unreached).stopped_at is None


@pytest.mark.slow
def test_every_epoch_s_alpha_reaches_the_callback_and_again_on_resume(tmp_path: Path) -> None:
    calls: list[tuple[int, float, float | None, dict[str, float]]] = []

    def search(batches: Any) -> Any:
        return run_supernet_search(SETTINGS, INFO, BILEVEL, batches, keras.losses.SparseCategoricalCrossentropy(),
                                   directory=tmp_path, seed=4, batch_size=6, compiled=False,
                                   on_epoch=lambda *args: calls.append(args))

    with pytest.raises(_Killed):
        search(_killed_at(1))
    assert [c[0] for c in calls] == [1] and calls[0][2] is not None and calls[0][2] > 0
    first = calls[0]
    calls.clear()
    result = search(_batches)
    assert [(c[0], c[2] is None) for c in calls] == [(1, True), (2, False)]  # epoch 1 replayed, then trained
    assert calls[0][1] == first[1] and calls[0][3] == first[3]
    for (epoch, loss, _, metrics), alphas in zip(calls, result.alphas, strict=True):
        assert loss == result.losses[epoch - 1]
        # every edge's softmax(α) of both cells, named by candidate (DARTS names where there are)
        assert metrics["alpha_normal_e0_none"] == alphas["normal"][0][0]
        assert metrics["alpha_reduce_e4_max_pool_3x3"] == alphas["reduce"][4][3]
        assert metrics["alpha_normal_e2_sep_conv_3x3"] == alphas["normal"][2][2]
        assert len([k for k in metrics if k.startswith("alpha_")]) == 2 * 5 * 4
        assert metrics["parameter_free_normal"] == _normal_counts([alphas])[0]
    assert metric_name("7 conv", 1) == "7_conv" and metric_name("3:2dr dconv", 1) == "dil_conv_3x3"
