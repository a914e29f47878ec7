from __future__ import annotations

import keras
import numpy as np
import pytest

from scinas.config.experiment import LayerSpec, NamedSpec
from scinas.data.base import DatasetInfo
from scinas.errors import ConfigError
from scinas.models.compile import build_loss, build_optimizer
from scinas.models.layer_stack import build_layer_stack, known_layer_types, layer_arguments

INFO = DatasetInfo("d", "regression", (501, 3, 1), (12,), {"train": 10, "validation": 2, "test": 2})


def _spec(kind: str, index: int = 0, **arguments: object) -> LayerSpec:
    return LayerSpec(kind, arguments, "configurations.toml", f"E.structure.layers[{index}]")


def test_seed_layer_list_builds_on_the_dataset_shape() -> None:
    model = build_layer_stack([
        _spec("Conv2D", 0, filters=32, kernel_size=[3, 1], activation="relu"),
        _spec("Flatten", 1),
        _spec("Dense", 2, units=128, activation="relu"),
        _spec("Dense", 3, units=12, activation="linear"),
    ], INFO)
    assert model.input_shape == (None, 501, 3, 1)
    assert model.output_shape == (None, 12)
    conv = model.layers[0]
    assert isinstance(conv, keras.layers.Conv2D) and conv.kernel_size == (3, 1)
    assert model.count_params() == (3 * 32 + 32) + (499 * 3 * 32 * 128 + 128) + (128 * 12 + 12)


def test_arguments_come_from_the_signature_and_base_layer() -> None:
    assert {"filters", "kernel_size", "activation", "name", "dtype", "trainable"} <= layer_arguments("Conv2D")
    assert "units" not in layer_arguments("Flatten")
    assert "Conv2D" in known_layer_types() and "InputLayer" not in known_layer_types()


def test_input_layer_is_refused_with_a_fix() -> None:
    with pytest.raises(ConfigError, match="the input shape comes from the dataset"):
        build_layer_stack([_spec("InputLayer"), _spec("Dense", 1, units=12)], INFO)


def test_classification_output_checked_against_classes() -> None:
    info = DatasetInfo("c", "classification", (8, 8, 1), (), {"train": 1, "validation": 0, "test": 0},
                       n_classes=10)
    build_layer_stack([_spec("Flatten"), _spec("Dense", 1, units=10, activation="softmax")], info)
    with pytest.raises(ConfigError, match="10 classes"):
        build_layer_stack([_spec("Flatten"), _spec("Dense", 1, units=9)], info)


@pytest.mark.parametrize(("name", "cls"), [("adam", "Adam"), ("Adam", "Adam"), ("sgd", "SGD"),
                                           ("rms_prop", "RMSprop"), ("adamw", "AdamW")])
def test_optimizer_names(name: str, cls: str) -> None:
    assert type(build_optimizer(NamedSpec(name))).__name__ == cls


def test_optimizer_arguments_are_passed() -> None:
    optimizer = build_optimizer(NamedSpec("sgd", {"learning_rate": 0.5, "momentum": 0.9}))
    assert float(optimizer.learning_rate) == pytest.approx(0.5) and optimizer.momentum == pytest.approx(0.9)


@pytest.mark.parametrize("name", ["mse", "mean_squared_error", "MeanSquaredError", "mae", "huber"])
def test_loss_names(name: str) -> None:
    assert isinstance(build_loss(NamedSpec(name)), keras.losses.Loss)


def test_loss_with_arguments_and_errors() -> None:
    loss = build_loss(NamedSpec("Huber", {"delta": 0.5}))
    assert float(loss(np.array([[0.0]]), np.array([[2.0]]))) == pytest.approx(0.5 * (2 - 0.25))
    with pytest.raises(ConfigError, match="Huber has no argument 'delt'"):
        build_loss(NamedSpec("Huber", {"delt": 0.5}, "f.toml", "E.compile.loss"))
