"""The pieces of run_prediction: reading files, fitting shapes, inferring the task, metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix

from scinas.errors import ConfigError
from scinas.export import predict as module
from scinas.export.prediction_data import read_data_file
from scinas.export.prediction_report import classification_metrics, infer_task, prediction_table, regression_metrics


def test_shapes_are_fitted_or_refused() -> None:
    flat = np.arange(24, dtype=np.float32).reshape(2, 12)
    assert module._fit_shape(flat, (3, 4, 1), "f").shape == (2, 3, 4, 1)  # flat rows (CSV)
    assert module._fit_shape(np.zeros((5, 3, 4)), (3, 4, 1), "f").shape == (5, 3, 4, 1)  # missing channel axis
    assert module._fit_shape(np.zeros((3, 4, 1)), (3, 4, 1), "f").shape == (1, 3, 4, 1)  # one sample
    assert module._fit_shape(np.zeros((2, 7, 2)), (None, 2), "f").shape == (2, 7, 2)  # dynamic length
    with pytest.raises(ConfigError, match=r"expects samples of shape \(n, 3, 4, 1\), got \(n, 4, 3, 2\)"):
        module._fit_shape(np.zeros((2, 4, 3, 2)), (3, 4, 1), "f")


def test_task_follows_the_hint_or_the_outputs() -> None:
    probabilities = np.array([[0.2, 0.8], [0.5, 0.5]])
    assert infer_task(probabilities, None) == "classification"
    assert infer_task(probabilities, "regression") == "regression"
    assert infer_task(np.array([[0.2, 0.9], [0.5, 0.5]]), None) == "regression"
    assert infer_task(np.array([[0.3], [0.7]]), None) == "regression"


def test_classification_metrics_match_a_direct_count() -> None:
    rng = np.random.default_rng(0)
    predicted, targets = rng.integers(0, 4, 50), rng.integers(0, 4, 50)
    metrics = classification_metrics(predicted, targets, ["a", "b", "c", "d"])
    assert metrics["accuracy"] == pytest.approx(np.mean(predicted == targets))
    assert metrics["confusion"] == confusion_matrix(targets, predicted, labels=range(4)).tolist()
    assert metrics["classes"]["c"]["correct"] == int(np.sum((predicted == 2) & (targets == 2)))
    assert metrics["classes"]["d"]["predicted"] == int(np.sum(predicted == 3))
    assert classification_metrics(predicted, None, list("abcd")) == {
        "classes": {name: {"predicted": int(np.sum(predicted == c))} for c, name in enumerate("abcd")}}


def test_one_hot_labels_and_bad_labels() -> None:
    probabilities = np.array([[0.9, 0.1, 0.0], [0.1, 0.1, 0.8]])
    _, rows, metrics = prediction_table("classification", probabilities, np.eye(3)[[0, 1]], ())
    assert metrics["accuracy"] == 0.5 and rows[1][-2:] == [1, "1"]
    with pytest.raises(ConfigError, match=r"class indices 0\.\.2"):
        prediction_table("classification", probabilities, np.array([0.5, 1.0]), ())
    with pytest.raises(ConfigError, match=r"class indices 0\.\.2"):
        prediction_table("classification", probabilities, np.array([0, 3]), ())


def test_regression_metrics_handle_a_constant_target() -> None:
    truth = np.array([[1.0, 2.0], [3.0, 2.0], [5.0, 2.0]])
    predicted = np.array([[1.5, 2.0], [2.5, 2.5], [5.0, 1.0]])
    metrics = regression_metrics(predicted, truth, ["u", "v"])
    assert metrics["targets"]["u"]["r2"] == pytest.approx(1 - 0.5 / 8)
    assert np.isnan(metrics["targets"]["v"]["r2"])  # constant target: R² undefined
    assert metrics["r2"] == pytest.approx(1 - 0.5 / 8)  # mean over defined targets
    assert metrics["mae"] == pytest.approx(np.mean(np.abs(predicted - truth)))
    with pytest.raises(ConfigError, match="predicts 2 values per sample but the labels hold 1"):
        regression_metrics(predicted, truth[:, :1], ["u"])


def test_csv_reading(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("1,2,3\n4,5,6\n\n")
    data = read_data_file(path)
    assert data.x.tolist() == [[1, 2, 3], [4, 5, 6]] and data.y is None and data.name == "t"
    path.write_text("a,b,name\n1,2,p\n3,x,q\n")
    with pytest.raises(ConfigError, match=r"line 3, column 'b': 'x' is not a number"):
        read_data_file(path)
    path.write_text("a,b\n1,2\n3\n")
    with pytest.raises(ConfigError, match="line 3 has 1 fields, expected 2"):
        read_data_file(path)
    path.write_text("a,b,name\n1,2,p\n3,4,q\n")
    data = read_data_file(path, target_column="b")  # the text column is ignored
    assert data.x.tolist() == [[1], [3]] and data.y is not None and data.y.tolist() == [2, 4]
    with pytest.raises(ConfigError, match=r"no column 'B'.*did you mean \"b\""):
        read_data_file(path, target_column="B")


def test_npz_problems_are_named(tmp_path: Path) -> None:
    np.savez(tmp_path / "a.npz", inputs=np.zeros((2, 3)))
    with pytest.raises(ConfigError, match="no array named 'x' \\(found: inputs\\)"):
        read_data_file(tmp_path / "a.npz")
    np.savez(tmp_path / "b.npz", x=np.zeros((2, 3)), y=np.zeros(3))
    with pytest.raises(ConfigError, match="2 input samples but 3 labels"):
        read_data_file(tmp_path / "b.npz")
    np.savez(tmp_path / "c.npz", x=np.array([[np.nan, 1.0]]))
    with pytest.raises(ConfigError, match="NaN or infinite"):
        read_data_file(tmp_path / "c.npz")
    (tmp_path / "d.npz").write_bytes(b"nope")
    with pytest.raises(ConfigError, match="not a readable NumPy file"):
        read_data_file(tmp_path / "d.npz")
