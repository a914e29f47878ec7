"""Third-party families: registered from outside scinas, parsed by the grammar, checked by the
conformance suite — and the suite catches allocators that break the contract."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras
import pytest

from scinas.errors import ConfigError
from scinas.search_space.operators import (
    ALLOCATORS,
    LayerRequest,
    OpAllocator,
    OpSpec,
    allocator_for,
    parse_operator,
    register_allocator,
    valid_forms,
)
from scinas.testing.allocators import check_allocator

FAMILY = "scinas_test_pointwise"


@dataclass(frozen=True)
class PointwiseSpec(OpSpec):
    """``pointwise``: no fields."""


class PointwiseAllocator(OpAllocator[PointwiseSpec]):
    """A tiny contributed family: a biased 1x1 convolution (a plain Keras layer) with the strides."""

    family = FAMILY
    forms = ("pointwise",)

    def parse(self, text: str, rank: int) -> PointwiseSpec | None:
        words = text.split(" ")
        if words[-1] != "pointwise":
            return None
        if len(words) > 1:
            raise self.error(text, "pointwise takes no parameters", rank=rank)
        return PointwiseSpec(family=self.family, text="pointwise", rank=rank)

    def count_params(self, spec: PointwiseSpec, request: LayerRequest) -> int:
        return request.in_channels * request.filters + request.filters

    def build(self, spec: PointwiseSpec, request: LayerRequest) -> keras.layers.Layer:
        conv = keras.layers.Conv1D if request.rank == 1 else keras.layers.Conv2D
        return conv(request.filters, 1, strides=request.strides, padding="same", name=request.name)


# Guard against a second import of this module (the registry refuses another class under the name).
if FAMILY not in ALLOCATORS:
    register_allocator(PointwiseAllocator)


@pytest.mark.parametrize("rank", [1, 2])
def test_a_registered_third_party_family_passes_the_suite(rank: int) -> None:
    check_allocator(PointwiseAllocator(), ["pointwise", "  pointwise "], rank=rank)


def test_the_grammar_knows_the_registered_family() -> None:
    spec = parse_operator("pointwise", 2)
    assert isinstance(spec, PointwiseSpec)
    assert type(allocator_for(spec)).__name__ == "PointwiseAllocator"
    assert "pointwise" in valid_forms(1)
    with pytest.raises(ConfigError, match="takes no parameters"):
        parse_operator("3 pointwise", 1)


def test_registering_another_class_under_a_taken_name_is_refused() -> None:
    class Impostor(PointwiseAllocator):
        pass

    with pytest.raises(ValueError, match="already registered"):
        register_allocator(Impostor)


class MiscountingAllocator(PointwiseAllocator):
    """Forgets the bias in its parameter count."""

    def count_params(self, spec: PointwiseSpec, request: LayerRequest) -> int:
        return request.in_channels * request.filters


class StrideIgnoringAllocator(PointwiseAllocator):
    """Ignores the reduction strides."""

    def build(self, spec: PointwiseSpec, request: LayerRequest) -> keras.layers.Layer:
        return keras.layers.Conv2D(request.filters, 1, padding="same", name=request.name)


class FlooringAllocator(PointwiseAllocator):
    """'valid' pooling by the strides: right on even sizes, one short (floor) on odd ones."""

    def build(self, spec: PointwiseSpec, request: LayerRequest) -> keras.layers.Layer:
        return keras.Sequential([
            keras.layers.AveragePooling2D(request.strides, strides=request.strides, padding="valid"),
            keras.layers.Conv2D(request.filters, 1, padding="same"),
        ])


class PolicyIgnoringLayer(keras.layers.Layer):
    """Creates its sublayer without ``dtype=self.dtype_policy``: it computes in float32 when
    constructed with ``dtype="mixed_float16"``."""

    def __init__(self, filters: int, strides: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.filters, self.strides = filters, strides
        self.conv = keras.layers.Conv2D(filters, 1, strides=strides, padding="same")

    def call(self, inputs: Any) -> Any:
        return self.conv(inputs)

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update(filters=self.filters, strides=self.strides)
        return config


class IncompleteConfigLayer(PolicyIgnoringLayer):
    """Its get_config forgets a constructor argument."""

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["filters"]
        return config


class PolicyIgnoringAllocator(PointwiseAllocator):
    def build(self, spec: PointwiseSpec, request: LayerRequest) -> keras.layers.Layer:
        return PolicyIgnoringLayer(request.filters, request.strides)


class IncompleteConfigAllocator(PointwiseAllocator):
    def build(self, spec: PointwiseSpec, request: LayerRequest) -> keras.layers.Layer:
        return IncompleteConfigLayer(request.filters, request.strides)


class BlindAllocator(PointwiseAllocator):
    """Does not recognise its own operators."""

    def parse(self, text: str, rank: int) -> PointwiseSpec | None:
        return None


@pytest.mark.parametrize(
    ("allocator", "message"),
    [
        (MiscountingAllocator(), r"normal variant .* count_params\(\) = 16 but the built layer has 20 weights"),
        (StrideIgnoringAllocator(), r"reduction variant .* output shape \(2, 8, 8, 4\), expected \(2, 4, 4, 4\)"),
        (FlooringAllocator(), r"strides 2\), size \(7, 9\): output shape \(2, 3, 4, 4\), expected \(2, 4, 5, 4\)"),
        (IncompleteConfigAllocator(), r"from_config\(get_config\(\)\) fails"),
        (PolicyIgnoringAllocator(), r'dtype="mixed_float16"\]: outputs are float32, expected float16'),
        (BlindAllocator(), r"parse\(\) returned None"),
    ],
    ids=["miscount", "ignores-strides", "floor-not-ceil", "config", "dtype-policy", "blind-parse"],
)
def test_the_suite_catches_broken_allocators(allocator: OpAllocator[Any], message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_allocator(allocator, ["pointwise"], rank=2, save_and_train=False)


def test_the_suite_refuses_a_rank_the_family_does_not_support() -> None:
    with pytest.raises(AssertionError, match="does not support rank 2"):
        check_allocator(ALLOCATORS.get("lstm")(), ["lstm"], rank=2)
