"""``[X.search] strategy = "darts"`` end to end: supernet trials, the genotype's retraining, the
final training and its export, through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scinas.cli import main
from scinas.search.darts import DartsStrategy
from scinas.search.registry import STRATEGIES
from tests.conftest import SERIES_DATA, TINY_SEARCH, ConfigWriter

DARTS_SEARCH = TINY_SEARCH.replace('strategy = "popnas"', 'strategy = "darts"').replace(
    "max_children = 2\nmax_exploration_children = 1\npredictor_epochs = 5\npredictor_ensemble = 1\n",
    "epochs = 1\nlayers = 3\nnodes = 1\nfilters = 2\neval_layers = 3\neval_filters = 2\n",
).replace('operators = ["identity", "3 conv"]', 'operators = ["identity", "sep_conv_3x3"]') + """
[P.final]
epochs = 1
"""


def test_darts_is_a_registered_strategy() -> None:
    assert STRATEGIES.get("darts") is DartsStrategy and not DartsStrategy.budget_required


@pytest.mark.slow
def test_a_darts_search_finds_trains_and_exports_a_genotype(write_config: ConfigWriter, tmp_path: Path) -> None:
    config = write_config(DARTS_SEARCH, SERIES_DATA)
    results = tmp_path / "results"
    assert main(["run", "--config-dir", str(config), "--results", str(results), "--no-progress"]) == 0
    run = next((results / "P").iterdir())
    darts = run / "trials" / "supernet-s1" / "darts"
    text = (darts / "genotype.txt").read_text().strip()
    assert text.startswith("Genotype(normal=[") and "none" not in text
    assert len(json.loads((darts / "alpha.json").read_text())["epochs"]) == 1
    summary = json.loads((run / "best_model" / "summary.json").read_text())
    assert summary["architecture_json"]["kind"] == "darts"
    assert summary["architecture_json"]["network"]["layers"] == 3
    assert (run / "best_model" / "model.onnx").exists()
    rows = (run / "csv" / "training_results.csv").read_text()
    assert "supernet-s1" in rows and "genotype-s1" in rows
    search = json.loads((run / "search_summary.json").read_text()) if (run / "search_summary.json").exists() else {}
    assert not search or "supernet-s1" in json.dumps(search)
