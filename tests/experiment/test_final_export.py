"""``[X.final]`` of a search: the final training's ``best_model/`` follows the table's ``onnx`` switch."""

from __future__ import annotations

import json
from pathlib import Path

from scinas.cli import main
from tests.conftest import SERIES_DATA, TINY_SEARCH, ConfigWriter

# One random trial, then the final training; the popnas-only keys of the tiny search are dropped.
ONE_TRIAL = "\n".join(line for line in TINY_SEARCH.splitlines() if not line.startswith((
    "max_children", "max_exploration_children", "predictor_"))).replace(
    'strategy = "popnas"', 'strategy = "random"\nbudget = 1')


def test_final_onnx_false_writes_no_onnx_export(write_config: ConfigWriter, tmp_path: Path) -> None:
    folder = write_config(ONE_TRIAL + "\n[P.final]\nepochs = 1\nonnx = false\n", SERIES_DATA)
    results = tmp_path / "results"
    assert main(["run", "P", "--config-dir", str(folder), "--results", str(results), "--no-progress", "-q"]) == 0
    (run,) = (results / "P").iterdir()
    best = run / "best_model"
    assert (best / "model.keras").is_file()
    assert not (best / "model.onnx").exists() and not (best / "parity.json").exists()
    summary = json.loads((best / "summary.json").read_text())
    assert summary["trial"] == "final"
    assert summary["onnx"] is None and summary["parity"] is None and summary["onnx_problem"] is None
    assert "model.onnx" not in summary["files"]
