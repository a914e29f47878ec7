"""``[X.training] precise_bn`` / ``precise_bn_batches``: parsed, validated with TOML paths, "auto"
resolved by the steps of an epoch, and applied by the trainer (recorded in the store)."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from scinas.cli import main
from scinas.config.experiment import parse_experiment
from scinas.config.loading import load_config
from scinas.data.pipeline import PreparedDataset
from scinas.data.spec import build_generator
from scinas.errors import ConfigError
from scinas.store import RunStore
from scinas.training.trainer import PRECISE_BN_AUTO_STEPS, precise_bn_enabled
from tests.conftest import SERIES_DATA, TINY_EXPERIMENTS, ConfigWriter

BN_LAYERS = """layers = [
  { type = "Flatten" },
  { type = "Dense", units = 8 },
  { type = "BatchNormalization" },
  { type = "Dense", units = 12 },
]"""


def _experiments(training: str, layers: str | None = None) -> str:
    text = TINY_EXPERIMENTS.replace("epochs = 2", f"epochs = 2\ntensorboard = false\n{training}")
    if layers is not None:
        start = text.index("layers = [")
        text = text[:start] + layers + text[text.index("]\n[T.compile]") + 1:]
    return text


def _error(write_config: ConfigWriter, experiments: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_experiment(load_config(write_config(experiments)), "T")
    return str(info.value)


def test_defaults_and_values(write_config: ConfigWriter) -> None:
    config = parse_experiment(load_config(write_config(_experiments(""))), "T")
    assert config.training.precise_bn == "auto" and config.training.precise_bn_batches == 200
    raw = load_config(write_config(_experiments("precise_bn = false\nprecise_bn_batches = 3")))
    config = parse_experiment(raw, "T")
    assert config.training.precise_bn is False and config.training.precise_bn_batches == 3


@pytest.mark.parametrize(("line", "expected"), [
    ('precise_bn = "yes"', '[T.training] precise_bn = "yes": expected "auto", true or false'),
    ("precise_bn = 1", '[T.training] precise_bn = 1: expected "auto", true or false'),
    ("precise_bn_batches = 0", "[T.training] precise_bn_batches = 0: expected an integer >= 1"),
    ('precise_bn_batches = "all"', '[T.training] precise_bn_batches = "all": expected an integer >= 1'),
])
def test_bad_values_name_the_key(write_config: ConfigWriter, line: str, expected: str) -> None:
    assert expected in _error(write_config, _experiments(line))


def test_precise_bn_true_on_a_layer_list_without_batch_normalisation(write_config: ConfigWriter) -> None:
    message = _error(write_config, _experiments("precise_bn = true"))
    assert "configurations.toml: [T.training] precise_bn = true: " in message
    assert "no BatchNormalization layer" in message and "fix:" in message
    # with a BatchNormalization layer it is accepted; "auto" never complains
    parse_experiment(load_config(write_config(_experiments("precise_bn = true", BN_LAYERS))), "T")
    parse_experiment(load_config(write_config(_experiments('precise_bn = "auto"'))), "T")


def test_auto_is_on_for_few_steps_only() -> None:
    assert precise_bn_enabled("auto", 1) and precise_bn_enabled("auto", PRECISE_BN_AUTO_STEPS)
    assert not precise_bn_enabled("auto", PRECISE_BN_AUTO_STEPS + 1)
    assert precise_bn_enabled(True, 10_000) and not precise_bn_enabled(False, 1)


def _trial_extra(results: Path) -> dict[str, object]:
    (run,) = sorted((results / "T").iterdir())
    with RunStore.open(run / "store.sqlite", readonly=True) as store:
        (trial,) = store.trials()
        return dict(trial.extra)


@pytest.mark.parametrize("setting", ["true", "false"])
def test_the_trainer_applies_it_and_the_store_says_so(write_config: ConfigWriter, tmp_path: Path,
                                                      setting: str) -> None:
    config = write_config(_experiments(f"precise_bn = {setting}", BN_LAYERS))
    results = tmp_path / f"results-{setting}"
    assert main(["run", "T", "--config-dir", str(config), "--results", str(results), "--no-progress", "-q"]) == 0
    extra = _trial_extra(results)
    assert extra["precise_bn"] is (setting == "true")
    assert extra["loss_units"] == "standardized"  # the tiny regression targets are standardised by default
    # the saved model's BN statistics are those of the training split under the final weights
    (run,) = sorted((results / "T").iterdir())
    saved = keras.models.load_model(run / "trials" / "trial-0000" / "model.keras")
    (core,) = [layer for layer in saved.layers if isinstance(layer, keras.Model)]
    dense = next(layer for layer in core.layers if isinstance(layer, keras.layers.Dense))
    (bn,) = [layer for layer in core.layers if isinstance(layer, keras.layers.BatchNormalization)]
    generator = build_generator(load_config(config), "tiny")
    x, _ = PreparedDataset.prepare(generator, results / ".cache", progress=False).arrays("train", normalize=True)
    kernel, bias = dense.get_weights()
    hidden = x.reshape(len(x), -1).astype(np.float64) @ kernel + bias
    matches = np.allclose(bn.moving_mean.numpy(), hidden.mean(axis=0), rtol=1e-4, atol=1e-4) and np.allclose(
        bn.moving_variance.numpy(), hidden.var(axis=0), rtol=1e-3, atol=1e-5)
    assert matches is (setting == "true")


def test_auto_turns_it_on_for_a_cell_network_on_a_tiny_split(write_config: ConfigWriter, tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    cells = TINY_EXPERIMENTS.replace('[T.structure]\nlayers = [\n  { type = "Flatten" },\n'
                                     '  { type = "Dense", units = 8, activation = "relu" },\n'
                                     '  { type = "Dense", units = 12 },\n]',
                                     '[T.structure]\ncell = "[(-1, 3 conv, -1, identity)]"\n'
                                     '[T.architecture]\nfilters = 4\nmotifs = 1\nnormal_cells_per_motif = 1')
    assert "cell =" in cells
    config = write_config(cells.replace("epochs = 2", "epochs = 2\ntensorboard = false"), SERIES_DATA)
    results = tmp_path / "results"
    caplog.set_level("INFO", logger="scinas.training.trainer")
    assert main(["run", "T", "--config-dir", str(config), "--results", str(results), "--no-progress", "-q"]) == 0
    assert _trial_extra(results)["precise_bn"] is True  # 72 samples in batches of 16: 5 steps
    assert any("precise_bn: on" in record.getMessage() for record in caplog.records)
