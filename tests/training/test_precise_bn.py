"""Precise BN: the recomputed moving statistics are the training split's, they are in place before
every validation and before anything is saved, and nothing else changes."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf

from scinas.training.precise_bn import BatchNormStatistics, PreciseBatchNorm, batch_norm_layers, recompute_batch_norm


def _data(n: int = 37, features: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(n, features)) * [1.0, 5.0, 0.2] + [2.0, -3.0, 10.0]).astype(np.float32)
    y = rng.normal(size=(n, 1)).astype(np.float32)
    return x, y


def _dense_bn(features: int = 3, momentum: float = 0.99) -> keras.Model:
    inputs = keras.Input((features,))
    hidden = keras.layers.Dense(4, name="dense")(inputs)
    normalised = keras.layers.BatchNormalization(momentum=momentum, name="bn")(hidden)
    return keras.Model(inputs, keras.layers.Dense(1, name="out")(normalised))


def _batches(x: np.ndarray, y: np.ndarray, size: int) -> tf.data.Dataset:
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(size)


def test_the_first_layer_gets_the_exact_statistics_of_the_split_whatever_the_batching() -> None:
    keras.utils.set_random_seed(1)
    x, y = _data()
    model = _dense_bn()
    kernel, bias = model.get_layer("dense").get_weights()
    hidden = x.astype(np.float64) @ kernel + bias  # the BN layer's input, by hand
    for size in (5, 16, 37):
        used = recompute_batch_norm(model, _batches(x, y, size))
        bn = model.get_layer("bn")
        assert used == len(x)
        np.testing.assert_allclose(bn.moving_mean.numpy(), hidden.mean(axis=0), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(bn.moving_variance.numpy(), hidden.var(axis=0), rtol=1e-4)
        assert bn.momentum == 0.99  # the momentum option is left as it was


def test_the_forward_pass_is_traced_once_per_model_whatever_the_batch_sizes() -> None:
    x, y = _data(n=37)
    statistics = BatchNormStatistics(_dense_bn())
    assert statistics.tracing_count == 0
    for size in (16, 5, 37):  # 16, 16, 5 then 5 x 7, 2 then 37: the last batches are smaller
        assert statistics.recompute(_batches(x, y, size)) == len(x)
    assert statistics.tracing_count == 1


def test_with_the_split_in_one_batch_inference_reproduces_training_mode() -> None:
    keras.utils.set_random_seed(2)
    x, _ = _data(n=24)
    inputs = keras.Input((3,))
    h = keras.layers.BatchNormalization(name="bn1")(keras.layers.Dense(5, activation="relu")(inputs))
    h = keras.layers.BatchNormalization(name="bn2")(keras.layers.Dense(4)(h))
    model = keras.Model(inputs, h)
    trained = model(x, training=True).numpy()  # also moves the moving statistics a little
    recompute_batch_norm(model, [x])
    np.testing.assert_allclose(model(x, training=False).numpy(), trained, rtol=1e-3, atol=1e-3)


def test_max_batches_limits_the_pass_and_weights_are_untouched() -> None:
    x, y = _data(n=40)
    model = _dense_bn()
    before = [w.copy() for w in model.get_weights()]
    assert recompute_batch_norm(model, _batches(x, y, 8), max_batches=2) == 16
    after = model.get_weights()
    names = [w.path for w in model.weights]
    for name, old, new in zip(names, before, after, strict=True):
        if "moving" not in name:
            np.testing.assert_array_equal(old, new)


def test_nested_models_are_found_and_a_model_without_bn_is_a_no_op() -> None:
    inner = _dense_bn()
    outer = keras.Sequential([keras.Input((3,)), inner])
    assert [layer.name for layer in batch_norm_layers(outer)] == ["bn"]
    plain = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    x, y = _data()
    assert recompute_batch_norm(plain, _batches(x, y, 8)) == 0


class _Spy(keras.callbacks.Callback):
    """Records the BN moving mean when each validation starts and at each epoch end."""

    def __init__(self) -> None:
        super().__init__()
        self.at_validation: list[np.ndarray] = []
        self.at_epoch_end: list[np.ndarray] = []

    def on_test_begin(self, logs: Any = None) -> None:
        self.at_validation.append(self.model.get_layer("bn").moving_mean.numpy().copy())

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self.at_epoch_end.append(self.model.get_layer("bn").moving_mean.numpy().copy())


def _split_mean(model: keras.Model, x: np.ndarray) -> np.ndarray:
    kernel, bias = model.get_layer("dense").get_weights()
    return np.asarray((x.astype(np.float64) @ kernel + bias).mean(axis=0))


@pytest.mark.parametrize("validation", [True, False])
def test_fit_validates_and_ends_every_epoch_with_the_current_weights_statistics(validation: bool) -> None:
    keras.utils.set_random_seed(3)
    x, y = _data(n=40)
    model = _dense_bn(momentum=0.99)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    callback = PreciseBatchNorm(lambda: _batches(x, y, 16))
    spy = _Spy()  # after the callback, like the checkpoint and early stopping
    model.fit(_batches(x, y, 16), validation_data=_batches(x, y, 16) if validation else None,
              epochs=3, verbose=0, callbacks=[callback, spy])
    assert callback.recomputations == 3
    if validation:  # validation ran with the statistics the epoch ended with
        assert len(spy.at_validation) == 3
        for seen, kept in zip(spy.at_validation, spy.at_epoch_end, strict=True):
            np.testing.assert_array_equal(seen, kept)
    # the last epoch's statistics are those of the final weights (which no batch changed since)
    np.testing.assert_allclose(spy.at_epoch_end[-1], _split_mean(model, x), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model.get_layer("bn").moving_mean.numpy(), _split_mean(model, x),
                               rtol=1e-4, atol=1e-5)


def test_a_model_without_batch_normalisation_is_a_logged_no_op(caplog: pytest.LogCaptureFixture) -> None:
    x, y = _data(n=16)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    callback = PreciseBatchNorm(lambda: _batches(x, y, 8))
    caplog.set_level("INFO", logger="scinas.training.precise_bn")
    model.fit(_batches(x, y, 8), validation_data=_batches(x, y, 8), epochs=2, verbose=0, callbacks=[callback])
    assert callback.recomputations == 0
    assert any("no batch-normalisation layer" in record.getMessage() for record in caplog.records)


def test_the_batch_normalisations_inside_cell_operators_are_found() -> None:
    from scinas.data.base import DatasetInfo
    from scinas.models.cell_network import CellNetworkGenerator
    from scinas.search_space.architecture import CellArchitecture
    from scinas.search_space.cell import Cell
    from scinas.search_space.macro import MacroConfig

    info = DatasetInfo("t", "classification", (8, 8, 1), (), {"train": 4, "validation": 0, "test": 0}, n_classes=3)
    cell = Cell.from_text("[(-1, 3x3 conv, -1, identity)]")
    model = CellNetworkGenerator().build(CellArchitecture(cell, MacroConfig(filters=4, motifs=1,
                                                                            normal_cells_per_motif=1)), info)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)  # all nested
    layers = batch_norm_layers(model)
    assert layers and all(isinstance(layer, keras.layers.BatchNormalization) for layer in layers)
    x = np.random.default_rng(0).normal(size=(6, 8, 8, 1)).astype(np.float32)
    assert recompute_batch_norm(model, [x]) == 6
