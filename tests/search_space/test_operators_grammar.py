"""The operator grammar: valid strings → typed specs with canonical texts; invalid strings →
ConfigErrors that name the value, list the valid forms and propose a fix."""

from __future__ import annotations

from typing import Any

import pytest

from scinas.errors import ConfigError
from scinas.search_space import operators
from scinas.search_space.operators import (
    ALLOCATORS,
    ConvSpec,
    DepthwiseConvSpec,
    IdentitySpec,
    OpSpec,
    PoolSpec,
    RecurrentSpec,
    SqueezeExcitationSpec,
    StackedConvSpec,
    TransposeConvSpec,
    ZoomedConvSpec,
    allocator_for,
    parse_operator,
    valid_forms,
)

BUILT_IN = {"identity", "conv", "stacked_conv", "dconv", "tconv", "zconv", "maxpool", "avgpool", "SE", "lstm", "gru"}

VALID_2D: list[tuple[str, type[OpSpec], str, dict[str, Any]]] = [
    ("identity", IdentitySpec, "identity", {}),
    ("  IDENTITY ", IdentitySpec, "identity", {}),
    ("3x3 conv", ConvSpec, "3x3 conv", {"kernel": (3, 3), "dilation": 1}),
    (" 3x3:1dr   conv ", ConvSpec, "3x3 conv", {"kernel": (3, 3), "dilation": 1}),
    ("3x3:2dr conv", ConvSpec, "3x3:2dr conv", {"kernel": (3, 3), "dilation": 2}),
    ("5X5 Conv", ConvSpec, "5x5 conv", {"kernel": (5, 5), "dilation": 1}),
    ("1x1 conv", ConvSpec, "1x1 conv", {"kernel": (1, 1), "dilation": 1}),
    ("3x5 conv", ConvSpec, "3x5 conv", {"kernel": (3, 5), "dilation": 1}),
    ("1x3-3x1 conv", StackedConvSpec, "1x3-3x1 conv", {"kernels": ((1, 3), (3, 1))}),
    ("1x7-7x1 conv", StackedConvSpec, "1x7-7x1 conv", {"kernels": ((1, 7), (7, 1))}),
    ("3x3 dconv", DepthwiseConvSpec, "3x3 dconv", {"kernel": (3, 3), "dilation": 1}),
    ("5x5:2dr dconv", DepthwiseConvSpec, "5x5:2dr dconv", {"kernel": (5, 5), "dilation": 2}),
    ("3x3 tconv", TransposeConvSpec, "3x3 tconv", {"kernel": (3, 3)}),
    ("3x3:2z zconv", ZoomedConvSpec, "3x3:2z zconv", {"kernel": (3, 3), "zoom": 2}),
    ("5x5:4Z zconv", ZoomedConvSpec, "5x5:4z zconv", {"kernel": (5, 5), "zoom": 4}),
    ("2x2 maxpool", PoolSpec, "2x2 maxpool", {"pool_size": (2, 2)}),
    ("1x1 maxpool", PoolSpec, "1x1 maxpool", {"pool_size": (1, 1)}),
    ("3x3 avgpool", PoolSpec, "3x3 avgpool", {"pool_size": (3, 3)}),
    ("8r SE", SqueezeExcitationSpec, "8r SE", {"ratio": 8}),
    ("8r se", SqueezeExcitationSpec, "8r SE", {"ratio": 8}),
    ("1r SE", SqueezeExcitationSpec, "1r SE", {"ratio": 1}),
]

VALID_1D: list[tuple[str, type[OpSpec], str, dict[str, Any]]] = [
    ("identity", IdentitySpec, "identity", {}),
    ("7 conv", ConvSpec, "7 conv", {"kernel": (7,), "dilation": 1}),
    ("7:1dr conv", ConvSpec, "7 conv", {"kernel": (7,), "dilation": 1}),
    ("7:2dr  conv", ConvSpec, "7:2dr conv", {"kernel": (7,), "dilation": 2}),
    ("7 dconv", DepthwiseConvSpec, "7 dconv", {"kernel": (7,), "dilation": 1}),
    ("3:4dr dconv", DepthwiseConvSpec, "3:4dr dconv", {"kernel": (3,), "dilation": 4}),
    ("5 tconv", TransposeConvSpec, "5 tconv", {"kernel": (5,)}),
    ("3:2z zconv", ZoomedConvSpec, "3:2z zconv", {"kernel": (3,), "zoom": 2}),
    ("2 maxpool", PoolSpec, "2 maxpool", {"pool_size": (2,)}),
    ("3 avgpool", PoolSpec, "3 avgpool", {"pool_size": (3,)}),
    ("4r SE", SqueezeExcitationSpec, "4r SE", {"ratio": 4}),
    ("lstm", RecurrentSpec, "lstm", {}),
    ("GRU", RecurrentSpec, "gru", {}),
]

FAMILY_OF = {
    IdentitySpec: {"identity"}, ConvSpec: {"conv"}, StackedConvSpec: {"stacked_conv"}, DepthwiseConvSpec: {"dconv"},
    TransposeConvSpec: {"tconv"}, ZoomedConvSpec: {"zconv"}, PoolSpec: {"maxpool", "avgpool"},
    SqueezeExcitationSpec: {"SE"}, RecurrentSpec: {"lstm", "gru"},
}


@pytest.mark.parametrize(
    ("rank", "text", "kind", "canonical", "fields"),
    [(2, *row) for row in VALID_2D] + [(1, *row) for row in VALID_1D],
)
def test_valid_operators_parse_to_typed_canonical_specs(
    rank: int, text: str, kind: type[OpSpec], canonical: str, fields: dict[str, Any]
) -> None:
    spec = parse_operator(text, rank)
    assert type(spec) is kind
    assert spec.family in FAMILY_OF[kind]
    assert spec.text == canonical
    assert spec.rank == rank
    for name, value in fields.items():
        assert getattr(spec, name) == value
    assert parse_operator(spec.text, rank) == spec  # the canonical text is a fixed point
    assert allocator_for(spec).family == spec.family


def test_equal_operators_have_equal_hashable_specs() -> None:
    a, b = parse_operator("3x3:1dr conv", 2), parse_operator("  3x3   conv", 2)
    assert a == b
    assert len({a, b, parse_operator("3x3:2dr conv", 2)}) == 2
    assert parse_operator("3x3 conv", 2) != parse_operator("3x3 dconv", 2)


INVALID: list[tuple[str, int, list[str]]] = [
    ("3x3 convv", 2, ['unknown operator "3x3 convv"', "2D (image) inputs", '"KxK conv"', 'did you mean "3x3 conv"?']),
    ("idntity", 1, ['unknown operator "idntity"', '"K conv"', 'did you mean "identity"?']),
    ("3x3:0dr conv", 2, ['"3x3:0dr conv"', "dilation rate 0 must be >= 1", '"KxK:Ddr conv"']),
    ("3x3:xdr conv", 2, ['"3x3:xdr conv"', 'cannot read "xdr"', '"KxK:Ddr conv"']),
    ("3x3:2z conv", 2, ['"3x3:2z conv"', "Ndr", '"KxK:Ddr conv"']),
    ("0x0 conv", 2, ['"0x0 conv"', "kernel size 0 must be >= 1", '"KxK conv"']),
    ("-3x-3 conv", 2, ['"-3x-3 conv"', "kernel size -3 must be >= 1"]),
    ("conv", 2, ['"conv"', "kernel size is missing", '"KxK conv"']),
    ("axb conv", 2, ['"axb conv"', 'cannot read the kernel size "axb"']),
    ("2x2 conv", 2, ['"2x2 conv"', "kernel size 2 is even", '"KxK conv"', 'e.g. "3x3 conv"']),
    ("4 dconv", 1, ['"4 dconv"', "kernel size 4 is even", '"K dconv"', 'e.g. "5 dconv"']),
    ("2 tconv", 1, ['"2 tconv"', "kernel size 2 is even", '"K tconv"']),
    ("4x4:2z zconv", 2, ['"4x4:2z zconv"', "kernel size 4 is even"]),
    ("2x2-2x2 conv", 2, ['"2x2-2x2 conv"', "kernel size 2 is even", '"AxB-BxA conv"']),
    ("3x5 dconv", 2, ['"3x5 dconv"', "must be square", 'use "3x3 dconv"']),
    ("3x5 maxpool", 2, ['"3x5 maxpool"', "must be square", '"KxK maxpool"']),
    ("0x0 maxpool", 2, ['"0x0 maxpool"', "pool size 0 must be >= 1"]),
    ("1x3-1x3 conv", 2, ['"1x3-1x3 conv"', "first one transposed", 'use "1x3-3x1 conv"']),
    ("1x3-3x1-1x3 conv", 2, ["two kernels"]),
    ("3x3:2dr tconv", 2, ['"3x3:2dr tconv"', 'no ":2dr" suffix', '"KxK tconv"']),
    ("3x3 zconv", 2, ['"3x3 zconv"', "zoom factor is missing", '"KxK:Zz zconv"', 'e.g. "3x3:2z zconv"']),
    ("3x3:1z zconv", 2, ['"3x3:1z zconv"', "zoom factor 1 must be >= 2"]),
    ("0r SE", 2, ['"0r SE"', "reduction ratio 0 must be >= 1", '"Rr SE"']),
    ("SE", 1, ['"SE"', "reduction ratio is missing", 'e.g. "8r SE"']),
    ("3 identity", 2, ['"3 identity"', "takes no parameters", '"identity"']),
    ("2 lstm", 1, ['"2 lstm"', "takes no parameters", '"lstm"']),
    ("lstm", 2, ['"lstm"', "lstm family needs 1D (series) inputs", '"KxK conv"']),
    ("gru", 2, ['"gru"', "gru family needs 1D (series) inputs"]),
    ("1x3-3x1 conv", 1, ['"1x3-3x1 conv"', "stacked_conv family needs 2D (image) inputs", '"K conv"']),
    ("3x3 conv", 1, ['"3x3 conv"', "2D (image) kernel size", 'use the 1D form "3 conv"', '"K conv"']),
    ("3x3:2dr conv", 1, ['use the 1D form "3:2dr conv"']),
    ("2x2 maxpool", 1, ['use the 1D form "2 maxpool"', '"K maxpool"']),
    ("3 conv", 2, ['"3 conv"', "1D (series) kernel size", 'use the 2D form "3x3 conv"']),
    ("3k-2h-1b cvt", 2, ['"3k-2h-1b cvt"', "cvt operator family", "not available in this version", '"KxK conv"']),
    ("", 2, ["empty", "valid forms", '"KxK conv"']),
    ("   ", 1, ["empty", '"K conv"']),
]


@pytest.mark.parametrize(("text", "rank", "fragments"), INVALID)
def test_invalid_operators_are_config_errors_naming_value_and_forms(text: str, rank: int, fragments: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_operator(text, rank)
    message = str(caught.value)
    assert "valid forms" in message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_errors_list_only_the_forms_of_the_rank() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_operator("2x2 conv", 2)
    assert '"K conv"' not in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        parse_operator("3x3 convv", 2)
    assert '"lstm"' not in str(caught.value)


def test_errors_carry_the_file_and_toml_path() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_operator("2x2 conv", 2, file="configurations.toml", path="E.search.operators")
    error = caught.value
    assert (error.file, error.path) == ("configurations.toml", "E.search.operators")
    assert str(error).startswith('configurations.toml: [E.search] operators: invalid operator "2x2 conv"')
    with pytest.raises(ConfigError) as caught:
        parse_operator("3x3 convv", 2, file="configurations.toml", path="E.search.operators")
    assert str(caught.value).startswith("configurations.toml: [E.search] operators: unknown operator")


def test_non_string_operator_and_bad_rank() -> None:
    with pytest.raises(ConfigError, match="must be a string"):
        parse_operator(3, 2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rank must be 1"):
        parse_operator("3x3 conv", 3)


def test_valid_forms_follow_the_rank() -> None:
    images, series = valid_forms(2), valid_forms(1)
    assert {"KxK conv", "KxK:Ddr conv", "AxB-BxA conv", "KxK:Zz zconv", "Rr SE", "identity"} <= set(images)
    assert {"K conv", "K:Ddr conv", "lstm", "gru", "K:Zz zconv", "Rr SE", "identity"} <= set(series)
    assert "lstm" not in images and "gru" not in images and "AxB-BxA conv" not in series
    assert not any("x" in form.split(" ")[0] for form in series if form not in ("lstm", "gru", "identity"))


def test_importing_the_package_registers_every_built_in_family_and_exports_the_api() -> None:
    assert set(ALLOCATORS) >= BUILT_IN
    assert "cvt" not in ALLOCATORS  # reserved, not faked
    for name in ("ALLOCATORS", "LayerRequest", "OpAllocator", "OpSpec", "Variant", "register_allocator",
                 "normalize_operator_text", "parse_operator", "allocator_for", "valid_forms", "ConvSpec"):
        assert name in operators.__all__
        assert hasattr(operators, name)


def test_families_declare_ranks_and_forms() -> None:
    for family in BUILT_IN:
        allocator = ALLOCATORS.get(family)()
        assert allocator.forms
        for rank in (1, 2):
            assert bool(allocator.forms_for(rank)) == (rank in allocator.ranks)
    assert ALLOCATORS.get("lstm").ranks == frozenset({1})
    assert ALLOCATORS.get("stacked_conv").ranks == frozenset({2})
