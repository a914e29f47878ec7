"""The 9 cost features of hand-computed cells."""

from __future__ import annotations

import numpy as np
import pytest

from scinas.predictors import CELL_FEATURE_NAMES, cell_cost_features
from scinas.search_space.cell import Cell

SCORES = {"3x3 conv": 1.0, "identity": 0.0, "2x2 maxpool": 0.5}


def features(text: str, cells_stacked: int = 5, lookbacks: tuple[int, ...] = (-1, -2)) -> dict[str, float]:
    values = cell_cost_features(Cell.from_text(text), SCORES, cells_stacked=cells_stacked, lookbacks=lookbacks)
    assert values.shape == (len(CELL_FEATURE_NAMES),) and values.dtype == np.float64
    return dict(zip(CELL_FEATURE_NAMES, values.tolist(), strict=True))


def test_empty_cell_is_zeros_but_the_stacked_cells() -> None:
    assert features("[]", cells_stacked=4) == {name: (4.0 if name == "cells_stacked" else 0.0)
                                               for name in CELL_FEATURE_NAMES}


def test_one_block_reading_both_lookbacks() -> None:
    assert features("[(-1, 3x3 conv, -2, identity)]") == {
        "blocks": 1, "cells_stacked": 5, "op_score": 1.0, "uses_all_lookbacks": 1.0, "lookback_score_share": 1.0,
        "dependencies": 0, "depth": 1, "concatenated": 1, "heaviest_path_share": 1.0,
    }


def test_three_blocks_with_a_chain_and_a_side_branch() -> None:
    cell = "[(-1, 3x3 conv, -1, 2x2 maxpool); (0, 3x3 conv, -1, identity); (-1, 2x2 maxpool, -1, 2x2 maxpool)]"
    # total 1 + .5 + 1 + 0 + .5 + .5 = 3.5; on lookbacks 1.5 + 0 + 1.0 = 2.5;
    # heaviest path: -1 -(3x3 conv)-> block 0 -(3x3 conv)-> block 1 = 2.0.
    assert features(cell) == pytest.approx({
        "blocks": 3, "cells_stacked": 5, "op_score": 3.5, "uses_all_lookbacks": 0.0,
        "lookback_score_share": 2.5 / 3.5, "dependencies": 1, "depth": 2, "concatenated": 2,
        "heaviest_path_share": 2.0 / 3.5,
    })
    assert features(cell, lookbacks=(-1,))["uses_all_lookbacks"] == 1.0


def test_zero_scores_give_zero_shares_and_equivalent_cells_agree() -> None:
    values = features("[(-1, identity, -2, identity); (0, identity, 0, identity)]")
    assert values["op_score"] == 0.0 and values["lookback_score_share"] == 0.0
    assert values["heaviest_path_share"] == 0.0 and values["dependencies"] == 2 and values["depth"] == 2
    assert features("[(-2, identity, -1, 3x3 conv)]") == features("[(-1, 3x3 conv, -2, identity)]")


def test_unknown_operator_and_bad_arguments_are_value_errors() -> None:
    cell = Cell.from_text("[(-1, 5x5 conv, -1, identity)]")
    with pytest.raises(ValueError, match="no cost score for operator '5x5 conv'"):
        cell_cost_features(cell, SCORES, cells_stacked=3)
    with pytest.raises(ValueError, match="cells_stacked"):
        cell_cost_features(Cell(), SCORES, cells_stacked=-1)
    with pytest.raises(ValueError, match="lookbacks"):
        cell_cost_features(Cell(), SCORES, cells_stacked=1, lookbacks=(0,))
    with pytest.raises(ValueError, match="finite"):
        cell_cost_features(Cell.from_text("[(-1, identity, -1, identity)]"), {"identity": float("nan")},
                           cells_stacked=1)
