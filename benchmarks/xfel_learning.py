"""Test accuracy and time of the shipped XFEL experiments, each run as a user runs it.

Run::

    .venv/bin/python benchmarks/xfel_learning.py [--experiments X14 X15 X16 XV15 XV16] [--config-dir config]
        [--results DIR] [KEY=VALUE ...]

Each experiment runs as ``scinas run NAME --no-progress -q`` in its own process (so one run's
TensorFlow state never touches the next) with the given ``KEY=VALUE`` overrides, into a fresh
results folder (a temporary one unless ``--results`` is given).  The test accuracy is read from
the run folder: the exported best model's ``summary.json`` for a search (the final training),
the trial's ``metrics.json`` for a fixed experiment.

It prints one JSON object ``{experiment: {"test_accuracy": a, "wall_s": w, "cpu_s": c,
"exit_code": k}, "machine": {...}}``; ``cpu_s`` is the user + system time of the run's process,
which a busy machine inflates far less than the wall time.  Benchmarks measure; they never assert.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_facts  # the folder is put on sys.path first

__all__ = ["DEFAULT_EXPERIMENTS", "main", "run_experiment", "test_accuracy"]

DEFAULT_EXPERIMENTS = ("X14", "X15", "X16", "XV15", "XV16")
SRC = Path(__file__).resolve().parents[1] / "src"


def test_accuracy(run: Path) -> float | None:
    """The test accuracy recorded in run folder ``run`` (None when it holds none)."""
    summary = run / "best_model" / "summary.json"
    if summary.is_file():
        value = json.loads(summary.read_text()).get("test_metrics", {}).get("accuracy")
        return None if value is None else float(value)
    for metrics in sorted((run / "trials").glob("*/metrics.json")):
        value = json.loads(metrics.read_text()).get("test", {}).get("accuracy")
        if value is not None:
            return float(value)
    return None


def _cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_experiment(name: str, *, config_dir: Path, results: Path, overrides: list[str]) -> dict[str, Any]:
    """Run experiment ``name`` in a child process; its test accuracy, wall and CPU seconds."""
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), environment.get("PYTHONPATH", "")) if p)
    environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    command = [
        sys.executable,
        "-m",
        "scinas",
        "run",
        name,
        *overrides,
        "--config-dir",
        str(config_dir),
        "--results",
        str(results),
        "--no-progress",
        "-q",
    ]
    cpu_before = _cpu_of_children()
    started = time.perf_counter()
    completed = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    runs = sorted((results / name).iterdir()) if (results / name).is_dir() else []
    entry: dict[str, Any] = {
        "test_accuracy": test_accuracy(runs[-1]) if runs else None,
        "wall_s": round(wall, 1),
        "cpu_s": round(_cpu_of_children() - cpu_before, 1),
        "exit_code": completed.returncode,
    }
    if completed.returncode != 0:
        entry["error"] = (completed.stderr or completed.stdout).strip().splitlines()[-5:]
    return entry


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", nargs="+", default=list(DEFAULT_EXPERIMENTS))
    parser.add_argument("--config-dir", type=Path, default=Path(__file__).resolve().parents[1] / "config")
    parser.add_argument("--results", type=Path, default=None, help="results root (default: a temporary folder)")
    parser.add_argument("overrides", nargs="*", help="KEY=VALUE overrides passed to every run")
    args = parser.parse_args(argv)
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="xfel-learning-") as scratch:
        root = args.results or Path(scratch)
        for name in args.experiments:
            out[name] = run_experiment(name, config_dir=args.config_dir, results=root, overrides=args.overrides)
    out["machine"] = machine_facts()
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
