"""The figures of the run report, each a PNG drawn from a :class:`~scinas.analysis.report_data.RunData`.

Every function returns the path it wrote, or ``None`` when the figure does not apply to the run
(no search, no early termination, no cost recorded): the report then leaves the section out
instead of showing an empty plot.  Figures are drawn on a ``matplotlib.figure.Figure`` with the
Agg canvas (no pyplot, no display, nothing global).

Example::

    data = RunData.load(run_dir)
    plot_pareto(data, run_dir / "report" / "pareto.png")
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from scinas.analysis.report_data import RunData, TrialData
from scinas.analysis.search_plots import pareto_front
from scinas.atomic import atomic_path

__all__ = ["COST_AXES", "FIGURES", "plot_autobuild_units", "plot_convergence_epochs", "plot_darts_alphas",
           "plot_epochs_saved", "plot_learning_curves", "plot_pareto", "plot_wall_time"]

#: The costs a Pareto panel can show: (label, the trial record's attribute).
COST_AXES: tuple[tuple[str, str], ...] = (("params", "params"), ("FLOPs", "flops"),
                                          ("time cost (s)", "time_cost"), ("latency (s)", "latency_s"))
_FRONT, _OTHER, _SAVED = "tab:red", "0.55", "tab:green"


def _save(figure: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(figure)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=100)
    return path


def _finite(value: float | int | None) -> bool:
    return value is not None and math.isfinite(float(value))


def plot_pareto(data: RunData, path: Path) -> Path | None:
    """Score against each recorded cost for the search's trials, the Pareto front highlighted."""
    trials = data.completed("search") or (data.completed() if data.settings.searched else [])
    panels: list[tuple[str, list[tuple[str, float, float]]]] = []
    for label, attribute in COST_AXES:
        points = [(t.name, float(t.score), float(getattr(t.record, attribute)))  # type: ignore[arg-type]
                  for t in trials if _finite(t.score) and _finite(getattr(t.record, attribute))]
        if len(points) >= 2:
            panels.append((label, points))
    if not panels:
        return None
    figure = Figure(figsize=(4.6 * len(panels), 4.2), layout="constrained")
    for index, (label, points) in enumerate(panels):
        axes = figure.add_subplot(1, len(panels), index + 1)
        front = pareto_front(points, maximize_score=data.settings.maximize)
        names = {p[0] for p in front}
        others = [p for p in points if p[0] not in names]
        axes.scatter([p[2] for p in others], [p[1] for p in others], s=16, color=_OTHER, alpha=0.6,
                     label=f"trials ({len(points)})")
        axes.plot([p[2] for p in front], [p[1] for p in front], marker="o", markersize=6, color=_FRONT,
                  drawstyle="steps-post", linewidth=1.5, label=f"Pareto front ({len(front)})")
        if len(front) <= 8:
            for name, score, cost in front:
                axes.annotate(name, (cost, score), textcoords="offset points", xytext=(4, 4), fontsize=7)
        costs = [p[2] for p in points]
        if min(costs) > 0 and max(costs) / min(costs) > 100:
            axes.set_xscale("log")
        axes.set_xlabel(label)
        axes.set_ylabel(f"validation {data.settings.score}")
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8, loc="lower right" if data.settings.maximize else "upper right")
    figure.suptitle(f"{data.settings.score} vs costs ({'higher' if data.settings.maximize else 'lower'} is better)")
    return _save(figure, path)


def _curve_metric(data: RunData, trial: TrialData) -> str:
    """The metric a trial's learning curve shows: the followed monitor, else the score or loss."""
    for metric in (trial.record.monitor, f"val_{data.settings.score}", "val_loss", "loss"):
        if metric and trial.series(metric):
            return metric
    return "loss"


def _fitted_curve(data: RunData, trial: TrialData, metric: str, budget: int
                  ) -> tuple[np.ndarray, np.ndarray] | None:
    """The trial's last fitted learning curve over epochs 1..budget, in the metric's units."""
    record = trial.record
    if not (record.curve and record.curve_parameters and record.monitor == metric):
        return None
    # deferred: the curve families live with the predictors (which load Keras)
    from scinas.predictors.curve_families import CURVE_FAMILIES
    from scinas.predictors.learning_curve import ScoreSpace

    if record.curve not in CURVE_FAMILIES:
        return None
    family = CURVE_FAMILIES.get(record.curve)
    try:
        parameters = [float(record.curve_parameters[name]) for name in family.parameters]
        space = ScoreSpace.resolve(data.settings.termination_scale, metric,
                                   data.settings.monitor_maximized(metric), [v for _, v in trial.series(metric)])
    except (KeyError, TypeError, ValueError):
        return None
    epochs = np.linspace(1.0, float(budget), max(50, 4 * budget))
    with np.errstate(all="ignore"):
        scores = family(epochs, *parameters)
    values = np.array([space.from_score(float(s)) for s in scores])
    return (epochs, values) if np.isfinite(values).any() else None


def _learning_panel(axes: Axes, data: RunData, trial: TrialData) -> None:
    metric = _curve_metric(data, trial)
    budget = trial.budget(data.settings)
    measured = trial.series(metric)
    axes.plot([e for e, _ in measured], [v for _, v in measured], marker="o", markersize=3, color="tab:blue",
              label=metric)
    train_metric = metric.removeprefix("val_")
    if train_metric != metric and trial.series(train_metric):
        train = trial.series(train_metric)
        axes.plot([e for e, _ in train], [v for _, v in train], color="tab:blue", alpha=0.35, linewidth=1,
                  label=train_metric)
    fitted = _fitted_curve(data, trial, metric, budget)
    if fitted is not None:
        axes.plot(fitted[0], fitted[1], linestyle="--", color="tab:orange", linewidth=1.2, label="fitted curve")
    predictions = [(e.epoch, float(e.prediction)) for e in trial.epochs if e.prediction is not None
                   and math.isfinite(e.prediction)]
    if predictions:
        axes.scatter([e for e, _ in predictions], [p for _, p in predictions], marker="x", s=22, color="tab:purple",
                     label=f"prediction for epoch {budget}", zorder=3)
    stop = trial.record.converged_epoch
    done = trial.record.epochs_completed or len(trial.epochs)
    if stop is not None:
        axes.axvline(stop, color=_SAVED, linestyle=":", linewidth=1.5, label=f"converged at {stop}")
    elif done < budget and trial.record.status == "completed":
        axes.axvline(done, color="0.4", linestyle=":", linewidth=1.2, label=f"stopped at {done}")
    axes.set_xlim(0.5, max(budget, done) + 0.5)
    axes.set_title(f"{trial.name}" + (f" ({trial.phase})" if trial.phase not in ("search", "fixed") else ""),
                   fontsize=9)
    axes.set_xlabel("epoch", fontsize=8)
    axes.tick_params(labelsize=7)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=6, loc="best")


def plot_learning_curves(data: RunData, path: Path, *, limit: int = 9) -> Path | None:
    """Learning curves of the best trials (up to ``limit``) with the fitted curve, predictions and stop epoch."""
    chosen = [t for t in data.ranked() if t.epochs][:limit]
    if len(chosen) < limit:
        named = {t.name for t in chosen}
        chosen += [t for t in data.trials if t.epochs and t.name not in named][:limit - len(chosen)]
    if not chosen:
        return None
    columns = min(3, len(chosen))
    rows = math.ceil(len(chosen) / columns)
    figure = Figure(figsize=(4.4 * columns, 3.3 * rows), layout="constrained")
    for index, trial in enumerate(chosen):
        _learning_panel(figure.add_subplot(rows, columns, index + 1), data, trial)
    figure.suptitle("Learning curves (best trials first)")
    return _save(figure, path)


def _terminated(data: RunData) -> list[TrialData]:
    return [t for t in data.completed() if t.record.monitor and t.phase != "final"]


def plot_epochs_saved(data: RunData, path: Path) -> Path | None:
    """Per trial: epochs trained and epochs saved by early termination, against the budget."""
    trials = _terminated(data)
    if not trials:
        return None
    trained = [t.record.epochs_completed or len(t.epochs) for t in trials]
    saved = [max(t.budget(data.settings) - n, 0) if t.record.converged_epoch else 0
             for t, n in zip(trials, trained, strict=True)]
    total = sum(trained) + sum(saved)
    figure = Figure(figsize=(max(6.0, 0.28 * len(trials) + 2.5), 4.2), layout="constrained")
    axes = figure.add_subplot()
    positions = list(range(len(trials)))
    axes.bar(positions, trained, color="tab:blue", label="trained")
    axes.bar(positions, saved, bottom=trained, color=_SAVED, label="saved by early termination")
    _names_axis(axes, [t.name for t in trials])
    axes.set_ylabel("epochs")
    axes.set_ylim(0, 1.25 * max(a + b for a, b in zip(trained, saved, strict=True)))
    share = 100.0 * sum(saved) / total if total else 0.0
    axes.set_title(f"Epochs saved: {sum(saved)} of {total} ({share:.0f}%)")
    axes.legend(fontsize=8)
    return _save(figure, path)


def plot_convergence_epochs(data: RunData, path: Path) -> Path | None:
    """Distribution of the epochs at which trials converged, with the trials that never did."""
    trials = _terminated(data)
    if not trials:
        return None
    epochs = [t.record.converged_epoch for t in trials if t.record.converged_epoch is not None]
    never = len(trials) - len(epochs)
    budget = max(t.budget(data.settings) for t in trials)
    figure = Figure(figsize=(6.5, 4.0), layout="constrained")
    axes = figure.add_subplot()
    counts = [epochs.count(e) for e in range(1, budget + 1)]
    axes.bar(list(range(1, budget + 1)), counts, color=_SAVED, label=f"converged ({len(epochs)})")
    axes.bar([budget + 1.5], [never], color=_OTHER, label=f"ran to the budget ({never})")
    axes.set_xticks([*range(1, budget + 1, max(1, budget // 12)), budget + 1.5],
                    [*map(str, range(1, budget + 1, max(1, budget // 12))), "none"])
    axes.set_xlabel("convergence epoch")
    axes.set_ylabel("trials")
    median = f", median {float(np.median(epochs)):.0f}" if epochs else ""
    axes.set_title(f"Convergence epochs{median}")
    axes.legend(fontsize=8)
    return _save(figure, path)


def plot_wall_time(data: RunData, path: Path) -> Path | None:
    """Training time of every trial (coloured by device) and the total per device."""
    trials = [t for t in data.trials if _finite(t.record.train_time_s)]
    if not trials:
        return None
    devices = sorted({t.device for t in trials})
    colours = _palette(len(devices))
    colour_of = dict(zip(devices, colours, strict=True))
    figure = Figure(figsize=(max(7.0, 0.25 * len(trials) + 5.0), 4.2), layout="constrained")
    per_trial, per_device = figure.subplots(1, 2, width_ratios=[3, 1])
    times = [float(t.record.train_time_s or 0.0) for t in trials]
    per_trial.bar(list(range(len(trials))), times, color=[colour_of[t.device] for t in trials])
    for device in devices:  # legend entries, one per device
        per_trial.bar([0], [0], color=colour_of[device], label=device)
    per_trial.legend(fontsize=7, loc="upper left")
    per_trial.set_ylim(0, 1.2 * max(times) if max(times) > 0 else 1.0)
    _names_axis(per_trial, [t.name for t in trials])
    per_trial.set_ylabel("training time (s)")
    per_trial.set_title("Wall time per trial")
    totals = [sum(time for t, time in zip(trials, times, strict=True) if t.device == d) for d in devices]
    counts = [sum(1 for t in trials if t.device == d) for d in devices]
    per_device.barh(list(range(len(devices))), totals, color=colours)
    per_device.set_yticks(list(range(len(devices))), [f"{n} trials" for n in counts], fontsize=7)
    per_device.set_xlabel("total training time (s)")
    per_device.set_title("per device")
    return _save(figure, path)


def _names_axis(axes: Axes, names: Sequence[str]) -> None:
    axes.set_xticks(list(range(len(names))), list(names), rotation=90 if len(names) > 6 else 0, fontsize=7)
    axes.set_xlim(-0.6, len(names) - 0.4)


def _palette(n: int) -> list[tuple[float, float, float, float]]:
    from matplotlib import colormaps

    palette = colormaps["tab10" if n <= 10 else "viridis"]
    return [palette(i if n <= 10 else i / max(n - 1, 1)) for i in range(n)]


def plot_darts_alphas(data: RunData, path: Path) -> Path | None:
    """DARTS' α of the run's first supernet trial (``trials/*/darts/alpha.json``): softmax(α) of
    both cells after the last epoch as heat maps (edges × candidates), and per epoch the share of
    the edges' weight on parameter-free candidates (skip, pooling) and on ``none``, the signs of
    DARTS' collapse; ``None`` for a run without a DARTS search."""
    import json

    from scinas.search_space.darts_ops import NONE, is_parameter_free

    found = sorted(data.run_dir.glob("trials/*/darts/alpha.json"))
    if not found:
        return None
    history = json.loads(found[0].read_text())
    epochs = history.get("epochs") or []
    if not epochs:
        return None
    candidates = [str(c) for c in history["candidates"]]
    figure = Figure(figsize=(13, 4.2), layout="constrained")
    axes = figure.subplots(1, 3)
    for panel, kind in zip(axes[:2], ("normal", "reduce"), strict=True):
        weights = np.asarray(epochs[-1][kind], dtype=float)
        image = panel.imshow(weights, aspect="auto", cmap="viridis", vmin=0.0)
        panel.set_xticks(range(len(candidates)), candidates, rotation=45, ha="right", fontsize=8)
        panel.set_ylabel("edge")
        panel.set_title(f"{kind} cell, epoch {len(epochs)}: softmax(α)")
        figure.colorbar(image, ax=panel)
    free = [k for k, c in enumerate(candidates) if c != NONE and is_parameter_free(c)]
    none = [k for k, c in enumerate(candidates) if c == NONE]
    x = np.arange(1, len(epochs) + 1)
    for kind, style in (("normal", "-"), ("reduce", "--")):
        matrices = [np.asarray(epoch[kind], dtype=float) for epoch in epochs]
        axes[2].plot(x, [m[:, free].sum(axis=1).mean() for m in matrices], style, color="tab:red",
                     label=f"{kind}: skip + pooling")
        if none:
            axes[2].plot(x, [m[:, none].sum(axis=1).mean() for m in matrices], style, color="tab:grey",
                         label=f"{kind}: none")
    axes[2].set_xlabel("epoch")
    axes[2].set_ylabel("mean weight per edge")
    axes[2].set_title("parameter-free share")
    axes[2].legend(fontsize=8)
    return _save(figure, path)


#: Every figure of the report in order: (file stem, title, drawing function).
def plot_autobuild_units(data: RunData, path: Path, top: int = 15) -> Path | None:
    """The ``top`` units of ``scinas autobuild`` in their ranking order: node importance, and the
    predicted target of the cells holding them, the kept units in orange; ``None`` without it."""
    summary = data.autobuild
    units = summary.get("units") if summary is not None else None
    if not isinstance(units, list) or not units:
        return None
    shown = units[:top]
    kept = {tuple(pair) for pair in (summary or {}).get("reduced_space", {}).get("operator_pairs") or []}
    labels = [" + ".join(unit["operators"]) for unit in shown]
    colours = ["tab:orange" if tuple(unit["operators"]) in kept else "0.6" for unit in shown]
    figure = Figure(figsize=(11, 0.9 + 0.32 * len(shown)), layout="constrained")
    panels = figure.subplots(1, 2, sharey=True)
    rows = np.arange(len(shown))
    for panel, key, title in ((panels[0], "importance", "node importance (mean over hops)"),
                              (panels[1], "predicted", "predicted target of the cells holding it")):
        values = [float(unit[key]) if isinstance(unit.get(key), (int, float)) else math.nan for unit in shown]
        panel.set_title(title, fontsize=10)
        panel.grid(axis="x", alpha=0.3)
        finite = [v for v in values if math.isfinite(v)]
        if key == "importance" or not finite:
            panel.barh(rows, values, color=colours)
            continue
        # predictions may be negative (an r_squared, a negated loss): dots on stems from the smallest
        low, high = min(finite), max(finite)
        margin = (high - low) * 0.1 or abs(high) * 0.1 or 1.0
        panel.hlines(rows, low - margin, values, colors=colours, linewidth=2)
        panel.scatter(values, rows, color=colours, s=30, zorder=3)
        panel.set_xlim(low - margin, high + margin)
    panels[0].set_yticks(rows, labels, fontsize=8)
    panels[0].invert_yaxis()
    return _save(figure, path)


FIGURES: tuple[tuple[str, str, Callable[[RunData, Path], Path | None]], ...] = (
    ("pareto", "Pareto front", plot_pareto),
    ("learning_curves", "Learning curves", plot_learning_curves),
    ("epochs_saved", "Epochs saved by early termination", plot_epochs_saved),
    ("convergence_epochs", "Convergence epochs", plot_convergence_epochs),
    ("wall_time", "Wall time per trial and device", plot_wall_time),
    ("darts_alphas", "DARTS architecture weights", plot_darts_alphas),
    ("autobuild_units", "AutoBuild: the ranked units", plot_autobuild_units),
)
