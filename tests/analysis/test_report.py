"""The run report on a synthetic run folder written through the RunStore API (fast, no training)."""

from __future__ import annotations

import base64
import json
import math
import re
from pathlib import Path

import pytest

from scinas.analysis.report import ReportResult, write_report
from scinas.analysis.report_data import RunData, RunSettings, device_of
from scinas.errors import ConfigError
from scinas.store import EpochRecord, RunStatus, RunStore, TrialPhase

SEARCH_CONFIG = """
default = ["S"]
[S]
seed = 5
[S.dataset]
training = "tiny"
[S.search]
strategy = "popnas"
score = "accuracy"
costs = ["time", "params"]
[S.training]
epochs = 10
[S.training.early_termination]
monitor = "val_accuracy"
"""

FIXED_CONFIG = """
default = ["F"]
[F]
[F.dataset]
training = "tiny"
[F.training]
epochs = 3
"""

HOSTILE = '<script>alert("x")</script> & <b>'


def _curve(a: float, b: float, c: float, epochs: int) -> list[float]:
    """Validation accuracy (a fraction) following a - b**(c - x) in percent points."""
    return [(a - b ** (c - x)) / 100.0 for x in range(1, epochs + 1)]


def make_search_run(run_dir: Path, *, trials: int = 8) -> Path:
    """A finished search run folder: trials with learning curves, predictions, devices, one failure."""
    manifest = {"host": {"name": "lab-host"}, "packages": {"scinas": "test"}}
    store = RunStore.create(run_dir / "store.sqlite", run_id="synthetic", experiment="S", seed=5,
                            config_text=SEARCH_CONFIG, manifest=manifest)
    with store:
        for index in range(trials):
            name = f"B{1 + index // 4}-{index:04d}"
            record = store.start_trial(name, architecture=f"[(-1, {index} conv, -1, identity)]")
            extra: dict[str, object] = {"blocks": 1 + index // 4}
            if index % 2:
                extra.update(device="GPU:1", host="node-7")
            store.update_trial(record.trial_id, extra=extra)
            asymptote = 70.0 + 2.5 * index
            parameters = {"a": asymptote, "b": 2.0, "c": 5.0 + 0.1 * index}
            converge = 6 if index % 3 else None  # some trials run to the budget
            epochs = converge or 10
            values = _curve(parameters["a"], parameters["b"], parameters["c"], epochs)
            for epoch, value in enumerate(values, start=1):
                prediction = asymptote / 100.0 - 0.002 * max(0, 6 - epoch) if epoch >= 4 else None
                store.record_epoch(EpochRecord(
                    record.trial_id, epoch, metrics={"accuracy": value + 0.02, "val_accuracy": value,
                                                     "loss": 1 - value, "val_loss": 1.1 - value},
                    loss=1 - value, val_loss=1.1 - value, epoch_time_s=0.5 + 0.01 * index,
                    prediction=prediction, converged=converge == epoch, curve="shifted_exponential",
                    prediction_time_s=0.003 if prediction is not None else None))
            store.record_metrics(record.trial_id, "validation", {"accuracy": values[-1], "loss": 1.1 - values[-1]})
            fitness = asymptote / 100.0 if converge else values[-1]
            store.complete_trial(record.trial_id, best_epoch=epochs, epochs_completed=epochs,
                                 train_time_s=epochs * (0.5 + 0.01 * index), params=1000 * (index + 1) ** 2,
                                 flops=2.0e4 * (index + 1) ** 2, estimate=fitness, measured=values[-1],
                                 monitor="val_accuracy", curve="shifted_exponential", curve_parameters=parameters,
                                 converged_epoch=converge)
            (run_dir / "trials" / name).mkdir(parents=True)
        failed = store.start_trial("B2-bad", architecture=HOSTILE)
        store.update_trial(failed.trial_id, extra={"blocks": 2})
        store.fail_trial(failed.trial_id, f"loss became NaN {HOSTILE}")
        store.set_run_status(RunStatus.COMPLETED)
    predictors = run_dir / "predictors"
    predictors.mkdir()
    for step, tau in (("B1", 0.2), ("B2", 0.6)):
        for predictor in ("gin", "svr_time"):
            (predictors / f"{predictor}_{step}.json").write_text(json.dumps(
                {"predictor": predictor, "step": step, "n": 4, "mae": 0.05, "mape": 5.0, "spearman": tau + 0.1,
                 "kendall": tau}))
    (run_dir / "best_model").mkdir()
    (run_dir / "best_model" / "summary.json").write_text(json.dumps(
        {"trial": "B2-0007", "test_metrics": {"accuracy": 0.81, HOSTILE: 1.0}}))
    return run_dir


def make_fixed_run(run_dir: Path) -> Path:
    """A finished fixed-architecture run folder with one 3-epoch trial."""
    store = RunStore.create(run_dir / "store.sqlite", run_id="fixed", experiment="F", seed=0,
                            config_text=FIXED_CONFIG, manifest={"host": {"name": "laptop"}})
    with store:
        record = store.start_trial("trial-0000", architecture="layers")
        for epoch in (1, 2, 3):
            store.record_epoch(EpochRecord(record.trial_id, epoch, metrics={"loss": 1 / epoch, "val_loss": 1.2 / epoch},
                                           loss=1 / epoch, val_loss=1.2 / epoch, epoch_time_s=0.2))
        store.record_metrics(record.trial_id, "validation", {"loss": 0.4})
        store.complete_trial(record.trial_id, best_epoch=3, epochs_completed=3, train_time_s=0.6, params=300)
        store.set_run_status(RunStatus.COMPLETED)
    (run_dir / "trials" / "trial-0000").mkdir(parents=True)
    return run_dir


def _images(page: str) -> dict[str, bytes]:
    return {stem: base64.b64decode(data) for data, stem in
            re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="[^"]*" data-figure="([^"]+)"', page)}


@pytest.fixture(scope="module")
def search_report(tmp_path_factory: pytest.TempPathFactory) -> ReportResult:
    """The report of a synthetic search run folder, written into the run folder."""
    return write_report(make_search_run(tmp_path_factory.mktemp("report") / "run"))


def test_search_report_has_every_figure_embedded_and_written(search_report: ReportResult) -> None:
    result = search_report
    run = result.html.parent
    assert result.html == run / "report.html"
    expected = {"pareto", "learning_curves", "epochs_saved", "convergence_epochs", "wall_time",
                "predictor_quality_gin", "predictor_quality_svr_time"}
    assert set(result.figures) == expected
    page = result.html.read_text(encoding="utf-8")
    images = _images(page)
    assert set(images) == expected
    for stem, data in images.items():
        assert data.startswith(b"\x89PNG\r\n\x1a\n"), stem
        assert data == (run / "report" / f"{stem}.png").read_bytes()
    # self-contained: no script, no remote resource
    assert "<script" not in page.lower().replace("&lt;script", "")
    assert not re.search(r'(src|href)="(https?:)?//', page)


def test_report_escapes_text_from_the_run(search_report: ReportResult) -> None:
    page = search_report.html.read_text(encoding="utf-8")
    assert HOSTILE not in page
    assert "loss became NaN &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;" in page


def test_best_models_table_ranks_by_the_search_score_with_relative_links(tmp_path: Path) -> None:
    run = make_search_run(tmp_path / "run")
    data = RunData.load(run)
    ranked = data.ranked()
    scores = [t.score for t in ranked]
    assert scores == sorted(scores, reverse=True) and len(ranked) == 8  # the failed trial has no score
    # the converged trials rank by their prediction (estimate), the others by the measured score
    best = ranked[0]
    assert best.record.converged_epoch is not None and best.score == pytest.approx(best.record.estimate)
    out = tmp_path / "elsewhere"
    page = write_report(run, out).html.read_text(encoding="utf-8")
    assert (out / "report.html").exists() and (out / "report" / "pareto.png").exists()
    assert f'href="../run/trials/{best.name}/"' in page
    assert 'href="../run/best_model/"' in page
    first_row = page.split("<th>architecture</th></tr>")[1].split("</tr>")[0]
    assert best.name in first_row


def test_run_data_reads_settings_devices_and_predictor_files(tmp_path: Path) -> None:
    data = RunData.load(make_search_run(tmp_path / "run"))
    assert data.settings == RunSettings(score="accuracy", maximize=True, costs=("time", "params"), searched=True,
                                        epochs=10)
    assert data.uses_termination
    assert {t.device for t in data.trials} == {"lab-host/local", "node-7/GPU:1"}
    assert list(data.predictor_quality) == ["gin", "svr_time"]
    assert list(data.predictor_quality["gin"]) == ["B1", "B2"]
    assert data.predictor_quality["gin"]["B2"]["kendall"] == pytest.approx(0.6)
    converged = [t for t in data.trials if t.record.converged_epoch]
    assert converged and all(t.budget(data.settings) == 10 for t in converged)


def test_device_defaults_to_local_on_the_manifest_host(tmp_path: Path) -> None:
    data = RunData.load(make_fixed_run(tmp_path / "run"))
    (trial,) = data.trials
    assert device_of(trial.record, "laptop") == "laptop/local" == trial.device


def test_fixed_run_gets_the_subset_that_applies(tmp_path: Path) -> None:
    run = make_fixed_run(tmp_path / "run")
    result = write_report(run)
    assert set(result.figures) == {"learning_curves", "wall_time"}
    page = result.html.read_text(encoding="utf-8")
    assert set(_images(page)) == {"learning_curves", "wall_time"}
    assert "validation loss (min)" in page and 'href="trials/trial-0000/"' in page


def test_fitted_curve_is_drawn_in_the_metric_units(tmp_path: Path) -> None:
    from scinas.analysis.report_figures import _fitted_curve

    data = RunData.load(make_search_run(tmp_path / "run"))
    trial = next(t for t in data.trials if t.record.converged_epoch)
    fitted = _fitted_curve(data, trial, "val_accuracy", 10)
    assert fitted is not None
    epochs, values = fitted
    assert epochs[0] == 1.0 and epochs[-1] == 10.0
    parameters = trial.record.curve_parameters or {}
    expected_last = (parameters["a"] - parameters["b"] ** (parameters["c"] - 10.0)) / 100.0
    assert values[-1] == pytest.approx(expected_last)
    measured = dict(trial.series("val_accuracy"))
    assert values[0] == pytest.approx(measured[1])
    assert all(math.isfinite(v) for v in values)


def test_a_folder_without_a_store_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a scinas run folder"):
        write_report(tmp_path)
    (tmp_path / "store.sqlite").write_text("not a database")
    with pytest.raises(ConfigError, match="not a scinas run store"):
        write_report(tmp_path)


def test_front_marks_only_trials_no_other_trial_dominates_on_every_objective(tmp_path: Path) -> None:
    from scinas.analysis.report import _front_names

    run = make_search_run(tmp_path / "run", trials=4)
    with RunStore.open(run / "store.sqlite") as store:
        # worse than B1-0000 in score, time and params: dominated
        record = store.start_trial("B2-slow", architecture="slow")
        store.record_metrics(record.trial_id, "validation", {"accuracy": 0.5})
        store.complete_trial(record.trial_id, epochs_completed=10, train_time_s=100.0, params=10**6)
        # worse in score but cheaper in time than every other: on the front
        record = store.start_trial("B2-fast", architecture="fast")
        store.record_metrics(record.trial_id, "validation", {"accuracy": 0.4})
        store.complete_trial(record.trial_id, epochs_completed=1, train_time_s=0.01, params=10**6)
    data = RunData.load(run)
    names = {t.name for t in data.completed("search")}
    assert {"B2-slow", "B2-fast"} <= names
    front = _front_names(data)
    assert "B2-fast" in front and "B2-slow" not in front
    # the best score is always on the front
    assert data.ranked()[0].name in front


def _add_final_training(run: Path) -> None:
    """The final training: trained on train + validation, so its validation accuracy is a perfect 1.0."""
    with RunStore.open(run / "store.sqlite") as store:
        record = store.start_trial("final", architecture="[(-1, 7 conv, -1, identity)]", phase=TrialPhase.FINAL)
        store.record_epoch(EpochRecord(record.trial_id, 1, metrics={"accuracy": 0.99, "loss": 0.01},
                                       loss=0.01, epoch_time_s=0.5))
        store.record_metrics(record.trial_id, "validation", {"accuracy": 1.0, "loss": 0.0})
        store.record_metrics(record.trial_id, "test", {"accuracy": 0.77, "loss": 0.4})
        store.complete_trial(record.trial_id, epochs_completed=10, train_time_s=5.0, params=64000)


def test_the_final_training_is_shown_by_its_test_score_and_never_ranked(tmp_path: Path) -> None:
    run = make_search_run(tmp_path / "run")
    _add_final_training(run)
    data = RunData.load(run)
    final = next(t for t in data.trials if t.name == "final")
    assert final.score is None and final.trained_on_validation and final.test == {"accuracy": 0.77, "loss": 0.4}
    assert "final" not in {t.name for t in data.ranked()} and len(data.ranked()) == 8
    page = write_report(run).html.read_text(encoding="utf-8")
    best = data.ranked()[0]
    assert f"{best.name}: {best.score:.4g}" in page  # the summary's best trial is a ranked one
    final_table, ranked_table = page.split('id="final-training"')[1].split("Ranked trials (validation score)")
    assert "trained on" in final_table and 'href="trials/final/"' in final_table
    assert '<td class="num">0.77</td>' in final_table and "loss = 0.4" in final_table
    assert "<th>test accuracy</th>" in final_table and '<td class="num">1</td>' not in final_table
    assert 'href="trials/final/"' not in ranked_table
    first_row = ranked_table.split("<th>architecture</th></tr>")[1].split("</tr>")[0]
    assert best.name in first_row


def test_search_summary_holds_the_strategy_summary_as_an_object_old_strings_are_decoded(tmp_path: Path) -> None:
    from scinas.analysis.report_data import read_search_summary

    run = make_search_run(tmp_path / "run")
    (run / "search_summary.json").write_text(json.dumps({"strategy": "popnas", "strategy_summary": {"step": 2}}))
    assert RunData.load(run).search_summary == {"strategy": "popnas", "strategy_summary": {"step": 2}}
    # written before strategy_summary became an object: a JSON string inside the JSON
    (run / "search_summary.json").write_text(json.dumps({"strategy": "popnas",
                                                         "strategy_summary": json.dumps({"step": 2})}))
    assert read_search_summary(run) == {"strategy": "popnas", "strategy_summary": {"step": 2}}
    (run / "search_summary.json").write_text(json.dumps({"strategy_summary": "not json"}))
    assert read_search_summary(run) == {"strategy_summary": "not json"}
    (run / "search_summary.json").unlink()
    assert read_search_summary(run) is None
