"""DARTS genotypes: parsed (never evaluated) with errors at a position, derived by DARTS' rule,
written back as DARTS' text and as scinas cells."""

from __future__ import annotations

import numpy as np
import pytest

from scinas.errors import ConfigError
from scinas.search_space.genotype import Genotype, derive_genotype, parse_genotype

DARTS_V2 = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
            "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], "
            "normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), "
            "('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), "
            "('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])")


def test_darts_text_parses_and_round_trips() -> None:
    genotype = parse_genotype("genotype = " + DARTS_V2, rank=2)
    assert genotype.nodes == 4 and genotype.normal[0] == ("3x3 dconv", 0)
    assert genotype.normal[-1] == ("3x3:2dr dconv", 2) and genotype.reduce[0] == ("3x3 maxpool", 0)
    text = genotype.to_text()
    assert "normal_concat=range(2, 6)" in text and "('dil_conv_3x3', 2)" in text
    assert parse_genotype(text, rank=2) == genotype
    assert Genotype.from_json(genotype.to_json()) == genotype
    assert genotype.parameter_free() == {"normal": 2, "reduce": 8}


def test_scinas_operators_and_series_genotypes() -> None:
    genotype = parse_genotype('Genotype(normal=[("7 conv", 0), ("sep_conv_5x5", 1)], reduce=[("lstm", 1), '
                              '("avg_pool_3x3", 0)],)', rank=1)
    assert genotype.normal == (("7 conv", 0), ("5 dconv", 1)) and genotype.normal_concat == (2,)
    assert genotype.to_text() == ("Genotype(normal=[('7 conv', 0), ('sep_conv_5x5', 1)], normal_concat=range(2, 3), "
                                  "reduce=[('lstm', 1), ('avg_pool_3x3', 0)], reduce_concat=range(2, 3))")


def test_the_scinas_form_is_two_cells() -> None:
    cells = parse_genotype(DARTS_V2, rank=2).cells()
    normal = cells["normal"]
    assert normal.n_blocks == 4
    assert "(-1, 3x3 dconv, -2, 3x3 dconv)" in normal.to_text() and "3x3:2dr dconv" in normal.to_text()
    assert set(cells["reduce"].operators) == {"3x3 maxpool", "identity"}


@pytest.mark.parametrize(("text", "words", "marker"), [
    ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3' 1)], reduce=[])", "expected ','", "1)], reduce=[])"),
    ("Genotype(normal=[('sep_conv_9x9', 0), ('skip_connect', 1)], reduce=[('skip_connect', 0), "
     "('skip_connect', 1)])", "unknown operation 'sep_conv_9x9'", "sep_conv_9x9"),
    ("Genotype(normal=[('none', 0), ('skip_connect', 1)], reduce=[('skip_connect', 0), ('skip_connect', 1)])",
     "`none`", "none'"),
    ("Genotype(normal=[('skip_connect', 0), ('skip_connect', 2)], reduce=[('skip_connect', 0), "
     "('skip_connect', 1)])", "cannot read source 2", "2)], reduce"),
    ("Genotype(normal=[('skip_connect', 0), ('skip_connect', 1)])", "'reduce' is missing", None),
    ("Genotype(normal=[('skip_connect', 0), ('skip_connect', 1)], reduce=[('skip_connect', 0), "
     "('skip_connect', 1)]); import os", "unexpected character ';'", "; import"),
    ("Genotype(normal=__import__('os'))", "expected '['", "__import__"),
    ("Genotype(normal=[('skip_connect', 0)], reduce=[('skip_connect', 0), ('skip_connect', 1)])",
     "two (operation, source) pairs per node", ""),
])
def test_bad_genotypes_say_where(text: str, words: str, marker: str | None) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_genotype(text, rank=2, file="configurations.toml", path="A.structure.genotype")
    message = str(caught.value)
    assert words in message and caught.value.path == "A.structure.genotype"
    if marker != "":  # the position of the problem (the end of the text for a missing field), with a caret
        column = len(text) + 1 if marker is None else text.index(marker) + 1
        assert f"at character {column}:" in message
        caret = message.splitlines()[2]
        assert caret.index("^") - 2 == column - 1


def test_derivation_keeps_the_two_strongest_edges_ignoring_none() -> None:
    candidates = ("none", "identity", "3x3 dconv", "3x3 maxpool")
    # two nodes: edges 0->2, 1->2, 0->3, 1->3, 2->3
    normal = np.array([
        [0.1, 0.2, 0.6, 0.1],   # 0->2 dconv 0.6
        [0.7, 0.1, 0.1, 0.1],   # 1->2 strongest is none: non-none best 0.1 ... but node 2 has only two edges
        [0.9, 0.05, 0.03, 0.02],  # 0->3 none-dominated: best non-none 0.05
        [0.2, 0.5, 0.2, 0.1],   # 1->3 identity 0.5
        [0.1, 0.1, 0.2, 0.6],   # 2->3 maxpool 0.6
    ])
    genotype = derive_genotype({"normal": normal, "reduce": normal[:, ::-1]}, candidates, nodes=2, rank=2)
    assert genotype.normal == (("3x3 dconv", 0), ("identity", 1), ("3x3 maxpool", 2), ("identity", 1))
    assert genotype.normal_concat == (2, 3)
    # reversed columns: "none" is the last column's name no more; the derivation reads names, not places
    assert all(op != "none" for op, _ in genotype.reduce)
