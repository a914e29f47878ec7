"""``[X.search_space] operators`` knows the DARTS set by name and DARTS' operation names, and
refuses ``none``."""

from __future__ import annotations

import pytest

from scinas.config.reader import Table
from scinas.errors import ConfigError
from scinas.search_space.space import SearchSpace


def _space(operators: list[object], rank: int) -> SearchSpace:
    return SearchSpace.parse(Table({"operators": operators}, file="configurations.toml", path="A.search_space"),
                             rank=rank)


def test_the_darts_set_and_darts_names_become_scinas_operators() -> None:
    assert _space(["darts"], 2).operators == ("identity", "3x3 maxpool", "3x3 avgpool", "3x3 dconv", "5x5 dconv",
                                              "3x3:2dr dconv", "5x5:2dr dconv")
    assert _space(["7 conv", "sep_conv_3x3", "darts"], 1).operators[:3] == ("7 conv", "3 dconv", "identity")
    assert len(_space(["7 conv", "sep_conv_3x3", "darts"], 1).operators) == 8  # 3 dconv not twice


def test_none_and_doubles_are_refused_with_their_index() -> None:
    with pytest.raises(ConfigError) as caught:
        _space(["identity", "none"], 2)
    assert caught.value.path == "A.search_space.operators[1]" and "zero operation" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        _space(["3x3 dconv", "sep_conv_3x3"], 2)
    assert caught.value.path == "A.search_space.operators[1]" and "listed twice" in str(caught.value)
