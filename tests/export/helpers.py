"""Builders for the export tests: trial-style inference models and a tiny data.toml."""

from __future__ import annotations

import textwrap

import keras
import numpy as np

from scinas.data.base import DatasetInfo
from scinas.data.statistics import NormalizationStatistics
from scinas.models.cell_network import CellNetworkGenerator
from scinas.search_space.architecture import CellArchitecture
from scinas.search_space.cell import Cell
from scinas.search_space.macro import MacroConfig
from tests.conftest import TINY_DATA

SIZES = {"train": 8, "validation": 2, "test": 2}
TINY_MACRO = MacroConfig(filters=4, motifs=2, normal_cells_per_motif=1)

DIGITS_DATA = """
[digits]
generator = "images"
description = "60 scikit-learn digits"
[digits.parameters]
source = "digits"
[digits.shape]
n_samples = 60
splits = [0.5, 0.25, 0.25]
"""
PREDICT_DATA = textwrap.dedent(TINY_DATA) + textwrap.dedent(DIGITS_DATA)


def statistics_for(info: DatasetInfo, seed: int = 0) -> NormalizationStatistics:
    """Non-trivial per-feature statistics (targets standardised for regression)."""
    rng = np.random.default_rng(seed)
    targets = "feature" if info.task == "regression" else "none"
    target_shape = info.target_shape if targets == "feature" else ()
    return NormalizationStatistics("feature", targets, rng.normal(0.3, 0.1, info.input_shape),
                                   rng.uniform(0.5, 2.0, info.input_shape), rng.normal(1.0, 0.5, target_shape),
                                   rng.uniform(1.0, 3.0, target_shape), n_samples=10)


def inference_model(network: keras.Model, info: DatasetInfo, statistics: NormalizationStatistics) -> keras.Model:
    """What Trainer._save_artifacts saves: input normalisation, network, target de-normalisation."""
    layers: list[keras.layers.Layer] = [keras.Input(shape=info.input_shape)]  # type: ignore[list-item]
    layers += [statistics.input_layer(), network]
    output = statistics.target_output_layer()
    if output is not None:
        layers.append(output)
    return keras.Sequential(layers, name=f"{network.name}_inference")


def cell_inference_model(info: DatasetInfo, cell: str, seed: int = 0) -> keras.Model:
    """A cell network of the search space wrapped as a trial's inference model."""
    keras.utils.set_random_seed(seed)
    network = CellNetworkGenerator().build(CellArchitecture(Cell.from_text(cell), TINY_MACRO), info, name="trial")
    return inference_model(network, info, statistics_for(info, seed))


def dense_inference_model(info: DatasetInfo, seed: int = 0) -> keras.Model:
    """A small dense network (softmax for classification) as a trial's inference model."""
    keras.utils.set_random_seed(seed)
    classification = info.task == "classification"
    units = info.n_classes if classification else info.n_targets
    inputs = keras.Input(shape=info.input_shape)
    hidden = keras.layers.Dense(8, activation="relu")(keras.layers.Flatten()(inputs))
    output = keras.layers.Dense(units, activation="softmax" if classification else None)(hidden)
    if not classification and info.target_shape != (units,):
        output = keras.layers.Reshape(info.target_shape or (1,))(output)
    return inference_model(keras.Model(inputs, output, name="net"), info, statistics_for(info, seed))
