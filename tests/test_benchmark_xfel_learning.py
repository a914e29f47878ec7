"""benchmarks/xfel_learning.py: runs experiments as a user would and reports accuracy and times as JSON."""

from __future__ import annotations

import importlib.util
import json
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import REPO
from tests.data.xfel_fixtures import SMALL_DETECTOR, write_molecules


def _benchmark() -> ModuleType:
    path = REPO / "benchmarks" / "xfel_learning.py"
    spec = importlib.util.spec_from_file_location("xfel_learning", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("xfel_learning", module)
    spec.loader.exec_module(module)
    return module


def _tiny_config(folder: Path) -> Path:
    molecules = [str(p) for p in write_molecules(folder / "molecules")]
    config = folder / "config"
    config.mkdir()
    detector = "\n".join(f"{key} = {value!r}" for key, value in SMALL_DETECTOR.items())
    (config / "data.toml").write_text(
        textwrap.dedent("""
        [tiny]
        generator = "xfel"
        [tiny.parameters]
        conformations = {molecules}
        beam_intensity = 1e17
        {detector}
        [tiny.shape]
        seed = 3
        n_samples = 40
        batch_size = 8
        splits = [0.5, 0.25, 0.25]
        fresh_training = true
        fresh_training_samples = 32
        [tiny.normalization]
        inputs = "global"
        [tiny.augmentation]
        rotation = true
        friedel = true
    """).format(molecules=json.dumps(molecules), detector=detector)
    )
    (config / "configurations.toml").write_text(
        textwrap.dedent("""
        [T]
        seed = 1
        [T.dataset]
        training = "tiny"
        [T.structure]
        cell = "[(-1, 3x3 conv, -1, identity)]"
        [T.architecture]
        filters = 4
        motifs = 1
        normal_cells_per_motif = 1
        [T.compile]
        metrics = ["accuracy"]
        [T.training]
        epochs = 2
        tensorboard = false
        [T.costs]
        latency = false
        [Broken]
        seed = 1
        [Broken.dataset]
        training = "missing"
        [Broken.structure]
        cell = "[(-1, identity, -1, identity)]"
    """)
    )
    return config


def test_runs_each_experiment_and_prints_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    benchmark = _benchmark()
    config = _tiny_config(tmp_path)
    out = benchmark.main(
        [
            "--experiments",
            "T",
            "Broken",
            "--config-dir",
            str(config),
            "--results",
            str(tmp_path / "results"),
            "T.training.epochs=1",
        ]
    )
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(json.dumps(out))
    entry = printed["T"]
    assert entry["exit_code"] == 0
    assert 0.0 <= entry["test_accuracy"] <= 1.0
    assert entry["wall_s"] > 0 and entry["cpu_s"] > 0
    assert printed["Broken"]["exit_code"] == 2 and printed["Broken"]["test_accuracy"] is None
    assert any("missing" in line for line in printed["Broken"]["error"])
    assert "cpus" in printed["machine"]


def test_reads_a_search_summary_and_a_trial_metrics_file(tmp_path: Path) -> None:
    benchmark = _benchmark()
    search = tmp_path / "search"
    (search / "best_model").mkdir(parents=True)
    (search / "best_model" / "summary.json").write_text(json.dumps({"test_metrics": {"accuracy": 0.75}}))
    fixed = tmp_path / "fixed"
    (fixed / "trials" / "trial-0000").mkdir(parents=True)
    (fixed / "trials" / "trial-0000" / "metrics.json").write_text(json.dumps({"test": {"accuracy": 0.5}}))
    assert benchmark.test_accuracy(search) == 0.75
    assert benchmark.test_accuracy(fixed) == 0.5
    assert benchmark.test_accuracy(tmp_path / "empty") is None
