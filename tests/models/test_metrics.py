"""RSquared against scikit-learn, inside Keras training and saving; build_metric's name resolution."""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.metrics import r2_score

from scinas.errors import ConfigError
from scinas.models.metrics import RSquared, build_metric, known_metric_names

TOL = 1e-6


def _data(seed: int, n: int = 200, outputs: int = 3, noise: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.normal(size=(n, outputs)) * rng.uniform(0.5, 3.0, size=outputs) + rng.normal(size=outputs)
    return y, y + rng.normal(scale=noise, size=y.shape)


def _value(metric: RSquared) -> Any:
    return keras.ops.convert_to_numpy(metric.result())


def _streamed(metric: RSquared, y: np.ndarray, p: np.ndarray, w: np.ndarray | None,
              cuts: tuple[int, ...]) -> Any:
    edges = (0, *cuts, len(y))
    for start, stop in itertools.pairwise(edges):
        metric.update_state(y[start:stop], p[start:stop], None if w is None else w[start:stop])
    return _value(metric)


# -- agreement with scikit-learn ------------------------------------------------------------------
@pytest.mark.parametrize("shape", ["flat", "column"])
def test_single_output_matches_sklearn(shape: str) -> None:
    y, p = _data(0, outputs=1)
    if shape == "flat":
        y, p = y[:, 0], p[:, 0]
    metric = RSquared()
    metric.update_state(y, p)
    assert metric.num_outputs == 1
    assert _value(metric) == pytest.approx(r2_score(y, p), abs=TOL)


def test_uniform_average_pooled_and_raw_values_match_sklearn_with_weights() -> None:
    y, p = _data(1)
    w = np.random.default_rng(2).uniform(0.1, 2.0, size=len(y))
    expected = {
        "uniform_average": r2_score(y, p, sample_weight=w),
        "pooled": r2_score(y.ravel(), p.ravel(), sample_weight=np.repeat(w, y.shape[1])),
        "raw_values": r2_score(y, p, sample_weight=w, multioutput="raw_values"),
    }
    assert expected["pooled"] != pytest.approx(expected["uniform_average"], abs=1e-3)
    for mode, value in expected.items():
        for weights in (w, w[:, None]):
            metric = RSquared(multioutput=mode)  # type: ignore[arg-type]
            metric.update_state(y, p, weights)
            np.testing.assert_allclose(_value(metric), value, atol=TOL, err_msg=mode)


def test_unweighted_multi_output_matches_sklearn() -> None:
    y, p = _data(3, outputs=5)
    metric = RSquared(num_outputs=5)
    metric.update_state(y, p)
    assert _value(metric) == pytest.approx(r2_score(y, p), abs=TOL)


def test_per_element_weights_weight_each_output_separately() -> None:
    y, p = _data(4)
    w = np.random.default_rng(5).uniform(0.0, 1.0, size=y.shape)
    raw = RSquared(multioutput="raw_values")
    raw.update_state(y, p, w)
    columns = [r2_score(y[:, j], p[:, j], sample_weight=w[:, j]) for j in range(y.shape[1])]
    np.testing.assert_allclose(_value(raw), columns, atol=TOL)
    pooled = RSquared(multioutput="pooled")
    pooled.update_state(y, p, w)
    assert _value(pooled) == pytest.approx(r2_score(y.ravel(), p.ravel(), sample_weight=w.ravel()), abs=TOL)


def test_output_without_weight_is_left_out_of_the_average() -> None:
    y, p = _data(6)
    w = np.ones_like(y)
    w[:, 2] = 0.0
    metric = RSquared()
    metric.update_state(y, p, w)
    assert _value(metric) == pytest.approx(r2_score(y[:, :2], p[:, :2]), abs=TOL)


def test_higher_rank_inputs_are_flattened_into_outputs() -> None:
    y, p = _data(7, outputs=6)
    metric = RSquared(multioutput="raw_values")
    metric.update_state(y.reshape(-1, 2, 3), p.reshape(-1, 2, 3))
    assert metric.num_outputs == 6
    np.testing.assert_allclose(_value(metric), r2_score(y, p, multioutput="raw_values"), atol=TOL)


@pytest.mark.parametrize("mode", ["uniform_average", "pooled", "raw_values"])
def test_streaming_over_uneven_batches_equals_one_shot(mode: str) -> None:
    y, p = _data(8, n=301)
    w = np.random.default_rng(9).uniform(0.1, 3.0, size=len(y))
    one_shot = RSquared(multioutput=mode)  # type: ignore[arg-type]
    one_shot.update_state(y, p, w)
    streamed = _streamed(RSquared(multioutput=mode), y, p, w, (1, 2, 50, 51, 190))  # type: ignore[arg-type]
    np.testing.assert_allclose(streamed, _value(one_shot), atol=TOL)


@pytest.mark.parametrize(("offset", "dtype"), [(1e4, np.float32), (1e8, np.float64)])
def test_large_offset_targets_keep_full_precision(offset: float, dtype: type) -> None:
    # Σy² − (Σy)²/n loses everything at 1e8 even in float64; the merged M2 does not.
    rng = np.random.default_rng(10)
    y: np.ndarray = (offset + rng.normal(size=(2000, 2))).astype(dtype)
    p: np.ndarray = (y + rng.normal(scale=0.5, size=y.shape)).astype(dtype)
    w = rng.uniform(0.5, 1.5, size=len(y))
    metric = RSquared()
    value = _streamed(metric, y, p, w, tuple(range(64, 2000, 64)))
    assert metric.count.dtype == "float64"
    expected = r2_score(y.astype(np.float64), p.astype(np.float64), sample_weight=w)
    assert 0.5 < expected < 0.9
    assert value == pytest.approx(expected, abs=TOL)


def test_constant_targets_follow_force_finite() -> None:
    y = np.full((40, 3), 0.1)
    p = y.copy()
    p[:, 1] += 0.01  # output 1: constant target, imperfect prediction
    y[:, 2] = np.linspace(0.0, 1.0, 40)  # output 2: an ordinary target
    p[:, 2] = y[:, 2] + 0.05
    w = np.random.default_rng(11).uniform(0.1, 1.0, size=40)
    raw = _streamed(RSquared(multioutput="raw_values"), y, p, w, (3, 17, 29))
    assert raw[0] == 1.0
    assert raw[1] == 0.0
    assert raw[2] == pytest.approx(r2_score(y[:, 2], p[:, 2], sample_weight=w), abs=TOL)
    average = _streamed(RSquared(), y, p, w, (3, 17, 29))
    assert average == pytest.approx(np.mean(raw), abs=TOL)


@pytest.mark.parametrize(("offset", "expected"), [(0.0, 1.0), (1e-3, 0.0)])
def test_constant_pooled_target(offset: float, expected: float) -> None:
    y = np.full((30, 2), 7.3)
    metric = RSquared(multioutput="pooled")
    metric.update_state(y, y + offset)
    assert _value(metric) == expected
    assert expected == r2_score(y.ravel(), (y + offset).ravel())


def test_result_before_any_update() -> None:
    assert _value(RSquared()) == 0.0
    assert _value(RSquared(multioutput="raw_values")).shape == (0,)
    assert _value(RSquared(num_outputs=2, multioutput="raw_values")).tolist() == [0.0, 0.0]


# -- state, configuration, errors -----------------------------------------------------------------
def test_reset_state_forgets_everything() -> None:
    y, p = _data(12)
    y2, p2 = _data(13)
    metric = RSquared()
    metric.update_state(y, p)
    metric.reset_state()
    assert _value(metric) == 0.0
    metric.update_state(y2, p2)
    assert _value(metric) == pytest.approx(r2_score(y2, p2), abs=TOL)


def test_get_config_round_trip() -> None:
    metric = RSquared(num_outputs=4, multioutput="pooled", name="r2p", dtype="float64")
    clone = RSquared.from_config(metric.get_config())
    assert clone.get_config() == metric.get_config()
    assert (clone.name, clone.num_outputs, clone.multioutput, clone.dtype) == ("r2p", 4, "pooled", "float64")
    lazy = RSquared()
    assert lazy.get_config()["num_outputs"] is None
    lazy.update_state(np.zeros((2, 3)), np.zeros((2, 3)))
    assert lazy.get_config()["num_outputs"] == 3
    registered = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(metric))
    assert isinstance(registered, RSquared)
    assert registered.get_config() == metric.get_config()


@pytest.mark.parametrize("kwargs", [{"multioutput": "variance_weighted"}, {"num_outputs": 0},
                                    {"num_outputs": True}])
def test_invalid_constructor_arguments(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="RSquared"):
        RSquared(**kwargs)


def test_shape_mismatches_are_rejected() -> None:
    with pytest.raises(ValueError, match="outputs"):
        RSquared().update_state(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="built for 2"):
        RSquared(num_outputs=2).update_state(np.zeros((4, 3)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="sample_weight"):
        RSquared().update_state(np.zeros((4, 3)), np.zeros((4, 3)), np.ones((4, 2)))


# -- inside Keras ---------------------------------------------------------------------------------
def _regression(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(96, 4)).astype(np.float32)
    y = (x @ rng.normal(size=(4, 3)) + rng.normal(scale=0.3, size=(96, 3)) + 5.0).astype(np.float32)
    return x, y, rng.uniform(0.2, 2.0, size=96).astype(np.float32)


def _compiled(**compile_args: Any) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse",
                  metrics=[RSquared(), RSquared(multioutput="pooled", name="pooled")],
                  weighted_metrics=[RSquared(num_outputs=3, name="weighted")], **compile_args)
    return model


@pytest.mark.parametrize("strategy", ["none", "default", "one_device"])
def test_compile_fit_evaluate_match_sklearn(strategy: str) -> None:
    x, y, w = _regression()
    if strategy == "none":
        model = _compiled()
    else:
        chosen = tf.distribute.get_strategy() if strategy == "default" else tf.distribute.OneDeviceStrategy(
            "/cpu:0")
        with chosen.scope():
            model = _compiled()
    history = model.fit(x, y, epochs=2, batch_size=16, validation_split=0.25, verbose=0)
    assert {"r_squared", "val_r_squared", "pooled", "weighted"} <= set(history.history)
    values = model.evaluate(x, y, sample_weight=w, batch_size=20, return_dict=True, verbose=0)
    predicted = model.predict(x, batch_size=32, verbose=0).astype(np.float64)
    assert values["r_squared"] == pytest.approx(r2_score(y, predicted), rel=1e-5, abs=1e-5)
    assert values["pooled"] == pytest.approx(r2_score(y.ravel(), predicted.ravel()), rel=1e-5, abs=1e-5)
    assert values["weighted"] == pytest.approx(r2_score(y, predicted, sample_weight=w), rel=1e-5, abs=1e-5)


def test_works_under_xla() -> None:
    x, y, w = _regression(1)
    model = _compiled(jit_compile=True)
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    values = model.evaluate(x, y, sample_weight=w, batch_size=32, return_dict=True, verbose=0)
    predicted = model.predict(x, verbose=0).astype(np.float64)
    assert values["weighted"] == pytest.approx(r2_score(y, predicted, sample_weight=w), rel=1e-5, abs=1e-5)


def test_keras_file_round_trip_without_custom_objects(tmp_path: Path) -> None:
    x, y, w = _regression(2)
    model = _compiled()
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    before = model.evaluate(x, y, sample_weight=w, return_dict=True, verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    after = loaded.evaluate(x, y, sample_weight=w, return_dict=True, verbose=0)
    assert after == pytest.approx(before, abs=1e-6)
    metrics = {m.name: m for m in loaded.metrics[1].metrics}
    assert isinstance(metrics["pooled"], RSquared)
    assert metrics["pooled"].multioutput == "pooled"


@pytest.mark.slow
def test_exact_under_a_two_replica_mirrored_strategy() -> None:
    script = textwrap.dedent("""
        import numpy as np, tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        import keras
        from sklearn.metrics import r2_score
        from scinas.models.metrics import RSquared
        rng = np.random.default_rng(0)
        x = rng.normal(size=(64, 4)).astype("float32")
        y = (1e3 + x @ rng.normal(size=(4, 2))).astype("float32")
        w = rng.uniform(size=64).astype("float32")
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        assert strategy.num_replicas_in_sync == 2
        with strategy.scope():
            model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
            model.compile("adam", "mse", weighted_metrics=[RSquared(2, "pooled")])
        model.fit(x, y, epochs=1, batch_size=16, verbose=0)
        got = model.evaluate(x, y, sample_weight=w, batch_size=10, return_dict=True, verbose=0)
        p = model.predict(x, verbose=0).astype("float64")
        want = r2_score(y.ravel(), p.ravel(), sample_weight=np.repeat(w, 2))
        assert abs(got["r_squared"] - want) <= 1e-6 * abs(want), (got, want)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]


# -- build_metric ---------------------------------------------------------------------------------
@pytest.mark.parametrize("spelling",
                         ["R_squared", "r_squared", "RSQUARED", "rsquared", "r2", "R2", "r-squared"])
def test_build_metric_r_squared_spellings(spelling: str) -> None:
    metric = build_metric(spelling, n_outputs=12)
    assert isinstance(metric, RSquared)
    assert (metric.name, metric.num_outputs, metric.multioutput) == ("r_squared", 12, "uniform_average")


def test_build_metric_r_squared_table() -> None:
    metric = build_metric({"name": "r_squared", "multioutput": "pooled"}, n_outputs=3)
    assert isinstance(metric, RSquared)
    assert (metric.name, metric.num_outputs, metric.multioutput) == ("r_squared_pooled", 3, "pooled")
    same = build_metric({"name": "R2", "num_outputs": 3, "dtype": "float64"}, n_outputs=3)
    assert same.dtype == "float64"


@pytest.mark.parametrize(
    ("spec", "cls", "name"),
    [
        ("MeanSquaredError", keras.metrics.MeanSquaredError, "mean_squared_error"),
        ("mean_squared_error", keras.metrics.MeanSquaredError, "mean_squared_error"),
        ("meansquarederror", keras.metrics.MeanSquaredError, "mean_squared_error"),
        ("mae", keras.metrics.MeanAbsoluteError, "mean_absolute_error"),
        ("MAE", keras.metrics.MeanAbsoluteError, "mean_absolute_error"),
        ("mse", keras.metrics.MeanSquaredError, "mean_squared_error"),
        ("msle", keras.metrics.MeanSquaredLogarithmicError, "mean_squared_logarithmic_error"),
        ("R2Score", keras.metrics.R2Score, "r2_score"),
        ("RootMeanSquaredError", keras.metrics.RootMeanSquaredError, "root_mean_squared_error"),
        ({"name": "MeanAbsoluteError", "dtype": "float64"}, keras.metrics.MeanAbsoluteError,
         "mean_absolute_error"),
        ({"name": "AUC", "num_thresholds": 50}, keras.metrics.AUC, "auc"),
    ],
)
def test_build_metric_keras_names(spec: Any, cls: type[keras.metrics.Metric], name: str) -> None:
    metric = build_metric(spec, n_outputs=2)
    assert type(metric) is cls
    assert metric.name == name


@pytest.mark.parametrize("spelling", ["accuracy", "acc", "ACCURACY"])
def test_build_metric_accuracy_follows_the_shapes(spelling: str) -> None:
    metric = build_metric(spelling, n_outputs=1)
    assert metric.name == "accuracy"
    cases = [  # (y_true, y_pred, accuracy)
        (np.array([[1.0], [0.0]]), np.array([[0.9], [0.8]]), 0.5),  # binary
        (np.array([2, 0]), np.array([[0.1, 0.2, 0.7], [0.1, 0.8, 0.1]]), 0.5),  # sparse
        (np.array([[0, 0, 1], [1, 0, 0]]), np.array([[0.1, 0.2, 0.7], [0.6, 0.3, 0.1]]), 1.0),  # one-hot
    ]
    for y_true, y_pred, expected in cases:
        metric.reset_state()
        metric.update_state(y_true, y_pred)
        assert float(metric.result()) == pytest.approx(expected)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(metric))
    assert isinstance(clone, keras.metrics.Metric)
    clone.update_state(*cases[1][:2])
    assert float(clone.result()) == pytest.approx(0.5)


def test_build_metric_returns_fresh_instances() -> None:
    assert build_metric("mae", n_outputs=1) is not build_metric("mae", n_outputs=1)


def test_unknown_name_suggests_a_fix() -> None:
    with pytest.raises(ConfigError) as caught:
        build_metric("R_sqared", n_outputs=2, file="configurations.toml", path="E.compile.metrics[0]")
    message = str(caught.value)
    assert message.startswith('configurations.toml: [E.compile] metrics[0] = "R_sqared": unknown metric')
    assert 'did you mean "R_squared"?' in message
    with pytest.raises(ConfigError, match='did you mean "MeanSquaredError"'):
        build_metric("MeanSquaredEror", n_outputs=2)
    with pytest.raises(ConfigError, match="known_metric_names"):
        build_metric("Metric", n_outputs=2)  # the abstract base is not a usable metric


def test_unknown_argument_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        build_metric({"name": "r_squared", "multi_output": "pooled"}, n_outputs=2,
                     file="configurations.toml", path="E.compile.metrics[1]")
    message = str(caught.value)
    assert "[E.compile.metrics[1]] multi_output" in message
    assert 'did you mean "multioutput"?' in message
    assert "valid: dtype, multioutput, num_outputs" in message
    with pytest.raises(ConfigError, match=r"MeanSquaredError has no argument 'thresholds'.*dtype"):
        build_metric({"name": "MeanSquaredError", "thresholds": 3}, n_outputs=2)


@pytest.mark.parametrize("spec", [3, ["mae"], None, {"multioutput": "pooled"}, {"name": 5}])
def test_wrong_spec_type(spec: Any) -> None:
    with pytest.raises(ConfigError, match="metric"):
        build_metric(spec, n_outputs=1, file="configurations.toml", path="E.compile.metrics[2]")


def test_arguments_keras_rejects_and_num_outputs_mismatch() -> None:
    with pytest.raises(ConfigError, match="rejected the arguments of metric RSquared"):
        build_metric({"name": "r_squared", "multioutput": "variance_weighted"}, n_outputs=2)
    with pytest.raises(ConfigError, match="IoU takes: num_classes, target_class_ids"):
        build_metric("IoU", n_outputs=2)
    with pytest.raises(ConfigError, match="the dataset has 2 targets"):
        build_metric({"name": "r_squared", "num_outputs": 3}, n_outputs=2)


def test_known_metric_names() -> None:
    names = known_metric_names()
    assert names == sorted(names)
    assert {"r_squared", "R_squared", "r2", "accuracy", "mae", "mse", "MeanSquaredError",
            "mean_squared_error", "R2Score"} <= set(names)
    assert "Metric" not in names
    assert "MeanMetricWrapper" not in names
    for name in names:  # every listed name resolves; some classes need arguments (IoU: num_classes)
        try:
            assert isinstance(build_metric(name, n_outputs=1), keras.metrics.Metric), name
        except ConfigError as error:
            assert "rejected the arguments" in str(error), name
