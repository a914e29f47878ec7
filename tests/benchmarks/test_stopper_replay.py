"""benchmarks/stopper_replay.py and its recordings: the loader's errors, the metrics on curves whose
answer is known, the peers fed through their own APIs, the committed recordings, and a real tiny
recording (slow)."""

from __future__ import annotations

import copy
import importlib.util
import json
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import REPO

BENCHMARKS = REPO / "benchmarks"
BUDGET = 12


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench() -> Iterator[tuple[ModuleType, ModuleType]]:
    sys.path.insert(0, str(BENCHMARKS))  # as when run as a script: it imports its helpers beside it
    try:
        yield _load("_recordings"), _load("stopper_replay")
    finally:
        sys.path.remove(str(BENCHMARKS))


def _data(asymptotes: list[float]) -> dict[str, Any]:
    curves = [{"architecture": f"cell{i}", "params": 100 + i,
               "values": [a - (a - 0.1) * math.exp(-0.5 * e) for e in range(1, BUDGET + 1)],
               "epoch_time_s": [2.0] + [1.0 + 0.1 * i] * (BUDGET - 1)} for i, a in enumerate(asymptotes)]
    return {"format": "scinas-curves/1", "dataset": "test", "seed": 0, "monitor": "val_accuracy",
            "budget_epochs": BUDGET, "curves": curves}


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["curves"][1]["values"].pop(), "curves[1].values: 11 epochs, but the recording's budget is 12"),
    (lambda d: d["curves"][2]["values"].__setitem__(4, None), "curves[2].values[4]: epoch 5 is missing (null)"),
    (lambda d: d["curves"][0]["epoch_time_s"].__setitem__(0, "x"), "curves[0].epoch_time_s[0]: epoch 1 is 'x'"),
    (lambda d: d.update(format="other"), "format 'other' is not 'scinas-curves/1'"),
    (lambda d: d.update(curves=d["curves"][:1]), "a replay needs at least 2 curves, got 1"),
    (lambda d: d["curves"][0].pop("architecture"), "curves[0]: missing 'architecture'"),
])
def test_a_bad_recording_is_a_clear_error(bench: tuple[ModuleType, ModuleType], tmp_path: Path, change: Any,
                                          message: str) -> None:
    recordings, replay = bench
    data = _data([0.9, 0.8, 0.7])
    change(data)
    path = tmp_path / "bad_seed0.json"
    path.write_text(json.dumps(data))
    with pytest.raises(recordings.RecordingError, match="bad_seed0") as info:
        recordings.load_recording(path)
    assert message in str(info.value)
    assert replay.main([str(path)]) == 2  # the script says so and exits 2, no traceback


def test_not_json_and_an_unknown_rule_exit_2(bench: tuple[ModuleType, ModuleType], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    _, replay = bench
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    assert replay.main([str(broken)]) == 2
    assert "broken.json: not JSON" in capsys.readouterr().err
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_data([0.9, 0.8])))
    assert replay.main([str(good), "--rules", "scinas,optuna_magic"]) == 2
    assert "unknown rule(s) optuna_magic" in capsys.readouterr().err


def test_the_writer_refuses_what_the_loader_would(bench: tuple[ModuleType, ModuleType], tmp_path: Path) -> None:
    recordings, _ = bench
    curve = {"architecture": "a", "params": 1, "values": [0.5, math.nan], "epoch_time_s": [1.0, 1.0],
             "val_loss": [1.0, 1.0]}
    with pytest.raises(recordings.RecordingError, match="epoch 2 is nan"):
        recordings.write_recording(tmp_path / "x.json", dataset="d", seed=0, monitor="val_accuracy", budget_epochs=2,
                                   curves=[curve, copy.deepcopy(curve)], settings={}, machine={})
    assert not (tmp_path / "x.json").exists()


def test_the_metrics_of_known_runs(bench: tuple[ModuleType, ModuleType]) -> None:
    recordings, replay = bench
    recording = recordings.parse_recording(_data([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3]), "known")
    finals = recording.finals
    # trains everything: nothing saved, the truth itself
    full = replay.judge(recording, [replay.TrialRun(BUDGET, f) for f in finals], 0.0)
    assert full["epochs_saved_fraction"] == 0 and full["time_saved_fraction"] == 0
    assert full["regret_points"] == 0 and full["top5_recall"] == 1 and full["kendall_tau"] == 1
    assert full["hypervolume_ratio"] == 1 and full["median_abs_error_points"] is None
    # stops each after 3 epochs and ranks the second-best first: regret 10 points, τ < 1
    swapped = [finals[1], finals[0], *finals[2:]]
    runs = [replay.TrialRun(3, f, prediction=f) for f in swapped]
    early = replay.judge(recording, runs, 0.0)
    assert early["epochs_saved_fraction"] == pytest.approx(0.75)
    assert early["regret_points"] == pytest.approx((finals[0] - finals[1]) * 100, abs=1e-3)
    assert early["top5_recall"] == 1.0 and early["kendall_tau"] < 1
    assert early["median_abs_error_points"] == pytest.approx(0.0)  # 5 of 7 predictions exact
    times = [sum(c.epoch_time_s) for c in recording.curves]
    used = sum(sum(c.epoch_time_s[:3]) for c in recording.curves)
    assert early["time_saved_fraction"] == pytest.approx(1 - used / sum(times), abs=1e-4)


def test_hypervolume_of_a_front(bench: tuple[ModuleType, ModuleType]) -> None:
    _, replay = bench
    # two points: (score 2, cost 1) and (score 3, cost 2) against (0, 4): 2*1 + 3*2 = 8
    assert replay.hypervolume([(2.0, 1.0), (3.0, 2.0)], (0.0, 4.0)) == pytest.approx(8.0)
    assert replay.hypervolume([(2.0, 1.0), (1.0, 2.0)], (0.0, 4.0)) == pytest.approx(6.0)  # dominated adds nothing


def test_every_rule_replays_a_small_recording(bench: tuple[ModuleType, ModuleType]) -> None:
    recordings, replay = bench
    recording = recordings.parse_recording(_data([0.95, 0.9, 0.85, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2]), "small")
    names = ["scinas", "seed", "pareto", "ensemble", "optuna_median", "optuna_sh", "optuna_hyperband"]
    table = replay.rules(names)
    if isinstance(table["optuna_median"], str):
        pytest.skip(table["optuna_median"])
    results = {}
    for name, rule in table.items():
        runs, spent = rule(recording)
        assert len(runs) == 9 and all(1 <= run.epochs <= BUDGET for run in runs) and spent >= 0
        results[name] = replay.judge(recording, runs, spent)
    # smooth curves: scinas' rule converges early everywhere and ranks them exactly
    assert results["scinas"]["epochs_saved_fraction"] > 0.3 and results["scinas"]["kendall_tau"] == 1.0
    # the median pruner stops trials below the running median once it has 5 complete ones
    assert results["optuna_median"]["epochs_saved_fraction"] > 0
    aims = replay.aims(results)
    assert set(aims["dominates"]) == {"optuna_median", "optuna_sh", "optuna_hyperband"}


def test_a_missing_peer_is_skipped_with_its_reason(bench: tuple[ModuleType, ModuleType],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _, replay = bench
    monkeypatch.setitem(sys.modules, "deephyper.stopper", None)  # importing it raises ImportError
    reason = replay.peer_available("deephyper_lc")
    assert reason is not None and "deephyper[jax-cpu]" in reason
    assert replay.rules(["deephyper_lc"])["deephyper_lc"] == reason


def test_the_committed_recordings_load(bench: tuple[ModuleType, ModuleType]) -> None:
    recordings, _ = bench
    paths = sorted((BENCHMARKS / "recordings").glob("*.json"))
    names = {path.stem for path in paths}
    assert {"digits_seed0", "digits_seed1", "spectra_seed0", "spectra_seed1"} <= names
    for path in paths:
        recording = recordings.load_recording(path)
        assert recording.budget_epochs == 25 and len(recording.curves) >= 20
        assert len({curve.architecture for curve in recording.curves}) == len(recording.curves)


@pytest.mark.slow
def test_a_real_tiny_recording(bench: tuple[ModuleType, ModuleType], tmp_path: Path) -> None:
    recordings, _ = bench
    record = _load("record_curves")
    assert record.main(["--dataset", "digits", "--models", "2", "--epochs", "3", "--samples", "300",
                        "--out", str(tmp_path)]) == 0
    recording = recordings.load_recording(tmp_path / "digits_seed0.json")
    assert recording.budget_epochs == 3 and len(recording.curves) == 2
    assert recording.monitor == "val_accuracy" and all(0 <= v <= 1 for c in recording.curves for v in c.values)
