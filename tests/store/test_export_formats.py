"""Exports of the store's tables: CSV and Parquet hold the same rows, Parquet keeps the types."""

from __future__ import annotations

import math
import sys
from datetime import datetime
from pathlib import Path

import pytest

from scinas.errors import ConfigError
from scinas.store import EpochRecord, RunStore
from scinas.store.tables import EPOCH_COLUMNS, METRIC_COLUMNS, TABLES, export_tables, store_tables

pd = pytest.importorskip("pandas")


def _fill(store: RunStore) -> None:
    first = store.start_trial("t0", architecture="a0")
    for epoch, (loss, acc) in enumerate([(0.9, 0.5), (0.6, 0.7), (0.5, float("nan"))], start=1):
        store.record_epoch(EpochRecord(first.trial_id, epoch, metrics={"loss": loss, "val_accuracy": acc,
                                                                        "converged": 1.0},
                                       loss=loss, epoch_time_s=0.25 * epoch, prediction=0.8 if epoch > 1 else None,
                                       converged=epoch == 3, curve="shifted_exponential", prediction_time_s=0.01))
    store.record_metrics(first.trial_id, "validation", {"accuracy": 0.71, "loss": float("inf")})
    store.record_metrics(first.trial_id, "train", {"accuracy": 0.75}, epoch=2)
    store.complete_trial(first.trial_id, best_epoch=2, epochs_completed=3, train_time_s=1.5, params=1234,
                         flops=5.5e6, estimate=0.8, measured=0.71, monitor="val_accuracy",
                         curve="shifted_exponential", curve_parameters={"a": 80.0, "b": 2.0, "c": 4.0},
                         converged_epoch=3, extra={"phase": "search", "device": "GPU:0"})
    second = store.start_trial("t1", architecture="a1")
    store.fail_trial(second.trial_id, "loss became NaN")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_every_table_is_one_file_with_the_same_rows(store: RunStore, tmp_path: Path, fmt: str) -> None:
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    _fill(store)
    paths = export_tables(store, tmp_path / fmt, fmt)
    assert [p.name for p in paths] == [f"{table}.{fmt}" for table in TABLES]
    assert not list((tmp_path / fmt).glob(".*"))  # no temporary file left
    read = pd.read_csv if fmt == "csv" else pd.read_parquet
    trials, epochs, metrics = (read(p) for p in paths)
    assert list(trials["name"]) == ["t0", "t1"]
    assert list(trials["status"]) == ["completed", "failed"]
    assert trials.loc[0, "params"] == 1234 and trials.loc[0, "converged_epoch"] == 3
    assert trials.loc[1, "failure_reason"] == "loss became NaN"
    assert '"device": "GPU:0"' in trials.loc[0, "extra"]
    assert list(epochs.columns[: len(EPOCH_COLUMNS)]) == list(EPOCH_COLUMNS)
    # a metric named like a fixed column is prefixed, not lost
    assert {"loss", "val_accuracy", "val_loss", "metric_converged"} <= set(epochs.columns)
    assert list(epochs["epoch"]) == [1, 2, 3] and list(epochs["converged"]) == [False, False, True]
    assert math.isnan(epochs.loc[2, "val_accuracy"]) and math.isnan(epochs.loc[0, "prediction"])
    assert epochs.loc[1, "prediction"] == pytest.approx(0.8)
    assert list(metrics.columns) == list(METRIC_COLUMNS)
    final = metrics[metrics["epoch"].isna()]
    assert set(final["name"]) == {"accuracy", "loss"}
    assert final.set_index("name").loc["loss", "value"] == math.inf
    assert metrics.dropna(subset=["epoch"])["epoch"].tolist() == [2]


def test_parquet_keeps_the_column_types(store: RunStore, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    pa = pytest.importorskip("pyarrow")
    _fill(store)
    trials_path, epochs_path, metrics_path = export_tables(store, tmp_path, "parquet")
    trials = pq.read_table(trials_path)
    assert trials.schema.field("params").type == pa.int64()
    assert trials.schema.field("flops").type == pa.float64()
    assert trials.schema.field("started_at").type == pa.timestamp("ms", tz="UTC")
    assert trials.schema.field("status").type == pa.string()
    assert trials.schema.field("curve_parameters").type == pa.string()
    started = trials.column("started_at").to_pylist()[0]
    assert isinstance(started, datetime) and started.tzinfo is not None
    epochs = pq.read_table(epochs_path)
    assert epochs.schema.field("converged").type == pa.bool_()
    assert epochs.schema.field("val_accuracy").type == pa.float64()
    assert epochs.column("val_accuracy").null_count == 1  # NaN is a null, as in the store
    assert pq.read_table(metrics_path).schema.field("epoch").type == pa.int64()


def test_an_empty_store_exports_headers_only(store: RunStore, tmp_path: Path) -> None:
    tables = store_tables(store)
    assert [t.name for t in tables] == list(TABLES) and all(not t.rows for t in tables)
    csv_paths = export_tables(store, tmp_path / "csv", "csv")
    assert csv_paths[1].read_text().splitlines() == [",".join([*EPOCH_COLUMNS, "loss", "val_loss"])]
    pytest.importorskip("pyarrow")
    parquet = export_tables(store, tmp_path / "parquet", "parquet")
    assert len(pd.read_parquet(parquet[0])) == 0 and list(pd.read_parquet(parquet[2]).columns) == list(METRIC_COLUMNS)


def test_unknown_format_and_missing_pyarrow_are_config_errors(store: RunStore, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match="unknown export format 'xlsx'"):
        export_tables(store, out, "xlsx")
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now raises ImportError
    with pytest.raises(ConfigError, match=r"pip install 'scinas\[parquet\]'"):
        export_tables(store, out, "parquet")
    assert not out.exists()
