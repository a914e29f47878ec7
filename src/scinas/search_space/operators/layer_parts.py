"""The base of every operator layer and the Keras building bricks the families share.

:class:`OpLayer` holds what all operator layers have in common: the rank (1 series, 2 images),
the output channels (``filters``) and the spatial reduction factor (``strides``); it implements
the output-size contract the model generator relies on (each spatial size ``n`` becomes
``ceil(n / strides)``, the channels become ``filters``) and runs a chain of Keras sublayers
(``steps``) made in :meth:`OpLayer.make_steps` once the input channels are known.

Every sublayer is given ``dtype=self.dtype_policy``, so an operator works under a global
``mixed_float16`` policy and when it is constructed with ``dtype="mixed_float16"``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import keras

from scinas.search_space.macro import BATCH_NORM_MOMENTUM

__all__ = [
    "OpLayer",
    "activation",
    "batch_norm",
    "check_momentum",
    "convolution",
    "crop_to_reduced",
    "kernel_config",
    "pooling",
    "projection",
    "reduced_size",
    "subsample",
]

_CONV: dict[tuple[str, int], type[keras.layers.Layer]] = {
    ("conv", 1): keras.layers.Conv1D,
    ("conv", 2): keras.layers.Conv2D,
    ("separable", 1): keras.layers.SeparableConv1D,
    ("separable", 2): keras.layers.SeparableConv2D,
    ("transpose", 1): keras.layers.Conv1DTranspose,
    ("transpose", 2): keras.layers.Conv2DTranspose,
}
_POOL: dict[tuple[str, int], type[keras.layers.Layer]] = {
    ("max", 1): keras.layers.MaxPooling1D,
    ("max", 2): keras.layers.MaxPooling2D,
    ("avg", 1): keras.layers.AveragePooling1D,
    ("avg", 2): keras.layers.AveragePooling2D,
}


def check_momentum(momentum: float) -> float:
    """``momentum`` as a float in (0, 1), or ValueError."""
    if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0 < momentum < 1:
        raise ValueError(f"the batch-normalisation momentum must be a number in (0, 1), not {momentum!r}")
    return float(momentum)


def reduced_size(size: int, strides: int) -> int:
    """The spatial size after a reduction: ``ceil(size / strides)`` ('same' padding's rule)."""
    return -(-size // strides)


def convolution(
    rank: int,
    filters: int,
    kernel: tuple[int, ...],
    *,
    name: str,
    dtype: Any,
    strides: int = 1,
    dilation: int = 1,
    kind: str = "conv",
) -> keras.layers.Layer:
    """A bias-free 'same'-padded convolution (``kind``: conv, separable or transpose)."""
    options: dict[str, Any] = {"padding": "same", "use_bias": False, "name": name, "dtype": dtype}
    if kind != "transpose":
        options["dilation_rate"] = dilation
    return _CONV[kind, rank](filters, kernel, strides=strides, **options)


def batch_norm(*, name: str, dtype: Any, momentum: float = BATCH_NORM_MOMENTUM) -> keras.layers.Layer:
    """Batch normalisation over the channels (4 weights per channel, 2 of them not trainable).

    ``momentum`` weighs the old moving mean and variance at each training step (see
    :data:`BATCH_NORM_MOMENTUM`).
    """
    return keras.layers.BatchNormalization(momentum=momentum, name=name, dtype=dtype)


def activation(function: str, *, name: str, dtype: Any) -> keras.layers.Layer:
    """The activation layer of ``function`` (a ``keras.activations`` name)."""
    return keras.layers.Activation(function, name=name, dtype=dtype)


def pooling(kind: str, rank: int, size: tuple[int, ...], strides: int, *, name: str, dtype: Any) -> keras.layers.Layer:
    """A 'same'-padded max (``kind="max"``) or average (``"avg"``) pooling."""
    return _POOL[kind, rank](pool_size=size, strides=strides, padding="same", name=name, dtype=dtype)


def subsample(rank: int, strides: int, *, name: str, dtype: Any) -> keras.layers.Layer:
    """Keep every ``strides``-th position (a 1-wide pooling): ``n`` becomes ``ceil(n / strides)``."""
    return pooling("max", rank, (1,) * rank, strides, name=name, dtype=dtype)


def projection(
    rank: int, filters: int, strides: int, *, dtype: Any, prefix: str = "project",
    momentum: float = BATCH_NORM_MOMENTUM,
) -> list[keras.layers.Layer]:
    """A pointwise (1x1) convolution with ``strides`` then batch normalisation: it adapts the
    channels and/or reduces the spatial size of an operator that cannot do it by itself."""
    return [
        convolution(rank, filters, (1,) * rank, strides=strides, name=f"{prefix}_conv", dtype=dtype),
        batch_norm(name=f"{prefix}_bn", dtype=dtype, momentum=momentum),
    ]


def crop_to_reduced(outputs: Any, inputs: Any, strides: int, rank: int) -> Any:
    """``outputs`` cut to the contract's spatial size, ``ceil(n / strides)`` of the inputs' ``n``
    (for operators that resample and may overshoot by a few positions)."""
    shape = keras.ops.shape(inputs)
    targets = [(shape[1 + axis] + strides - 1) // strides for axis in range(rank)]
    if rank == 1:
        return outputs[:, : targets[0], :]
    return outputs[:, : targets[0], : targets[1], :]


class OpLayer(keras.layers.Layer):
    """An operator as one Keras layer: ``(batch, *spatial, in_channels)`` →
    ``(batch, *ceil(spatial / strides), filters)``.

    Subclasses implement :meth:`make_steps` (and extend :meth:`get_config` with their own
    arguments); set :attr:`crops` when the steps may overshoot the contract's size.
    """

    crops: ClassVar[bool] = False

    def __init__(self, rank: int, filters: int, strides: int = 1, *,
                 batch_norm_momentum: float = BATCH_NORM_MOMENTUM, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if rank not in (1, 2):
            raise ValueError(f"rank must be 1 or 2, not {rank}")
        if filters < 1 or strides < 1:
            raise ValueError(f"filters and strides must be >= 1, not {filters} and {strides}")
        self.rank = int(rank)
        self.filters = int(filters)
        self.strides = int(strides)
        self.batch_norm_momentum = check_momentum(batch_norm_momentum)
        self.steps: list[keras.layers.Layer] = []

    def make_steps(self, in_channels: int) -> list[keras.layers.Layer]:
        """The sublayers applied in order to an input of ``in_channels`` channels."""
        raise NotImplementedError

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        if len(input_shape) != self.rank + 2:
            raise ValueError(
                f"{type(self).__name__} of rank {self.rank} expects inputs of shape "
                f"(batch, {'length' if self.rank == 1 else 'height, width'}, channels), got {input_shape}"
            )
        in_channels = input_shape[-1]
        if in_channels is None:
            raise ValueError(f"{type(self).__name__} needs a known number of input channels")
        self.steps = self.make_steps(int(in_channels))
        shape = tuple(input_shape)
        for step in self.steps:
            step.build(shape)
            shape = tuple(step.compute_output_shape(shape))

    def call(self, inputs: Any) -> Any:
        outputs = inputs
        for step in self.steps:
            outputs = step(outputs)
        if self.crops:
            outputs = crop_to_reduced(outputs, inputs, self.strides, self.rank)
        return outputs

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        spatial = [None if size is None else reduced_size(int(size), self.strides) for size in input_shape[1:-1]]
        return (input_shape[0], *spatial, self.filters)

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update(rank=self.rank, filters=self.filters, strides=self.strides,
                      batch_norm_momentum=self.batch_norm_momentum)
        return config


def kernel_config(kernel: tuple[int, ...]) -> list[int]:
    """A kernel as written into a layer config (a JSON list)."""
    return [int(size) for size in kernel]
