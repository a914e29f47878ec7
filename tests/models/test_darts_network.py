"""A DARTS genotype as a fixed architecture: ``[X.structure] genotype``, its evaluation network
(reductions, auxiliary head, drop-path), a run, `scinas predict` and the ONNX export."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import keras
import numpy as np
import pytest

from scinas.cli import main
from scinas.config.loading import load_config
from scinas.data.base import DatasetInfo
from scinas.errors import ConfigError
from scinas.experiment.plan import plan_experiments
from scinas.models.darts_network import DartsNetworkGenerator, DropPath
from scinas.models.lookup import generator_for
from scinas.search_space.darts_architecture import DartsArchitecture, DartsNetwork
from scinas.search_space.genotype import parse_genotype
from tests.conftest import SERIES_DATA, ConfigWriter
from tests.export.helpers import DIGITS_DATA

GENOTYPE = ("Genotype(normal=[('sep_conv_3x3', 0), ('skip_connect', 1), ('max_pool_3x3', 2), ('sep_conv_5x5', 0)], "
            "normal_concat=range(2, 4), reduce=[('avg_pool_3x3', 0), ('dil_conv_3x3', 1), ('skip_connect', 2), "
            "('max_pool_3x3', 1)], reduce_concat=range(2, 4))")
IMAGES = DatasetInfo("digits", "classification", (8, 8, 1), (), {"train": 8}, n_classes=10)


@pytest.fixture(autouse=True)
def _fresh_session() -> Iterator[None]:
    keras.backend.clear_session()
    yield
    keras.backend.clear_session()


def test_the_network_reduces_twice_and_has_an_auxiliary_head() -> None:
    architecture = DartsArchitecture(parse_genotype(GENOTYPE, rank=2),
                                     DartsNetwork(layers=3, filters=4, auxiliary_weight=0.4, drop_path=0.3))
    generator = generator_for(architecture)
    assert isinstance(generator, DartsNetworkGenerator)
    model = generator.build(architecture, IMAGES, name="g")
    assert model.output_names == ["output", "auxiliary"]
    assert generator.loss_weights(architecture) == {"output": 1.0, "auxiliary": 0.4}
    names = {layer.name for layer in model.layers}
    assert {"c1_n0_op0", "c2_pre0_conv", "c0_concat", "stem_conv"} <= names
    # cells 1 and 2 reduce (8 -> 4 -> 2), each concatenating 2 nodes of 2 * 4 * 2**k channels
    assert tuple(model.get_layer("c0_concat").output.shape) == (None, 8, 8, 8)
    assert tuple(model.get_layer("c1_concat").output.shape) == (None, 4, 4, 16)
    assert tuple(model.get_layer("c2_concat").output.shape) == (None, 2, 2, 32)
    drops = [layer for layer in model.layers if isinstance(layer, DropPath)]
    assert drops and "c0_n0_drop1" not in names  # a plain identity path is never dropped
    assert architecture.to_text().endswith("{layers=3, filters=4, auxiliary_weight=0.4, drop_path=0.3}")
    assert DartsArchitecture.from_json(json.loads(json.dumps(architecture.to_json()))) == architecture


def test_drop_path_drops_whole_samples_only_in_training() -> None:
    layer = DropPath(0.5, seed=1)
    x = np.ones((64, 3, 2), dtype="float32")
    assert np.array_equal(np.asarray(layer(x, training=False)), x)
    out = np.asarray(layer(x, training=True))
    per_sample = out.reshape(64, -1)
    assert set(np.unique(per_sample)) == {0.0, 2.0}
    assert all(len(set(row)) == 1 for row in per_sample) and 10 < (per_sample[:, 0] == 0).sum() < 54


def _experiment(structure: str, loss: str, metric: str) -> str:
    return f"""
default = ["G"]
[G]
seed = 2
[G.dataset]
training = "data"
[G.structure]
{structure}
[G.compile]
optimizer = {{ name = "adam", learning_rate = 3e-3 }}
loss = "{loss}"
metrics = ["{metric}"]
[G.training]
epochs = 1
tensorboard = false
[G.costs]
latency = false
"""


@pytest.mark.slow
def test_a_genotype_experiment_trains_and_predicts_on_series(write_config: ConfigWriter, tmp_path: Path) -> None:
    genotype = ("Genotype(normal=[('sep_conv_3x3', 0), ('skip_connect', 1)], "
                "reduce=[('max_pool_3x3', 0), ('7 conv', 1)])")
    structure = f'genotype = "{genotype}"\nlayers = 3\nfilters = 4\nauxiliary_weight = 0.4\ndrop_path = 0.2'
    config = write_config(_experiment(structure, "mse", "R_squared"), SERIES_DATA.replace("[tiny", "[data"))
    results = tmp_path / "results"
    assert main(["run", "--config-dir", str(config), "--results", str(results), "--no-progress"]) == 0
    run = next((results / "G").iterdir())
    trial = run / "trials" / "trial-0000"
    assert (trial / "model.keras").exists() and (trial / "cell_normal.dot").exists()
    reduce = (trial / "cell_reduce.dot").read_text()
    assert "c_{k-2}" in reduce and "7 conv" in reduce
    metrics = json.loads((trial / "metrics.json").read_text())
    assert "r_squared" in metrics["test"] and "auxiliary_loss" in metrics["test"]  # the auxiliary head trained
    assert main(["predict", "--model", str(trial), "--data", "data", "--config-dir", str(config),
                 "--cache-dir", str(results / ".cache")]) == 0
    rows = (trial / "predictions" / "data" / "predictions.csv").read_text().splitlines()
    assert len(rows) == 1 + 24 and rows[0].count(",target_") == 12  # 12 targets, the auxiliary head left out


def test_a_genotype_network_exports_to_onnx(tmp_path: Path) -> None:
    pytest.importorskip("tf2onnx")
    pytest.importorskip("onnxruntime")
    from scinas.export.onnx import check_onnx_parity, export_onnx

    architecture = DartsArchitecture(parse_genotype(GENOTYPE, rank=2), DartsNetwork(layers=3, filters=2,
                                                                                   drop_path=0.2))
    model = DartsNetworkGenerator().build(architecture, IMAGES)
    path = export_onnx(model, tmp_path / "model.onnx")
    x = np.random.default_rng(0).normal(size=(5, 8, 8, 1)).astype("float32")
    assert check_onnx_parity(model, path, x).passed


@pytest.mark.parametrize(("structure", "key", "words"), [
    ('genotype = "Genotype(normal=[(\'sep_conv_3x3\', 0)])"', "G.structure.genotype", "'reduce' is missing"),
    ('genotype = "Genotype(normal=[(\'conv_3x3\', 0), (\'skip_connect\', 1)], reduce=[])"',
     "G.structure.genotype", "unknown operation 'conv_3x3'"),
    (f'genotype = "{GENOTYPE}"\nlayers = 2', "G.structure.layers", ">= 3"),
    (f'genotype = "{GENOTYPE}"\ncell = "[]"', "G.structure.cell", "either `cell` or `genotype`"),
    (f'genotype = "{GENOTYPE}"\nfliters = 8', "G.structure.fliters", "filters"),
])
def test_bad_genotype_structures_name_the_key(write_config: ConfigWriter, structure: str, key: str,
                                              words: str) -> None:
    config = write_config(_experiment(structure, "sparse_categorical_crossentropy", "accuracy"),
                          DIGITS_DATA.replace("[digits", "[data"))
    with pytest.raises(ConfigError) as caught:
        plan_experiments(load_config(config), ["G"])
    assert caught.value.path == key and words in str(caught.value)
