"""`scinas predict` end to end through scinas.cli.main: files, datasets, metrics and errors."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import keras
import numpy as np
import pytest
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from scinas.cli import main
from scinas.config.loading import load_config
from scinas.data.pipeline import PreparedDataset
from scinas.data.spec import build_generator
from tests.conftest import TINY_EXPERIMENTS, ConfigWriter
from tests.export.helpers import PREDICT_DATA, dense_inference_model


@pytest.fixture(autouse=True)
def _fresh_session() -> Iterator[None]:
    keras.backend.clear_session()
    yield
    keras.backend.clear_session()


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _dataset(config: Path, name: str, cache: Path) -> tuple[PreparedDataset, keras.Model, Path]:
    """The test data of ``name`` and a saved trial-style model for it (in a trial folder)."""
    generator = build_generator(load_config(config), name)
    data = PreparedDataset.prepare(generator, cache, progress=False)
    model = dense_inference_model(data.info)
    trial = config.parent / "trials" / f"{name}-trial"
    trial.mkdir(parents=True)
    model.save(trial / "model.keras")
    return data, model, trial


def test_classification_on_a_dataset_name(write_config: ConfigWriter, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(TINY_EXPERIMENTS, PREDICT_DATA)
    cache = config.parent / "cache"
    data, model, trial = _dataset(config, "digits", cache)
    code = main(["predict", "--model", str(trial), "--data", "digits", "--config-dir", str(config),
                 "--cache-dir", str(cache), "--batch-size", "4"])
    assert code == 0, capsys.readouterr().err
    out = trial / "predictions" / "digits"
    assert str(out) in capsys.readouterr().out
    x, y = data.arrays("test")  # raw inputs: the saved model normalises them itself
    probabilities = model.predict(x, verbose=0)
    rows = _rows(out / "predictions.csv")
    assert len(rows) == len(x) == 15
    assert list(rows[0]) == ["index", "prediction", "prediction_name", *(f"probability_{c}" for c in range(10)),
                             "target", "target_name"]
    np.testing.assert_array_equal([int(r["prediction"]) for r in rows], probabilities.argmax(axis=1))
    np.testing.assert_allclose([float(r["probability_3"]) for r in rows], probabilities[:, 3], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal([int(r["target"]) for r in rows], y.astype(int))
    analysis = json.loads((out / "analysis.json").read_text())
    assert analysis["task"] == "classification" and analysis["n"] == 15 and analysis["split"] == "test"
    assert analysis["metrics"]["accuracy"] == pytest.approx(np.mean(probabilities.argmax(axis=1) == y))
    classes = analysis["metrics"]["classes"]
    assert sum(c["support"] for c in classes.values()) == 15
    assert [classes[str(c)]["support"] for c in range(10)] == np.bincount(y.astype(int), minlength=10).tolist()
    timings = analysis["timings"]
    assert timings["predict_s"] > 0 and timings["samples_per_s"] == pytest.approx(15 / timings["predict_s"])
    assert timings["latency_ms_per_sample"] == pytest.approx(1000 * timings["predict_s"] / 15)
    assert "accuracy" in (out / "analysis.txt").read_text()


def test_regression_on_a_dataset_name(write_config: ConfigWriter, tmp_path: Path) -> None:
    config = write_config(TINY_EXPERIMENTS, PREDICT_DATA)
    cache = config.parent / "cache"
    data, model, trial = _dataset(config, "tiny", cache)
    out = tmp_path / "regression"
    assert main(["predict", "--model", str(trial / "model.keras"), "--data", "tiny", "--config-dir", str(config),
                 "--cache-dir", str(cache), "--out", str(out), "-q"]) == 0
    x, y = data.arrays("test")
    predicted = model.predict(x, verbose=0)
    rows = _rows(out / "predictions.csv")
    names = data.info.target_names
    assert len(rows) == 24 and list(rows[0])[:2] == ["index", f"prediction_{names[0]}"]
    assert f"target_{names[-1]}" in rows[0]
    np.testing.assert_allclose([float(r[f"prediction_{names[1]}"]) for r in rows], predicted[:, 1], rtol=1e-5)
    metrics = json.loads((out / "analysis.json").read_text())["metrics"]
    assert metrics["mae"] == pytest.approx(mean_absolute_error(y, predicted), rel=1e-5)
    assert metrics["rmse"] == pytest.approx(np.sqrt(mean_squared_error(y, predicted)), rel=1e-5)
    assert metrics["r2"] == pytest.approx(r2_score(y, predicted), rel=1e-4, abs=1e-5)
    per_target = metrics["targets"][names[2]]
    assert per_target["r2"] == pytest.approx(r2_score(y[:, 2], predicted[:, 2]), rel=1e-4, abs=1e-5)
    assert per_target["mae"] == pytest.approx(mean_absolute_error(y[:, 2], predicted[:, 2]), rel=1e-5)


def test_npz_file_with_and_without_labels_and_onnx(tmp_path: Path) -> None:
    from scinas.data.base import DatasetInfo

    info = DatasetInfo("d", "classification", (6,), (), {"train": 1, "validation": 0, "test": 0}, n_classes=3)
    model = dense_inference_model(info)
    folder = tmp_path / "best_model"
    folder.mkdir()
    model.save(folder / "model.keras")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(9, 6)).astype(np.float32), rng.integers(0, 3, 9)
    np.savez(tmp_path / "new.npz", x=x, y=y)
    assert main(["predict", "--model", str(folder), "--data", str(tmp_path / "new.npz")]) == 0
    analysis = json.loads((folder / "predictions" / "new" / "analysis.json").read_text())
    expected = model.predict(x, verbose=0).argmax(axis=1)
    assert analysis["metrics"]["accuracy"] == pytest.approx(np.mean(expected == y))
    assert analysis["model_format"] == "keras" and analysis["labels"] is True

    np.save(tmp_path / "inputs.npy", x)
    assert main(["predict", "--model", str(folder / "model.keras"), "--data", str(tmp_path / "inputs.npy"),
                 "--out", str(tmp_path / "o")]) == 0
    rows = _rows(tmp_path / "o" / "predictions.csv")
    assert "target" not in rows[0] and [int(r["prediction"]) for r in rows] == expected.tolist()
    assert "no labels" in (tmp_path / "o" / "analysis.txt").read_text()

    from scinas.export.onnx import export_onnx

    export_onnx(model, tmp_path / "m.onnx")
    assert main(["predict", "--model", str(tmp_path / "m.onnx"), "--data", str(tmp_path / "new.npz"),
                 "--out", str(tmp_path / "onnx")]) == 0
    analysis = json.loads((tmp_path / "onnx" / "analysis.json").read_text())
    assert analysis["model_format"] == "onnx" and analysis["task"] == "classification"  # from its outputs
    assert analysis["metrics"]["accuracy"] == pytest.approx(np.mean(expected == y))


def test_csv_with_header_and_target_column(tmp_path: Path) -> None:
    from scinas.data.base import DatasetInfo

    info = DatasetInfo("d", "regression", (3,), (), {"train": 1, "validation": 0, "test": 0})
    model = dense_inference_model(info)
    model.save(tmp_path / "model.keras")
    x = np.arange(12, dtype=np.float32).reshape(4, 3) / 10
    lines = ["id,a,b,c,label"] + [f"s{i},{a},{b},{c},{i}" for i, (a, b, c) in enumerate(x)]
    (tmp_path / "table.csv").write_text("\n".join(lines) + "\n")
    assert main(["predict", "--model", str(tmp_path), "--data", str(tmp_path / "table.csv"),
                 "--target-column", "label", "--task", "regression"]) == 0
    rows = _rows(tmp_path / "predictions" / "table" / "predictions.csv")
    assert list(rows[0]) == ["index", "prediction", "target"]
    np.testing.assert_allclose([float(r["prediction"]) for r in rows], model.predict(x, verbose=0).ravel(), rtol=1e-5)
    assert [float(r["target"]) for r in rows] == [0, 1, 2, 3]


@pytest.mark.parametrize(("make", "message"), [
    (lambda d: ["--model", str(d / "nope"), "--data", str(d / "x.npz")], "does not exist"),
    (lambda d: ["--model", str(d), "--data", str(d / "missing.npz")], "data file"),
    (lambda d: ["--model", str(d), "--data", str(d / "wrong.npz")], "input shape mismatch: the model expects "
                                                                      "samples of shape (n, 6), got (n, 4, 5)"),
    (lambda d: ["--model", str(d), "--data", "digitz", "--config-dir", str(d / "config")],
     'unknown dataset \'digitz\''),
    (lambda d: ["--model", str(d / "bad.onnx"), "--data", str(d / "x.npz")], "not a readable ONNX model"),
    (lambda d: ["--model", str(d), "--data", str(d / "x.npz"), "--batch-size", "0"], "batch size"),
    (lambda d: ["--model", str(d / "empty"), "--data", str(d / "x.npz")], "holds no model.keras"),
    (lambda d: ["--model", str(d), "--data", str(d / "x.txt")], "unsupported format"),
])
def test_bad_input_exits_2_with_a_message(tmp_path: Path, write_config: ConfigWriter,
                                          capsys: pytest.CaptureFixture[str], make: object, message: str) -> None:
    from scinas.data.base import DatasetInfo

    info = DatasetInfo("d", "classification", (6,), (), {"train": 1, "validation": 0, "test": 0}, n_classes=3)
    dense_inference_model(info).save(tmp_path / "model.keras")
    np.savez(tmp_path / "x.npz", x=np.zeros((2, 6), np.float32))
    np.savez(tmp_path / "wrong.npz", x=np.zeros((2, 4, 5), np.float32))
    (tmp_path / "bad.onnx").write_bytes(b"garbage")
    (tmp_path / "x.txt").write_text("1 2 3")
    (tmp_path / "empty").mkdir()
    write_config(TINY_EXPERIMENTS, PREDICT_DATA)
    assert main(["predict", *make(tmp_path)]) == 2  # type: ignore[operator]
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err
    if "digitz" in message:
        assert 'did you mean "digits"?' in err
