"""Keras layers of the operators that have no weights of their own: identity and pooling.

They only get weights when the place they fill asks for what they cannot do by themselves: a
pointwise (1x1) convolution + batch normalisation adapts the channels (and, for identity, applies
the spatial reduction).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from scinas.search_space.operators.layer_parts import OpLayer, kernel_config, pooling, projection

__all__ = ["IdentityOp", "PoolOp"]


@keras.saving.register_keras_serializable(package="scinas")
class IdentityOp(OpLayer):
    """The input unchanged (normal); a strided 1x1 convolution + BN when the place reduces the
    spatial size or changes the channels.

    Example::

        IdentityOp(rank=2, filters=32, strides=2)   # (b, 7, 9, 16) -> (b, 4, 5, 32)
    """

    def make_steps(self, in_channels: int) -> list[keras.layers.Layer]:
        if self.strides == 1 and in_channels == self.filters:
            return []
        return projection(self.rank, self.filters, self.strides, dtype=self.dtype_policy,
                          momentum=self.batch_norm_momentum)


@keras.saving.register_keras_serializable(package="scinas")
class PoolOp(OpLayer):
    """A 'same'-padded max or average pooling (``kind``: ``"max"`` or ``"avg"``) with ``strides``,
    followed by a 1x1 convolution + BN only when the channels change.
    """

    def __init__(
        self,
        rank: int,
        filters: int,
        kind: str,
        pool_size: Sequence[int],
        strides: int = 1,
        **kwargs: Any,
    ) -> None:
        super().__init__(rank, filters, strides, **kwargs)
        if kind not in ("max", "avg"):
            raise ValueError(f'kind must be "max" or "avg", not {kind!r}')
        sizes = tuple(int(size) for size in pool_size)
        if len(sizes) != rank or min(sizes) < 1:
            raise ValueError(f"a rank-{rank} pool needs {rank} sizes >= 1, got {list(pool_size)}")
        self.kind = kind
        self.pool_size = sizes

    def make_steps(self, in_channels: int) -> list[keras.layers.Layer]:
        dtype = self.dtype_policy
        steps = [pooling(self.kind, self.rank, self.pool_size, self.strides, name="pool", dtype=dtype)]
        if in_channels != self.filters:
            steps += projection(self.rank, self.filters, 1, dtype=dtype, momentum=self.batch_norm_momentum)
        return steps

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(kind=self.kind, pool_size=kernel_config(self.pool_size))
        return config
