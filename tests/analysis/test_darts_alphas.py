"""The report's DARTS figure: α heat maps and the parameter-free share per epoch, from alpha.json."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from scinas.analysis.report_data import RunData
from scinas.analysis.report_figures import FIGURES, plot_darts_alphas


def _run(tmp_path: Path, epochs: list[dict[str, Any]]) -> RunData:
    folder = tmp_path / "trials" / "supernet-s0" / "darts"
    folder.mkdir(parents=True)
    (folder / "alpha.json").write_text(json.dumps({"candidates": ["none", "identity", "3x3 dconv"], "nodes": 1,
                                                   "epochs": epochs, "losses": [1.0] * len(epochs)}))
    return cast(RunData, SimpleNamespace(run_dir=tmp_path))


def test_a_darts_run_gets_its_alpha_figure(tmp_path: Path) -> None:
    epoch = {"normal": [[0.2, 0.5, 0.3], [0.1, 0.1, 0.8]], "reduce": [[0.3, 0.3, 0.4], [0.4, 0.3, 0.3]]}
    path = plot_darts_alphas(_run(tmp_path, [epoch, epoch]), tmp_path / "alpha.png")
    assert path is not None and path.stat().st_size > 10_000
    assert "darts_alphas" in [stem for stem, _, _ in FIGURES]


def test_other_runs_have_none(tmp_path: Path) -> None:
    assert plot_darts_alphas(cast(RunData, SimpleNamespace(run_dir=tmp_path)), tmp_path / "a.png") is None
    assert plot_darts_alphas(_run(tmp_path, []), tmp_path / "a.png") is None
