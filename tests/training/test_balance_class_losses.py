"""``[X.compile] balance_class_losses``: weights 1 / (classes · share) from the training split, the
weighted cross-entropy in the compiled model, and errors naming the key."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scinas.config.experiment import parse_experiment
from scinas.config.loading import load_config
from scinas.data.pipeline import PreparedDataset
from scinas.data.spec import build_generator
from scinas.errors import ConfigError
from scinas.experiment.plan import architecture_of, plan_experiments
from scinas.models.segmentation import PixelCrossentropy
from scinas.training.trainer import build_compiled_model
from tests.conftest import TINY_DATA, TINY_EXPERIMENTS, ConfigWriter

CELLS_DATA = """
[c]
generator = "fluorescence_cells"
[c.parameters]
size = [16, 16]
cell_radius = [3.0, 6.0]
[c.shape]
seed = 2
n_samples = 24
n_shards = 2
batch_size = 8
splits = [0.5, 0.25, 0.25]
"""

SEGMENT = """
[S]
seed = 1
[S.dataset]
training = "c"
[S.structure]
cell = "[(-1, 3x3 conv, -1, 2x2 maxpool)]"
[S.architecture]
filters = 4
motifs = 2
normal_cells_per_motif = 1
[S.compile]
metrics = ["mean_iou"]
balance_class_losses = true
[S.training]
epochs = 1
"""


def test_weights_follow_the_training_split_and_enter_the_loss(write_config: ConfigWriter, tmp_path: Path) -> None:
    raw = load_config(write_config(SEGMENT, CELLS_DATA))
    dataset = PreparedDataset.prepare(build_generator(raw, "c"), tmp_path / "cache", progress=False)
    _, y = dataset.arrays("train")
    shares = np.bincount(y.astype(int).ravel(), minlength=3) / y.size
    expected = 1 / (3 * shares)
    weights = dataset.class_weights(chunk=5)  # chunks of 5 samples: the counts add up across chunks
    np.testing.assert_allclose(weights, expected, rtol=1e-9)
    assert weights[2] > weights[0]  # nuclei are rarer than background
    config = parse_experiment(raw, "S", rank=2)
    model = build_compiled_model(config, architecture_of(config), dataset)
    assert isinstance(model.loss, PixelCrossentropy)
    np.testing.assert_allclose(model.loss.class_weights or [], expected, rtol=1e-6)


def test_a_named_loss_or_a_regression_dataset_is_refused(write_config: ConfigWriter) -> None:
    named = SEGMENT.replace('metrics = ["mean_iou"]', 'metrics = ["mean_iou"]\nloss = "mse"')
    with pytest.raises(ConfigError, match=r"\[S.compile\] balance_class_losses = true: class weights apply to the "
                                          r"automatic cross-entropy, not to the loss 'mse'"):
        parse_experiment(load_config(write_config(named, CELLS_DATA)), "S")
    regression = TINY_EXPERIMENTS.replace('loss = "mse"\n', "balance_class_losses = true\n")
    with pytest.raises(ConfigError, match=r"\[T.compile\] balance_class_losses = true: class weights need class "
                                          "labels"):
        plan_experiments(load_config(write_config(regression, TINY_DATA)), ["T"])
