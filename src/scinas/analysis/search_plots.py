"""Plots of a search: Pareto fronts per step, predictor quality per step, operator usage per step.

Every function takes plain data (no store, no strategy objects), draws on a
``matplotlib.figure.Figure`` with the Agg canvas (no pyplot, so nothing global is touched and
no display is needed) and writes a PNG.  Empty or degenerate data (no points, one step, NaN)
give a figure that says "no data" instead of an error, so a report never fails on a plot.

Example::

    plot_pareto_fronts({"b1": [("t0", 0.91, 1200.0), ("t1", 0.88, 300.0)],
                        "b2": [("t2", 0.93, 2500.0)]}, "val accuracy", "params", Path("pareto.png"))
    plot_predictor_quality({"b2": {"kendall": 0.61, "spearman": 0.78, "mae": 0.02}}, Path("predictors.png"))
    plot_operator_usage({"b1": {"3x3 conv": 5, "identity": 2}}, Path("operators.png"))
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from scinas.atomic import atomic_path

__all__ = ["pareto_front", "plot_operator_usage", "plot_pareto_fronts", "plot_predictor_quality"]

Point = tuple[str, float, float]
"""``(name, score, cost)`` of one architecture."""

_QUALITY_KEYS = {"kendall": ("kendall", "tau", "τ"), "spearman": ("spearman", "rho", "ρ"), "mae": ("mae",)}


def _finite(*values: float) -> bool:
    return all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)


def pareto_front(points: Sequence[Point], *, maximize_score: bool = True) -> list[Point]:
    """The non-dominated points (better score at no greater cost), sorted by increasing cost.

    A point is dominated when another has a cost no greater and a score no worse, one of them
    strictly.  Points with NaN or infinite values are ignored.
    """
    sign = 1.0 if maximize_score else -1.0
    clean = sorted((p for p in points if _finite(p[1], p[2])), key=lambda p: (p[2], -sign * p[1]))
    front: list[Point] = []
    best = -math.inf
    for point in clean:
        score = sign * point[1]
        if score > best:
            front.append(point)
            best = score
    return front


def _save(figure: Figure, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(figure)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=110)
    return path


def _no_data(path: Path, title: str) -> Path:
    figure = Figure(figsize=(6, 4))
    axes = figure.add_subplot()
    axes.set_axis_off()
    axes.set_title(title)
    axes.text(0.5, 0.5, "no data", ha="center", va="center", fontsize=16, color="0.4", transform=axes.transAxes)
    return _save(figure, path)


def plot_pareto_fronts(points_by_step: Mapping[str, Sequence[Point]], score_label: str, cost_label: str,
                       path: Path, *, maximize_score: bool = True, log_cost: bool | None = None) -> Path:
    """Score against one cost for every step: all points faint, each step's front bold and joined.

    ``points_by_step`` maps a step name (e.g. ``"b2"``) to ``(name, score, cost)`` points.
    ``log_cost`` (default: when the finite costs span more than two decades) uses a log x axis.
    """
    title = f"Pareto fronts: {score_label} vs {cost_label}"
    steps = {step: [p for p in points if _finite(p[1], p[2])] for step, points in points_by_step.items()}
    steps = {step: points for step, points in steps.items() if points}
    if not steps:
        return _no_data(path, title)
    figure = Figure(figsize=(7.5, 5))
    axes = figure.add_subplot()
    colours = _colours(len(steps))
    costs = [p[2] for points in steps.values() for p in points]
    for (step, points), colour in zip(steps.items(), colours, strict=True):
        axes.scatter([p[2] for p in points], [p[1] for p in points], s=14, alpha=0.25, color=colour)
        front = pareto_front(points, maximize_score=maximize_score)
        axes.plot([p[2] for p in front], [p[1] for p in front], marker="o", markersize=5, linewidth=1.6,
                  drawstyle="steps-post", color=colour, label=f"{step} ({len(front)}/{len(points)} on front)")
    positive = [c for c in costs if c > 0]
    if log_cost is None:
        log_cost = len(positive) == len(costs) and max(positive) / min(positive) > 100
    if log_cost and len(positive) == len(costs):
        axes.set_xscale("log")
    axes.set_xlabel(cost_label + (" (log scale)" if log_cost else ""))
    axes.set_ylabel(score_label)
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="best")
    figure.tight_layout()
    return _save(figure, path)


def _quality(values: Mapping[str, float], metric: str) -> float:
    lowered = {k.lower(): v for k, v in values.items()}
    for key in _QUALITY_KEYS[metric]:
        value = lowered.get(key)
        if value is not None and _finite(value):
            return float(value)
    return math.nan


def plot_predictor_quality(quality_by_step: Mapping[str, Mapping[str, float]], path: Path) -> Path:
    """Kendall τ and Spearman ρ (left) and MAE (right) of a predictor at each step.

    Each step's mapping may name the values ``kendall``/``tau``, ``spearman``/``rho`` and
    ``mae`` (as in :meth:`PredictorQuality.to_json`); missing or NaN values leave gaps.
    """
    title = "Predictor quality per step"
    steps = list(quality_by_step)
    table = {metric: [_quality(quality_by_step[s], metric) for s in steps] for metric in _QUALITY_KEYS}
    if not any(math.isfinite(v) for values in table.values() for v in values):
        return _no_data(path, title)
    figure = Figure(figsize=(9, 4))
    ranking, error = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    positions = list(range(len(steps)))
    for metric, label, marker in (("kendall", "Kendall τ", "o"), ("spearman", "Spearman ρ", "s")):
        ranking.plot(positions, table[metric], marker=marker, label=label)
    ranking.set_ylim(-1.05, 1.05)
    ranking.axhline(0.0, color="0.6", linewidth=0.8)
    ranking.set_ylabel("rank correlation")
    ranking.legend(fontsize=8)
    error.plot(positions, table["mae"], marker="o", color="tab:red")
    error.set_ylabel("MAE")
    for axes, name in ((ranking, "ranking"), (error, "error")):
        _steps_axis(axes, steps)
        axes.set_title(name)
        axes.grid(alpha=0.3)
    figure.suptitle(title)
    figure.tight_layout()
    return _save(figure, path)


def plot_operator_usage(usage_by_step: Mapping[str, Mapping[str, int]], path: Path) -> Path:
    """Stacked bars: how often each operator appears in the architectures of each step."""
    title = "Operator usage per step"
    steps = list(usage_by_step)
    totals: dict[str, float] = {}
    for usage in usage_by_step.values():
        for operator, count in usage.items():
            if _finite(count) and count > 0:
                totals[operator] = totals.get(operator, 0.0) + float(count)
    if not steps or not totals:
        return _no_data(path, title)
    operators = sorted(totals, key=lambda op: (-totals[op], op))
    figure = Figure(figsize=(max(6.0, 1.0 + 0.8 * len(steps)), 5))
    axes = figure.add_subplot()
    bottoms = [0.0] * len(steps)
    positions = list(range(len(steps)))
    for operator, colour in zip(operators, _colours(len(operators)), strict=True):
        counts = [_count(usage_by_step[s].get(operator, 0)) for s in steps]
        axes.bar(positions, counts, bottom=bottoms, color=colour, label=operator, width=0.7)
        bottoms = [b + c for b, c in zip(bottoms, counts, strict=True)]
    _steps_axis(axes, steps)
    axes.set_ylabel("operator count")
    axes.set_title(title)
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure.tight_layout()
    return _save(figure, path)


def _count(value: float) -> float:
    return float(value) if _finite(value) and value > 0 else 0.0


def _steps_axis(axes: Axes, steps: Sequence[str]) -> None:
    axes.set_xticks(list(range(len(steps))))
    axes.set_xticklabels(list(steps), rotation=30 if len(steps) > 8 else 0)
    axes.set_xlabel("step")
    axes.set_xlim(-0.6, len(steps) - 0.4)


def _colours(n: int) -> list[tuple[float, float, float, float]]:
    from matplotlib import colormaps

    palette = colormaps["tab10" if n <= 10 else "viridis"]
    return [palette(i if n <= 10 else i / max(n - 1, 1)) for i in range(n)]
