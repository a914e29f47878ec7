"""Keras layers of the operators that mix information across positions: squeeze-excitation
(channel attention from the global context) and recurrent layers (LSTM, GRU) over series.
"""

from __future__ import annotations

from typing import Any

import keras

from scinas.search_space.operators.layer_parts import OpLayer, pooling, projection

__all__ = ["RecurrentOp", "SqueezeExcitationOp", "se_units"]


def se_units(filters: int, ratio: int) -> int:
    """Units of the squeeze (bottleneck) dense layer: ``filters // ratio``, at least 1."""
    return max(1, filters // ratio)


@keras.saving.register_keras_serializable(package="scinas")
class SqueezeExcitationOp(OpLayer):
    """Squeeze-excitation: each channel is scaled by a gate computed from the global average of
    all channels, ``x * sigmoid(Dense_f(act(Dense_{f/ratio}(mean(x)))))`` (dense layers with bias).

    A reduction or adaptation place first applies a 1x1 convolution (with the strides) + BN, so
    the gate always works on ``filters`` channels.
    """

    def __init__(
        self,
        rank: int,
        filters: int,
        ratio: int,
        strides: int = 1,
        activation: str = "relu",
        **kwargs: Any,
    ) -> None:
        super().__init__(rank, filters, strides, **kwargs)
        if ratio < 1:
            raise ValueError(f"ratio must be >= 1, not {ratio}")
        self.ratio = int(ratio)
        self.activation = str(activation)

    def make_steps(self, in_channels: int) -> list[keras.layers.Layer]:
        if self.strides == 1 and in_channels == self.filters:
            return []
        return projection(self.rank, self.filters, self.strides, dtype=self.dtype_policy,
                          momentum=self.batch_norm_momentum)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        super().build(input_shape)
        units = se_units(self.filters, self.ratio)
        dtype = self.dtype_policy
        self.squeeze = keras.layers.Dense(units, activation=self.activation, name="squeeze", dtype=dtype)
        self.excite = keras.layers.Dense(self.filters, activation="sigmoid", name="excite", dtype=dtype)
        self.squeeze.build((None, self.filters))
        self.excite.build((None, units))

    def call(self, inputs: Any) -> Any:
        features = super().call(inputs)
        context = keras.ops.mean(features, axis=tuple(range(1, self.rank + 1)), keepdims=True)
        return features * self.excite(self.squeeze(context))

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(ratio=self.ratio, activation=self.activation)
        return config


@keras.saving.register_keras_serializable(package="scinas")
class RecurrentOp(OpLayer):
    """An LSTM or GRU (``kind``) over a series with ``filters`` units, returning the sequence.

    A reduction place follows it with a 'same' max pooling of size and stride ``strides`` (the
    strongest response of each window of ``strides`` steps), which needs no weights.
    """

    def __init__(self, rank: int, filters: int, kind: str, strides: int = 1, **kwargs: Any) -> None:
        super().__init__(rank, filters, strides, **kwargs)
        if rank != 1:
            raise ValueError(f"recurrent operators need series (rank 1), not rank {rank}")
        if kind not in ("lstm", "gru"):
            raise ValueError(f'kind must be "lstm" or "gru", not {kind!r}')
        self.kind = kind

    def make_steps(self, in_channels: int) -> list[keras.layers.Layer]:
        dtype = self.dtype_policy
        cell = keras.layers.LSTM if self.kind == "lstm" else keras.layers.GRU
        steps: list[keras.layers.Layer] = [cell(self.filters, return_sequences=True, name=self.kind, dtype=dtype)]
        if self.strides > 1:
            steps.append(pooling("max", 1, (self.strides,), self.strides, name="pool", dtype=dtype))
        return steps

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(kind=self.kind)
        return config
