"""Seed-style data tables: no ``generator`` means Michaelis–Menten (said in an info line), and
regression targets are standardised unless the table says otherwise; the saved model predicts
raw units and the store says which units the losses are in."""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

from scinas.cli import main
from scinas.config.loading import load_config
from scinas.data.base import NormalizationConfig
from scinas.data.michaelis_menten import MichaelisMentenGenerator
from scinas.data.pipeline import PreparedDataset
from scinas.data.spec import build_generator
from scinas.data.statistics import NormalizationStatistics
from scinas.store import RunStore
from tests.conftest import TINY_DATA, ConfigWriter

# A data table in the seed project's form: no generator, no normalisation table.
SEED_STYLE_DATA = TINY_DATA.replace('generator = "michaelis_menten"\n', "")

# A layer list in the seed README's shape (one convolution, a wide dense layer, 12 linear outputs).
SEED_STYLE_EXPERIMENT = """
default = ["S"]
[S]
[S.structure]
layers = [
  { type = "Conv2D", filters = 4, kernel_size = [3, 1], activation = "relu" },
  { type = "Flatten" },
  { type = "Dense", units = 16, activation = "relu" },
  { type = "Dense", units = 12, activation = "linear" },
]
[S.compile]
optimizer = "adam"
loss = "mean_squared_error"
metrics = ["R_squared", "MeanSquaredError"]
[S.dataset]
training = "tiny"
[S.training]
epochs = 1
tensorboard = false
"""


def test_a_table_without_generator_is_michaelis_menten_and_says_so(write_config: ConfigWriter,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    assert "generator" not in SEED_STYLE_DATA
    caplog.set_level(logging.INFO, logger="scinas.data.spec")
    generator = build_generator(load_config(write_config(data=SEED_STYLE_DATA)), "tiny")
    assert isinstance(generator, MichaelisMentenGenerator)
    assert any("names no generator; using generator = 'michaelis_menten'" in r.getMessage() for r in caplog.records)


def test_regression_targets_are_standardised_by_default_class_labels_are_not(write_config: ConfigWriter,
                                                                             tmp_path: Path) -> None:
    generator = build_generator(load_config(write_config(data=SEED_STYLE_DATA)), "tiny")
    assert generator.normalization == NormalizationConfig("feature", "feature")
    data = PreparedDataset.prepare(generator, tmp_path / "cache", progress=False)
    _, y = data.arrays("train")
    np.testing.assert_allclose(data.statistics.target_mean, y.astype(np.float64).mean(axis=0), rtol=1e-9)
    assert data.statistics.target_output_layer() is not None
    explicit = SEED_STYLE_DATA + '[tiny.normalization]\ntargets = "none"\n'
    raw = load_config(write_config(data=explicit, name="none"))
    assert build_generator(raw, "tiny").normalization.targets == "none"
    (tmp_path / "digits").mkdir()
    (tmp_path / "digits" / "configurations.toml").write_text("default = []\n")
    (tmp_path / "digits" / "data.toml").write_text(textwrap.dedent("""
        [digits]
        generator = "images"
        [digits.parameters]
        source = "digits"
    """))
    assert build_generator(load_config(tmp_path / "digits"), "digits").normalization.targets == "none"
    assert NormalizationConfig().resolved("classification").targets == "none"
    assert NormalizationConfig().resolved("regression").targets == "feature"


def test_a_seed_style_run_trains_on_standardised_targets_and_saves_a_raw_unit_model(
        write_config: ConfigWriter, tmp_path: Path) -> None:
    config = write_config(SEED_STYLE_EXPERIMENT, SEED_STYLE_DATA)
    results = tmp_path / "results"
    assert main(["run", "S", "--config-dir", str(config), "--results", str(results), "--no-progress", "-q"]) == 0
    (run,) = sorted((results / "S").iterdir())
    with RunStore.open(run / "store.sqlite", readonly=True) as store:
        (trial,) = store.trials()
        assert trial.extra["loss_units"] == "standardized"
    trial_dir = run / "trials" / trial.name
    stats = NormalizationStatistics.load(trial_dir / "normalization.npz")
    assert stats.targets == "feature"
    saved = keras.models.load_model(trial_dir / "model.keras")
    assert saved.layers[-1].name == "target_denormalization"
    # the saved model = de-standardise(core(standardise(x))): raw units
    data = PreparedDataset.prepare(build_generator(load_config(config), "tiny"), results / ".cache", progress=False)
    x, _ = data.arrays("test")
    core = next(layer for layer in saved.layers if isinstance(layer, keras.Model))
    expected = stats.denormalize_targets(core(stats.normalize_inputs(x))).numpy()
    np.testing.assert_allclose(saved.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
