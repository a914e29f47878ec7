"""The DARTS supernet: its edges, α, reductions, outputs and the errors of bad settings."""

from __future__ import annotations

import numpy as np
import pytest

from scinas.data.base import DatasetInfo
from scinas.errors import ConfigError
from scinas.models.supernet import Supernet, SupernetSettings, edge_sources, reduction_layers
from scinas.search_space.darts_ops import darts_name, expand_operators, is_parameter_free, scinas_operator

IMAGES = DatasetInfo("tiny", "classification", (6, 6, 1), (), {"train": 8}, n_classes=3)
SERIES = DatasetInfo("tiny", "regression", (12, 2), (2, 3), {"train": 8})


def test_edges_and_reductions_follow_darts() -> None:
    assert len(edge_sources(4)) == 14 and edge_sources(2) == [(0, 2), (1, 2), (0, 3), (1, 3), (2, 3)]
    assert reduction_layers(8) == (2, 5) and reduction_layers(3) == (1, 2)


def test_the_darts_set_by_name_for_both_ranks() -> None:
    images = expand_operators(["darts"], rank=2)
    assert images == ["identity", "3x3 maxpool", "3x3 avgpool", "3x3 dconv", "5x5 dconv", "3x3:2dr dconv",
                      "5x5:2dr dconv"]
    assert expand_operators(["sep_conv_3x3", "3 dconv", "darts"], rank=1)[:2] == ["3 dconv", "identity"]
    assert scinas_operator("dil_conv_5x5", 1) == "5:2dr dconv" and darts_name("3x3 dconv", 2) == "sep_conv_3x3"
    assert darts_name("3x3 conv", 2) == "3x3 conv"
    assert is_parameter_free("identity") and is_parameter_free("3 avgpool") and not is_parameter_free("3 dconv")


def test_a_supernet_mixes_every_candidate_on_every_edge() -> None:
    settings = SupernetSettings(operators=("identity", "3x3 dconv", "3x3 maxpool"), layers=3, nodes=2, filters=2)
    model = Supernet(settings, IMAGES, seed=1)
    x = np.random.default_rng(0).normal(size=(4, 6, 6, 1)).astype("float32")
    probabilities = np.asarray(model(x))
    assert probabilities.shape == (4, 3) and np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert settings.candidates == ("none", "identity", "3x3 dconv", "3x3 maxpool")
    assert model.alpha_normal.shape == (5, 4) and model.alpha_reduce.shape == (5, 4)
    weights = model.edge_weights("normal")
    assert np.allclose(weights.sum(axis=1), 1.0) and np.all(np.abs(weights - 0.25) < 0.01)  # α starts near 0
    assert not np.allclose(model.edge_weights("normal"), model.edge_weights("reduce"))  # two α, drawn apart
    assert [cell.reduction for cell in model.cells] == [False, True, True]
    alphas = {id(a) for a in model.architecture_weights}
    assert alphas.isdisjoint(id(w) for w in model.network_weights)
    assert len(model.network_weights) + 2 == len(model.trainable_weights)
    # the output depends on α: a different mixture gives different probabilities
    model.alpha_normal.assign(np.eye(5, 4, k=2) * 20.0)
    assert not np.allclose(np.asarray(model(x)), probabilities)


def test_a_none_edge_contributes_nothing() -> None:
    settings = SupernetSettings(operators=("identity",), layers=3, nodes=1, filters=2)
    model = Supernet(settings, IMAGES, seed=0)
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 1)).astype("float32")
    model(x)
    for alpha in model.architecture_weights:  # every edge all `none`: every cell outputs zeros
        alpha.assign(np.array([[50.0, -50.0]] * 2))
    cell = model.cells[0]
    stem = model.stem_bn(model.stem_conv(x))
    out = cell([stem, stem], np.array([[1.0, 0.0]] * 2, dtype="float32"))
    assert np.allclose(np.asarray(out), 0.0)


def test_regression_outputs_take_the_targets_shape_on_series() -> None:
    settings = SupernetSettings(operators=("3 dconv", "3 avgpool"), layers=3, nodes=1, filters=2)
    model = Supernet(settings, SERIES)
    assert tuple(model(np.zeros((3, 12, 2), dtype="float32")).shape) == (3, 2, 3)


@pytest.mark.parametrize(("changes", "key", "words"), [
    ({"nodes": 0}, "A.search.nodes", "at least one intermediate node"),
    ({"layers": 2}, "A.search.layers", "two reduction"),
    ({"operators": ("none", "identity")}, "A.search_space.operators", "added to every mixed edge"),
    ({"operators": ()}, "A.search_space.operators", "at least one operator"),
])
def test_bad_settings_name_the_toml_key(changes: dict[str, object], key: str, words: str) -> None:
    arguments: dict[str, object] = {"operators": ("identity",), "path": "A.search", "file": "configurations.toml"}
    arguments.update(changes)
    with pytest.raises(ConfigError) as caught:
        SupernetSettings(**arguments)  # type: ignore[arg-type]
    assert caught.value.path == key and words in str(caught.value)
