"""What the operator layers compute (beyond the shape contract the conformance suite checks)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import keras
import numpy as np
import pytest

from scinas.search_space.operators import LayerRequest, allocator_for, parse_operator
from scinas.search_space.operators.context_layers import RecurrentOp
from scinas.search_space.operators.conv_layers import ConvOp, ZoomedConvOp
from scinas.search_space.operators.shortcut_layers import PoolOp

RNG = np.random.default_rng(7)


def build(text: str, rank: int, in_channels: int, filters: int, strides: int = 1, **options: Any) -> Any:
    spec = parse_operator(text, rank)
    request = LayerRequest(rank=rank, in_channels=in_channels, filters=filters, strides=strides, **options)
    return allocator_for(spec).build(spec, request)


def images(*shape: int) -> np.ndarray[Any, Any]:
    return RNG.normal(size=shape).astype("float32")


@pytest.fixture
def mixed_precision() -> Iterator[None]:
    keras.config.set_dtype_policy("mixed_float16")
    try:
        yield
    finally:
        keras.config.set_dtype_policy("float32")


@pytest.mark.parametrize(
    ("text", "rank", "in_channels", "filters", "strides", "expected"),
    [
        ("3x3 conv", 2, 4, 8, 1, 3 * 3 * 4 * 8 + 4 * 8),
        ("3x3:2dr conv", 2, 4, 4, 2, 3 * 3 * 4 * 4 + 4 * 4),
        ("1x3-3x1 conv", 2, 4, 8, 1, (3 * 4 * 8 + 32) + (3 * 8 * 8 + 32)),
        ("3x3 dconv", 2, 4, 8, 1, 9 * 4 + 4 * 8 + 32),
        ("3x3 tconv", 2, 4, 8, 2, 9 * 4 * 8 + 9 * 8 * 8 + 32),
        ("3x3:2z zconv", 2, 4, 8, 1, 9 * 4 * 8 + 32),
        ("2x2 maxpool", 2, 4, 4, 2, 0),
        ("2x2 maxpool", 2, 4, 8, 2, 4 * 8 + 32),
        ("identity", 2, 4, 4, 1, 0),
        ("identity", 2, 4, 4, 2, 4 * 4 + 16),
        ("2r SE", 2, 8, 8, 1, 8 * 4 + 4 + 4 * 8 + 8),
        ("16r SE", 1, 4, 4, 1, 4 * 1 + 1 + 1 * 4 + 4),  # at least one squeeze unit
        ("7 conv", 1, 4, 8, 1, 7 * 4 * 8 + 32),
        ("lstm", 1, 4, 8, 1, 4 * (4 * 8 + 8 * 8 + 8)),
        ("gru", 1, 4, 8, 2, 3 * (4 * 8 + 8 * 8 + 2 * 8)),
    ],
)
def test_parameter_counts_follow_the_documented_formulas(
    text: str, rank: int, in_channels: int, filters: int, strides: int, expected: int
) -> None:
    spec = parse_operator(text, rank)
    request = LayerRequest(rank=rank, in_channels=in_channels, filters=filters, strides=strides)
    assert allocator_for(spec).count_params(spec, request) == expected


def test_identity_passes_the_input_through_and_projects_only_when_asked() -> None:
    x = images(2, 7, 9, 4)
    normal = build("identity", 2, 4, 4)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(normal(x)), x)
    assert normal.count_params() == 0
    reduction = build("identity", 2, 4, 4, strides=2)
    assert tuple(reduction(x).shape) == (2, 4, 5, 4)
    assert reduction.count_params() > 0


def test_pools_keep_values_in_range() -> None:
    x = images(2, 7, 9, 4)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(build("1x1 maxpool", 2, 4, 4)(x)), x)
    pooled = keras.ops.convert_to_numpy(build("2x2 maxpool", 2, 4, 4)(x))
    assert np.all(pooled >= x)  # each window holds its own position
    constant = np.full((2, 7, 9, 4), 3.0, dtype="float32")
    averaged = keras.ops.convert_to_numpy(build("3x3 avgpool", 2, 4, 4, strides=2)(constant))
    np.testing.assert_allclose(averaged, 3.0, rtol=1e-6)  # the padding is not averaged in


def _impulse_conv(text: str, strides: int) -> np.ndarray[Any, Any]:
    layer = build(text, 2, 1, 1, strides=strides, activation="linear")
    x = np.zeros((1, 9, 9, 1), dtype="float32")
    x[0, 4, 4, 0] = 1.0
    layer(x)
    conv = next(step for step in layer.steps if "conv" in step.name)
    conv.kernel.assign(np.ones(conv.kernel.shape, dtype="float32"))
    return keras.ops.convert_to_numpy(layer(x, training=False))[0, :, :, 0]


def test_dilated_convolution_skips_neighbours_and_reduces_by_subsampling() -> None:
    normal = _impulse_conv("3x3:2dr conv", 1)
    touched = {(int(i), int(j)) for i, j in zip(*np.nonzero(normal), strict=True)}
    assert touched == {(i, j) for i in (2, 4, 6) for j in (2, 4, 6)}
    reduced = _impulse_conv("3x3:2dr conv", 2)
    assert reduced.shape == (5, 5)
    np.testing.assert_allclose(reduced, normal[::2, ::2], rtol=1e-6)


def test_zoomed_convolution_is_piecewise_constant_at_the_zoom_scale() -> None:
    y = keras.ops.convert_to_numpy(build("3x3:2z zconv", 2, 4, 4)(images(2, 8, 8, 4)))
    np.testing.assert_array_equal(y[:, 0::2, 0::2], y[:, 1::2, 1::2])  # nearest-neighbour upsampling


def test_squeeze_excitation_only_scales_each_channel_down() -> None:
    x = images(2, 7, 9, 8)
    y = keras.ops.convert_to_numpy(build("2r SE", 2, 8, 8)(x))
    ratio = y / x
    assert np.all((ratio > 0) & (ratio < 1))
    np.testing.assert_allclose(ratio, ratio[:, :1, :1, :].repeat(7, 1).repeat(9, 2), rtol=1e-5)


def test_convolutions_use_the_requested_activation() -> None:
    x = images(2, 8, 8, 4)
    assert np.all(keras.ops.convert_to_numpy(build("3x3 conv", 2, 4, 8, activation="relu")(x)) >= 0)
    assert np.any(keras.ops.convert_to_numpy(build("3x3 conv", 2, 4, 8, activation="linear")(x)) < 0)


@pytest.mark.parametrize("text", ["3x3 conv", "3x3 dconv", "3x3 tconv", "3x3:2z zconv", "2x2 maxpool", "identity"])
def test_the_requested_batch_norm_momentum_reaches_every_normalisation(text: str) -> None:
    spec = parse_operator(text, 2)
    layer = allocator_for(spec).build(spec, LayerRequest(rank=2, in_channels=4, filters=8, strides=2,
                                                         batch_norm_momentum=0.75))
    layer.build((None, 8, 8, 4))
    norms = [step for step in layer.steps if isinstance(step, keras.layers.BatchNormalization)]
    assert norms and {norm.momentum for norm in norms} == {0.75}   # strided 4 -> 8: even pools project
    assert type(layer).from_config(layer.get_config()).batch_norm_momentum == 0.75


def test_recurrent_reduction_max_pools_the_sequence() -> None:
    x = images(2, 13, 4)
    normal = build("lstm", 1, 4, 8)
    expected = keras.ops.convert_to_numpy(normal(x))
    reduction = build("lstm", 1, 4, 8, strides=2)
    reduction(x)
    reduction.set_weights(normal.get_weights())
    y = keras.ops.convert_to_numpy(reduction(x))
    padded = np.concatenate([expected, np.full((2, 1, 8), -np.inf, dtype="float32")], axis=1)
    np.testing.assert_allclose(y, padded.reshape(2, 7, 2, 8).max(axis=2), rtol=1e-6)


@pytest.mark.usefixtures("mixed_precision")
def test_a_chain_of_operators_trains_under_mixed_precision() -> None:
    inputs = keras.Input(shape=(7, 9, 4))
    x = build("3x3 conv", 2, 4, 8, strides=2, name="a")(inputs)
    x = build("4r SE", 2, 8, 8, name="b")(x)
    x = build("2x2 maxpool", 2, 8, 16, name="c")(x)
    x = build("3x3 tconv", 2, 16, 16, strides=2, name="d")(x)
    outputs = keras.layers.Activation("linear", dtype="float32")(x)
    model = keras.Model(inputs, outputs)
    assert model.get_layer("a").compute_dtype == "float16"
    assert tuple(model.output.shape) == (None, 2, 3, 16)
    model.compile(optimizer="sgd", loss="mse", run_eagerly=True)
    loss = model.train_on_batch(images(2, 7, 9, 4), np.zeros((2, 2, 3, 16), dtype="float32"))
    assert np.isfinite(float(loss))


def test_a_request_of_another_rank_is_a_programming_error() -> None:
    spec = parse_operator("3x3 conv", 2)
    with pytest.raises(ValueError, match="parsed for rank 2"):
        allocator_for(spec).build(spec, LayerRequest(rank=1, in_channels=4, filters=4))


def test_layers_validate_their_arguments_and_inputs() -> None:
    with pytest.raises(ValueError, match="rank must be 1 or 2"):
        ConvOp(rank=3, filters=4, kernels=[[3, 3, 3]])
    with pytest.raises(ValueError, match="needs 2 sizes"):
        ConvOp(rank=2, filters=4, kernels=[[3]])
    with pytest.raises(ValueError, match="zoom must be >= 2"):
        ZoomedConvOp(rank=2, filters=4, kernel=[3, 3], zoom=1)
    with pytest.raises(ValueError, match='kind must be "max" or "avg"'):
        PoolOp(rank=2, filters=4, kind="min", pool_size=[2, 2])
    with pytest.raises(ValueError, match="need series"):
        RecurrentOp(rank=2, filters=4, kind="lstm")
    with pytest.raises(ValueError, match=r"momentum must be a number in \(0, 1\), not 1.0"):
        ConvOp(rank=2, filters=4, kernels=[[3, 3]], batch_norm_momentum=1.0)
    with pytest.raises(ValueError, match="momentum must be a number"):
        LayerRequest(rank=2, in_channels=4, filters=4, batch_norm_momentum=0)
    with pytest.raises(ValueError, match=r"expects inputs of shape \(batch, height, width, channels\)"):
        build("3x3 conv", 2, 4, 4)(images(2, 12, 4))
