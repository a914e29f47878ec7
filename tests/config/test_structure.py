"""``[X.structure] cell`` with ``[X.architecture]`` and ``[X.search_space]``: parsing, every bad input
with its TOML path, and a fixed cell trained end to end through the same spine as a layer stack."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from pathlib import Path

import keras
import pytest

from scinas.cli import main
from scinas.config.loading import load_config
from scinas.config.structure import CellStructure
from scinas.errors import ConfigError
from scinas.experiment.plan import plan_experiments
from scinas.search_space.architecture import CellArchitecture
from tests.conftest import TINY_DATA, ConfigWriter

SERIES_DATA = TINY_DATA.replace("amplitude_max = 0.8",
                                'amplitude_max = 0.8\nn_times = 33\nt_max = 40.0\nlayout = "series"')
IMAGE_DATA = TINY_DATA.replace("amplitude_max = 0.8", "amplitude_max = 0.8\nn_times = 17\nt_max = 40.0")

CELL_EXPERIMENT = """
default = ["C"]
[C]
seed = 5
[C.dataset]
training = "tiny"
[C.structure]
cell = "{cell}"
[C.architecture]
filters = 4
motifs = 2
normal_cells_per_motif = 1
{extra}
[C.compile]
metrics = ["R_squared"]
[C.training]
epochs = 1
tensorboard = false
[C.costs]
latency_repeats = 3
"""

SERIES_CELL = "[(-1, 3 conv, -2, 2 maxpool); (0, identity, -1, 3 dconv)]"
IMAGE_CELL = "[(-1, 3x3 conv, -2, 2x2 maxpool); (0, identity, -1, 3x3 dconv)]"


def _experiments(cell: str = SERIES_CELL, extra: str = "") -> str:
    return CELL_EXPERIMENT.format(cell=cell, extra=extra)


def _error(write_config: ConfigWriter, experiments: str, data: str = SERIES_DATA) -> str:
    raw = load_config(write_config(experiments, data))
    with pytest.raises(ConfigError) as info:
        plan_experiments(raw, ["C"])
    return str(info.value)


@pytest.mark.parametrize(("cell", "data"), [(SERIES_CELL, SERIES_DATA), (IMAGE_CELL, IMAGE_DATA)])
def test_a_cell_experiment_plans_a_cell_architecture(write_config: ConfigWriter, cell: str, data: str) -> None:
    [plan] = plan_experiments(load_config(write_config(_experiments(cell), data)), ["C"])
    structure = plan.config.structure
    assert isinstance(structure, CellStructure)
    assert structure.macro.filters == 4 and structure.macro.motifs == 2
    assert structure.space is not None and structure.space.lookback_depth == 2
    assert isinstance(plan.architecture, CellArchitecture)
    assert plan.architecture.cell == structure.cell
    assert plan.config.costs.latency_repeats == 3


def test_operators_are_written_canonically(write_config: ConfigWriter) -> None:
    cell = "[(-1,   3 conv, -2, 2 maxpool); (0, identity, -1, 3:1dr dconv)]"
    [plan] = plan_experiments(load_config(write_config(_experiments(cell), SERIES_DATA)), ["C"])
    assert isinstance(plan.config.structure, CellStructure)
    assert plan.config.structure.cell.to_text() == plan_experiments(
        load_config(write_config(_experiments(SERIES_CELL), SERIES_DATA, name="other")), ["C"]
    )[0].config.structure.cell.to_text()  # type: ignore[union-attr]


@pytest.mark.parametrize(("cell", "data", "expected"), [
    ("[(-1, 3 convv, -1, 2 maxpool)]", SERIES_DATA, r"3 convv.*valid forms"),
    ("[(-1, 3:0dr conv, -1, 2 maxpool)]", SERIES_DATA, r"3:0dr conv"),
    ("[(-1, 2 conv, -1, 2 maxpool)]", SERIES_DATA, r"2 conv"),
    ("[(-1, lstm, -1, 3x3 conv)]", IMAGE_DATA, r"lstm"),
    ("[(-3, 3 conv, -1, 2 maxpool)]", SERIES_DATA, r"-3.*lookback_depth"),
    ("[(1, 3 conv, -1, 2 maxpool); (-1, identity, -1, 3 conv)]", SERIES_DATA, r"block"),
    ("[(-1, 3 conv, -1, 2 maxpool", SERIES_DATA, r"cell"),
])
def test_bad_cells_name_the_value_and_the_toml_path(write_config: ConfigWriter, cell: str, data: str,
                                                    expected: str) -> None:
    message = _error(write_config, _experiments(cell), data)
    assert "configurations.toml" in message and "C.structure" in message
    assert re.search(expected, message), message


def test_a_cell_longer_than_the_search_space_allows(write_config: ConfigWriter) -> None:
    extra = ('[C.search_space]\nblocks = 1\nlookback_depth = 2\n'
             'operators = ["3 conv", "2 maxpool", "identity", "3 dconv"]')
    message = _error(write_config, _experiments(extra=extra))
    assert "2 blocks" in message and "1" in message


def test_an_operator_outside_the_search_space(write_config: ConfigWriter) -> None:
    extra = '[C.search_space]\noperators = ["3 conv", "2 maxpool", "identity"]'
    message = _error(write_config, _experiments(extra=extra))
    assert "3 dconv" in message


def test_bad_macro_setting_names_its_path(write_config: ConfigWriter) -> None:
    message = _error(write_config, _experiments().replace("filters = 4", "filters = 0"))
    assert "[C.architecture] filters = 0" in message


def test_layers_and_cell_together_or_neither(write_config: ConfigWriter) -> None:
    both = _experiments().replace('[C.structure]\n', '[C.structure]\nlayers = [{ type = "Flatten" }]\n')
    assert "either `layers` or `cell`" in _error(write_config, both)
    neither = _experiments().replace(f'cell = "{SERIES_CELL}"', "")
    assert "`layers = [...]`" in _error(write_config, neither)


def test_architecture_table_needs_a_cell(write_config: ConfigWriter) -> None:
    stack = _experiments().replace(f'cell = "{SERIES_CELL}"',
                                   'layers = [{ type = "Flatten" }, { type = "Dense", units = 12 }]')
    assert "only a cell structure" in _error(write_config, stack)


def test_bad_cell_on_the_command_line_writes_nothing(write_config: ConfigWriter, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    folder = write_config(_experiments(), SERIES_DATA)
    results = tmp_path / "results"
    code = main(["run", "C", 'C.structure.cell="[(-1, 3 conv, -4, 2 maxpool)]"', "--config-dir", str(folder),
                 "--results", str(results), "--no-progress", "-q"])
    assert code == 2
    assert "lookback" in capsys.readouterr().err
    assert not (results / "C").exists()


def test_a_fixed_cell_trains_through_the_spine(write_config: ConfigWriter, tmp_path: Path) -> None:
    folder = write_config(_experiments(), SERIES_DATA)
    results = tmp_path / "results"
    assert main(["run", "C", "--config-dir", str(folder), "--results", str(results), "--no-progress", "-q"]) == 0
    run = next((results / "C").iterdir())
    trial = run / "trials" / "trial-0000"
    assert (trial / "model.keras").exists() and (trial / "summary.txt").exists()
    assert (trial / "cell.dot").exists()
    if shutil.which("dot"):
        assert (trial / "model.png").stat().st_size > 0 and (trial / "cell.png").stat().st_size > 0
    with sqlite3.connect(run / "store.sqlite") as db:
        status, architecture, params, flops, latency = db.execute(
            "SELECT status, architecture, params, flops, latency_s FROM trials").fetchone()
    assert status == "completed"
    assert architecture.startswith("[(")
    assert params > 0 and flops > 0 and latency > 0


def test_a_multi_output_cell_trains_and_saves_its_final_head(write_config: ConfigWriter, tmp_path: Path) -> None:
    extra = "multi_output = true\nresidual_cells = true\nse_cell_output = true\nse_ratio = 2"
    folder = write_config(_experiments(extra=extra).replace("[C.compile]", '[C.compile]\nloss = "mse"'), SERIES_DATA)
    results = tmp_path / "results"
    assert main(["run", "C", "--config-dir", str(folder), "--results", str(results), "--no-progress", "-q"]) == 0
    run = next((results / "C").iterdir())
    model = keras.models.load_model(run / "trials" / "trial-0000" / "model.keras")
    assert len(model.outputs) == 1 and tuple(model.output_shape) == (None, 12)
    with sqlite3.connect(run / "store.sqlite") as db:
        names = {row[0] for row in db.execute("SELECT name FROM metrics WHERE split = 'test'")}
    assert {"loss", "output_r_squared", "r_squared", "cell_0_output_loss"} <= names, names
    with sqlite3.connect(run / "store.sqlite") as db:
        epoch_metrics = json.loads(db.execute("SELECT metrics FROM epochs").fetchone()[0])
    assert {"r_squared", "val_r_squared", "output_r_squared"} <= set(epoch_metrics), epoch_metrics
