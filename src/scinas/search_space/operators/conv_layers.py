"""Keras layers of the convolution families: plain, stacked, depthwise-separable, transpose and
zoomed convolutions.  Each convolution is bias-free and followed by batch normalisation and the
activation (``Conv → BN → activation``), as in POPNAS.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from scinas.search_space.operators.layer_parts import (
    OpLayer,
    activation,
    batch_norm,
    convolution,
    kernel_config,
    pooling,
    subsample,
)

__all__ = ["ConvOp", "TransposeConvOp", "ZoomedConvOp"]


def _kernel(kernel: Sequence[int], rank: int) -> tuple[int, ...]:
    sizes = tuple(int(size) for size in kernel)
    if len(sizes) != rank or min(sizes) < 1:
        raise ValueError(f"a rank-{rank} kernel needs {rank} sizes >= 1, got {list(kernel)}")
    return sizes


@keras.saving.register_keras_serializable(package="scinas")
class ConvOp(OpLayer):
    """One or more convolutions in a row, each ``Conv → BN → activation``.

    ``kernels`` holds one kernel per convolution (``[[3, 3]]`` for ``3x3 conv``, ``[[1, 3], [3, 1]]``
    for ``1x3-3x1 conv``); the first convolution takes ``in_channels`` and applies ``strides``,
    every convolution outputs ``filters``.  ``separable`` makes them depthwise-separable
    (depth multiplier 1).  Because TensorFlow refuses strides and dilation together, a dilated
    reduction convolves at stride 1 and then keeps every ``strides``-th position.

    Example::

        ConvOp(rank=2, filters=16, kernels=[[3, 3]], dilation=2, strides=2)
    """

    def __init__(
        self,
        rank: int,
        filters: int,
        kernels: Sequence[Sequence[int]],
        dilation: int = 1,
        strides: int = 1,
        activation: str = "relu",
        separable: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(rank, filters, strides, **kwargs)
        if not kernels:
            raise ValueError("ConvOp needs at least one kernel")
        if dilation < 1:
            raise ValueError(f"dilation must be >= 1, not {dilation}")
        self.kernels = tuple(_kernel(kernel, rank) for kernel in kernels)
        self.dilation = int(dilation)
        self.activation = str(activation)
        self.separable = bool(separable)

    def make_steps(self, in_channels: int) -> list[keras.layers.Layer]:
        dtype = self.dtype_policy
        stride_in_conv = self.dilation == 1
        steps: list[keras.layers.Layer] = []
        for index, kernel in enumerate(self.kernels):
            suffix = "" if len(self.kernels) == 1 else str(index)
            steps += [
                convolution(
                    self.rank, self.filters, kernel, name=f"conv{suffix}", dtype=dtype,
                    strides=self.strides if index == 0 and stride_in_conv else 1,
                    dilation=self.dilation, kind="separable" if self.separable else "conv",
                ),
                batch_norm(name=f"bn{suffix}", dtype=dtype, momentum=self.batch_norm_momentum),
                activation(self.activation, name=f"act{suffix}", dtype=dtype),
            ]
        if self.strides > 1 and not stride_in_conv:
            steps.append(subsample(self.rank, self.strides, name="subsample", dtype=dtype))
        return steps

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            kernels=[kernel_config(kernel) for kernel in self.kernels],
            dilation=self.dilation,
            activation=self.activation,
            separable=self.separable,
        )
        return config


@keras.saving.register_keras_serializable(package="scinas")
class TransposeConvOp(OpLayer):
    """A convolution that learns at half resolution: ``Conv(kernel, stride 2·s)`` →
    ``ConvTranspose(kernel, stride 2)`` → BN → activation, cropped to ``ceil(n / s)``.

    The strided convolution halves the size (and applies the reduction factor ``s``), the transpose
    convolution doubles it back: ``2·ceil(n / 2s) >= ceil(n / s)``, so at most one position per
    dimension is cropped at the end (odd sizes).  Both convolutions output ``filters``.
    """

    crops = True

    def __init__(
        self,
        rank: int,
        filters: int,
        kernel: Sequence[int],
        strides: int = 1,
        activation: str = "relu",
        **kwargs: Any,
    ) -> None:
        super().__init__(rank, filters, strides, **kwargs)
        self.kernel = _kernel(kernel, rank)
        self.activation = str(activation)

    def make_steps(self, in_channels: int) -> list[keras.layers.Layer]:
        dtype = self.dtype_policy
        return [
            convolution(self.rank, self.filters, self.kernel, strides=2 * self.strides, name="conv", dtype=dtype),
            convolution(self.rank, self.filters, self.kernel, strides=2, kind="transpose", name="tconv", dtype=dtype),
            batch_norm(name="bn", dtype=dtype, momentum=self.batch_norm_momentum),
            activation(self.activation, name="act", dtype=dtype),
        ]

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(kernel=kernel_config(self.kernel), activation=self.activation)
        return config


@keras.saving.register_keras_serializable(package="scinas")
class ZoomedConvOp(OpLayer):
    """A convolution applied to a zoomed-out input: average pooling by ``zoom·s`` → Conv → BN →
    activation → nearest-neighbour upsampling by ``zoom``, cropped to ``ceil(n / s)``.

    It sees a context ``zoom`` times wider than its kernel for the cost of a small convolution.
    """

    crops = True

    def __init__(
        self,
        rank: int,
        filters: int,
        kernel: Sequence[int],
        zoom: int,
        strides: int = 1,
        activation: str = "relu",
        **kwargs: Any,
    ) -> None:
        super().__init__(rank, filters, strides, **kwargs)
        if zoom < 2:
            raise ValueError(f"zoom must be >= 2, not {zoom}")
        self.kernel = _kernel(kernel, rank)
        self.zoom = int(zoom)
        self.activation = str(activation)

    def make_steps(self, in_channels: int) -> list[keras.layers.Layer]:
        dtype = self.dtype_policy
        factor = self.zoom * self.strides
        upsample: keras.layers.Layer = (
            keras.layers.UpSampling1D(self.zoom, name="upsample", dtype=dtype)
            if self.rank == 1
            else keras.layers.UpSampling2D((self.zoom, self.zoom), name="upsample", dtype=dtype)
        )
        return [
            pooling("avg", self.rank, (factor,) * self.rank, factor, name="zoom_out", dtype=dtype),
            convolution(self.rank, self.filters, self.kernel, name="conv", dtype=dtype),
            batch_norm(name="bn", dtype=dtype, momentum=self.batch_norm_momentum),
            activation(self.activation, name="act", dtype=dtype),
            upsample,
        ]

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(kernel=kernel_config(self.kernel), zoom=self.zoom, activation=self.activation)
        return config
