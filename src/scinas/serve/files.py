"""A run's files for the dashboard: the links of a run page and the search's predictions per step.

Links name only files that :class:`~scinas.store.layout.RunLayout` names and that exist;
:func:`scinas.serve.security.run_file` checks every path again when one is opened.

The predictions are the Pareto strategy's ``csv/predictions_B<step>.csv`` tables (one row per
candidate: name of the trial it became, predicted score and costs); the page joins them with the
measured values of the trials by name.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path
from typing import Any

from scinas.store.layout import BestModelLayout, RunLayout

__all__ = ["predictions", "run_files"]

_STEP_FILE = re.compile(r"predictions_B(\d+)\.csv")


def run_files(run_dir: Path) -> list[dict[str, str]]:
    """``[{"label", "path"}]`` of the run's report, best model, tables, plots, log and configuration."""
    layout = RunLayout(run_dir)
    best = BestModelLayout(layout.best_model)
    named = [
        ("report", layout.report),
        ("best model (Keras)", best.keras),
        ("best model (ONNX)", best.onnx),
        ("best model summary", best.summary_txt),
        ("training results", layout.training_results_csv),
        ("Pareto front", layout.pareto_front_csv),
        ("search summary", layout.search_summary),
        ("run log", layout.run_log),
        ("configuration", layout.experiments_config),
        ("data configuration", layout.data_config),
        ("manifest", layout.manifest),
    ]
    links = [{"label": label, "path": path.relative_to(run_dir).as_posix()} for label, path in named if path.is_file()]
    if layout.plots.is_dir():
        links.extend(
            {"label": f"plot {path.stem}", "path": path.relative_to(run_dir).as_posix()}
            for path in sorted(layout.plots.glob("*.png"))
        )
    return links


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def predictions(run_dir: Path) -> dict[str, Any]:
    """``{"version", "steps": {"B2": {"name": [...], "predicted_score": [...], ...}}}`` of the
    chosen candidates of each step (``version`` changes when a step's file does)."""
    folder = RunLayout(run_dir).csv
    files = sorted(
        (int(m.group(1)), path)
        for path in (folder.glob("predictions_B*.csv") if folder.is_dir() else [])
        if (m := _STEP_FILE.fullmatch(path.name))
    )
    stamps = []
    steps: dict[str, dict[str, list[Any]]] = {}
    for step, path in files:
        try:
            stamps.append(f"{step}.{path.stat().st_mtime_ns:x}")
            with path.open(newline="", encoding="utf-8") as handle:
                rows = [row for row in csv.DictReader(handle) if row.get("name")]
        except (OSError, csv.Error):
            continue
        columns: dict[str, list[Any]] = {"name": [row["name"] for row in rows]}
        for key in rows[0].keys() if rows else ():
            if key.startswith("predicted_"):
                columns[key] = [_number(row[key]) for row in rows]
        steps[f"B{step}"] = columns
    return {"version": "_".join(stamps), "steps": steps}
