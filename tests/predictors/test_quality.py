"""Ranking metrics on hand cases and the files save_predictor_step writes."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from scinas.predictors import PredictorQuality, ranking_quality, save_predictor_step


def test_perfect_ranking_has_tau_and_rho_one() -> None:
    quality = ranking_quality([1.0, 2.0, 3.0, 4.0], [10.0, 20.0, 30.0, 40.0])
    assert quality.n == 4
    assert quality.kendall == pytest.approx(1.0)
    assert quality.spearman == pytest.approx(1.0)
    assert quality.mae == pytest.approx((9 + 18 + 27 + 36) / 4)
    assert quality.mape == pytest.approx(900.0)


def test_reversed_ranking_has_tau_minus_one() -> None:
    quality = ranking_quality([1.0, 2.0, 3.0], [3.0, 2.0, 1.0])
    assert quality.kendall == pytest.approx(-1.0)
    assert quality.spearman == pytest.approx(-1.0)
    assert quality.mae == pytest.approx(4 / 3)


def test_constant_predictions_give_nan_correlations_not_an_error() -> None:
    quality = ranking_quality([1.0, 2.0, 3.0], [5.0, 5.0, 5.0])
    assert math.isnan(quality.kendall) and math.isnan(quality.spearman)
    assert quality.mae == pytest.approx(3.0)
    assert quality.to_json() == {"n": 3, "mae": 3.0, "mape": pytest.approx(100 * (4 + 1.5 + 2 / 3) / 3),
                                 "spearman": None, "kendall": None}


def test_mape_ignores_zero_actuals_and_single_sample_has_no_correlation() -> None:
    assert ranking_quality([0.0, 2.0], [1.0, 3.0]).mape == pytest.approx(50.0)
    assert math.isnan(ranking_quality([0.0, 0.0], [1.0, 3.0]).mape)
    single = ranking_quality([2.0], [3.0])
    assert single.n == 1 and math.isnan(single.kendall) and single.mae == pytest.approx(1.0)


def test_partial_ranking_matches_hand_count() -> None:
    # Pairs: (1,2) concordant, (1,3) concordant, (2,3) discordant -> tau = (2 - 1) / 3.
    assert ranking_quality([1.0, 2.0, 3.0], [1.0, 3.0, 2.0]).kendall == pytest.approx(1 / 3)


@pytest.mark.parametrize(("actual", "predicted"), [([1.0, 2.0], [1.0]), ([1.0, math.nan], [1.0, 2.0])])
def test_bad_inputs_are_value_errors(actual: list[float], predicted: list[float]) -> None:
    with pytest.raises(ValueError, match=r"values|finite"):
        ranking_quality(actual, predicted)


def test_save_predictor_step_writes_csv_json_and_png(tmp_path: Path) -> None:
    directory = tmp_path / "run" / "predictors"
    names = ["a", "b", "c"]
    quality = save_predictor_step(directory, "gin", "B2", names, np.array([0.5, 0.7, 0.9]), [0.4, 0.8, 0.85])
    assert isinstance(quality, PredictorQuality)
    assert sorted(path.name for path in directory.iterdir()) == ["gin_B2.csv", "gin_B2.json", "gin_B2.png"]
    with (directory / "gin_B2.csv").open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert [row["name"] for row in rows] == names
    assert [float(row["actual"]) for row in rows] == [0.5, 0.7, 0.9]
    assert [float(row["predicted"]) for row in rows] == [0.4, 0.8, 0.85]
    summary = json.loads((directory / "gin_B2.json").read_text())
    assert summary["predictor"] == "gin" and summary["step"] == "B2" and summary["n"] == 3
    assert summary["kendall"] == pytest.approx(1.0)
    assert summary["mae"] == pytest.approx(quality.mae)
    assert (directory / "gin_B2.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_save_predictor_step_replaces_files_and_handles_constant_predictions(tmp_path: Path) -> None:
    save_predictor_step(tmp_path, "svr", "B3", ["x", "y"], [1.0, 2.0], [1.0, 2.0])
    quality = save_predictor_step(tmp_path, "svr", "B3", ["x", "y"], [1.0, 2.0], [1.5, 1.5])
    assert math.isnan(quality.kendall)
    assert json.loads((tmp_path / "svr_B3.json").read_text())["kendall"] is None
    assert not [path for path in tmp_path.iterdir() if path.name.startswith(".")]  # no temporary left behind


def test_save_predictor_step_rejects_unsafe_names_and_mismatched_lengths(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="file name"):
        save_predictor_step(tmp_path, "../gin", "B2", ["a"], [1.0], [1.0])
    with pytest.raises(ValueError, match="2 names"):
        save_predictor_step(tmp_path, "gin", "B2", ["a", "b"], [1.0], [1.0])
