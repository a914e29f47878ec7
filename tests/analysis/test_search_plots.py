"""Search plots: files are written for normal data and for empty or degenerate data."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scinas.analysis.search_plots import (
    pareto_front,
    plot_operator_usage,
    plot_pareto_fronts,
    plot_predictor_quality,
)

POINTS = {
    "b1": [("a", 0.80, 100.0), ("b", 0.85, 300.0), ("c", 0.82, 500.0), ("d", 0.90, 900.0)],
    "b2": [("e", 0.88, 200.0), ("f", 0.91, 2000.0), ("g", math.nan, 50.0)],
}


def _is_png(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        assert image.format == "PNG"
        return image.size


def test_pareto_front_keeps_only_non_dominated_points() -> None:
    assert [p[0] for p in pareto_front(POINTS["b1"])] == ["a", "b", "d"]
    assert [p[0] for p in pareto_front(POINTS["b1"], maximize_score=False)] == ["a"]  # lower is better
    assert [p[0] for p in pareto_front(POINTS["b2"])] == ["e", "f"]  # NaN ignored
    ties = [("x", 0.5, 1.0), ("y", 0.7, 1.0), ("z", 0.7, 2.0)]
    assert [p[0] for p in pareto_front(ties)] == ["y"]
    assert pareto_front([]) == []


def test_plots_are_written(tmp_path: Path) -> None:
    assert _is_png(plot_pareto_fronts(POINTS, "val accuracy", "params", tmp_path / "p" / "pareto.png"))[0] > 300
    quality = {"b2": {"kendall": 0.4, "spearman": 0.55, "mae": 0.03, "n": 10},
               "b3": {"tau": 0.6, "rho": 0.7, "MAE": 0.02}}
    assert _is_png(plot_predictor_quality(quality, tmp_path / "quality.png"))[0] > 300
    usage = {"b1": {"3x3 conv": 4, "identity": 2}, "b2": {"3x3 conv": 6, "2x2 maxpool": 3}}
    assert _is_png(plot_operator_usage(usage, tmp_path / "ops.png"))[0] > 300


@pytest.mark.parametrize("case", ["empty", "no_points", "all_nan", "one_point"])
def test_degenerate_inputs_still_give_a_figure(tmp_path: Path, case: str) -> None:
    points = {"empty": {}, "no_points": {"b1": []}, "all_nan": {"b1": [("a", math.nan, 1.0)]},
              "one_point": {"b1": [("a", 0.5, 0.0)]}}[case]
    quality = {"empty": {}, "no_points": {"b1": {}}, "all_nan": {"b1": {"kendall": math.nan}},
               "one_point": {"b1": {"kendall": 0.3}}}[case]
    usage = {"empty": {}, "no_points": {"b1": {}}, "all_nan": {"b1": {"conv": 0}}, "one_point": {"b1": {"conv": 1}}}
    paths = [plot_pareto_fronts(points, "score", "time", tmp_path / "a.png"),  # type: ignore[arg-type]
             plot_predictor_quality(quality, tmp_path / "b.png"),  # type: ignore[arg-type]
             plot_operator_usage(usage[case], tmp_path / "c.png")]
    for path in paths:
        _is_png(path)


def _coloured_pixels(path: Path) -> int:
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB"), dtype=np.int16)
    return int(np.sum(pixels.max(axis=2) - pixels.min(axis=2) > 40))


def test_empty_data_says_no_data(tmp_path: Path) -> None:
    """The "no data" figure is grey text on white; a real one has coloured bars and points."""
    assert _coloured_pixels(plot_operator_usage({}, tmp_path / "empty.png")) == 0
    assert _coloured_pixels(plot_operator_usage({"b1": {"conv": 3}}, tmp_path / "full.png")) > 500
    assert _coloured_pixels(plot_pareto_fronts({"b1": []}, "s", "c", tmp_path / "pareto_empty.png")) == 0
    assert _coloured_pixels(plot_pareto_fronts(POINTS, "s", "c", tmp_path / "pareto.png")) > 500
