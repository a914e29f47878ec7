"""The run report: one self-contained ``report.html`` with its figures, written from a run folder.

The page needs nothing but a browser: the figures are embedded as base64 PNG (and also written as
files under ``report/`` beside the page, for slides and papers), the style sheet is inline, and no
script or network resource is used.  Every text that comes from the run (names, architectures,
failure reasons, metric names) is HTML-escaped.  Links to trial folders and ``best_model/`` are
relative, so the run folder can be moved or shared as a whole.

Sections, each left out when it does not apply (a fixed run gets no Pareto front; a run without
early termination no convergence figures): summary, best models (the final training, trained on
train + validation, by its test metrics and unranked), Pareto front of score vs
params/FLOPs/time, learning curves with the fitted predictions and the stop epoch, epochs saved
by early termination, convergence epochs, wall time per trial and per device, DARTS' α, the units
``scinas autobuild`` ranked (a table, their scores, the best cell coloured by node importance per
hop), predictor quality per step, failed trials.

Example::

    result = write_report(Path("results/A/20261122-083012-3fa2"))
    result.html        # .../report.html; result.figures: the PNGs under .../report/
"""

from __future__ import annotations

import base64
import html
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from scinas.analysis.report_data import RunData, TrialData
from scinas.analysis.report_figures import FIGURES
from scinas.analysis.search_plots import plot_predictor_quality
from scinas.atomic import write_text_atomic
from scinas.store import TrialStatus
from scinas.store.layout import RunLayout

__all__ = ["REPORT_FILE", "ReportResult", "write_report"]

logger = logging.getLogger(__name__)

#: The report's file name; its figures go to the folder ``report/`` beside it.
REPORT_FILE = RunLayout(Path()).report.name
_TOP = 10

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1d2430;
       background: #f6f7f9; line-height: 1.45; }
main { max-width: 1180px; margin: 0 auto; padding: 1.5rem 2rem 3rem; }
h1 { font-size: 1.6rem; margin: 0.2rem 0 0.4rem; }
h3 { font-size: 1rem; margin: 1rem 0 0.4rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 0.6rem; border-bottom: 1px solid #d5d9e0; padding-bottom: 0.2rem; }
.meta { color: #5a6372; font-size: 0.9rem; }
section { background: #fff; border: 1px solid #e1e4ea; border-radius: 6px; padding: 0.8rem 1.2rem 1rem;
          margin-top: 1rem; }
section h2 { margin-top: 0.2rem; }
table { border-collapse: collapse; font-size: 0.86rem; width: 100%; }
th, td { text-align: left; padding: 0.3rem 0.55rem; border-bottom: 1px solid #e8ebf0; vertical-align: top; }
th { background: #eef1f5; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-size: 0.8rem; word-break: break-all; }
td a, td.num { white-space: nowrap; }
figure { margin: 0.5rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eceef2; }
figcaption { font-size: 0.85rem; color: #5a6372; margin-top: 0.3rem; }
.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(210px, 1fr)); gap: 0.4rem 1.2rem; }
.facts div { font-size: 0.9rem; } .facts b { display: block; color: #5a6372; font-weight: 500; font-size: 0.78rem; }
.ok { color: #1b7a3a; } .bad { color: #b3261e; }
"""


@dataclass(frozen=True)
class ReportResult:
    """What :func:`write_report` wrote: the page and its figures (stem → PNG path)."""

    html: Path
    figures: dict[str, Path] = field(default_factory=dict)


def _text(value: object) -> str:
    return html.escape(str(value), quote=True)


def _number(value: float | int | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return f"{value:.{digits}g}"


def _href(target: Path, start: Path) -> str:
    return _text(quote(Path(os.path.relpath(target, start)).as_posix()) + "/")


def _time(moment: datetime | None) -> str:
    return "–" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _figure(path: Path, title: str, caption: str, out: Path) -> str:
    encoded = base64.b64encode(path.read_bytes()).decode("ascii")
    link = _text(quote(Path(os.path.relpath(path, out)).as_posix()))
    return (f'<figure><img src="data:image/png;base64,{encoded}" alt="{_text(title)}" '
            f'data-figure="{_text(path.stem)}"><figcaption>{_text(caption)} '
            f'(<a href="{link}">PNG</a>)</figcaption></figure>')


_CAPTIONS = {
    "pareto": "Validation score against each recorded cost for the search's trials; the non-dominated trials "
              "(the Pareto front) are drawn in red and joined.",
    "learning_curves": "The monitored metric per epoch (and its training counterpart, faint), the last fitted "
                       "learning curve (dashed), each epoch's prediction for the budget's last epoch (crosses) and "
                       "the epoch where the predictions converged and training stopped (dotted).",
    "epochs_saved": "Epochs each trial trained (blue) and the epochs of its budget that early termination saved "
                    "(green).",
    "convergence_epochs": "How many trials converged at each epoch; the last bar counts those that trained "
                          "their whole budget.",
    "wall_time": "Training time of every trial, coloured by the device it ran on, and the total per device.",
    "autobuild_units": "The operator pairs (units) of `scinas autobuild`, in its ranking order: the mean node "
                       "importance of their blocks (left) and the ranking predictor's mean prediction for the cells "
                       "holding them (right); the pairs the reduced space keeps in orange.",
    "darts_alphas": "softmax(α) of the DARTS supernet's normal and reduction cells after its last epoch (edges × "
                    "candidate operations), and per epoch the mean weight an edge puts on skip and pooling "
                    "operations and on none: a share that keeps rising is DARTS' collapse onto parameter-free "
                    "operations.",
}


def _facts(data: RunData) -> str:
    run = data.run
    statuses = {s.value: sum(1 for t in data.trials if t.record.status == s) for s in TrialStatus}
    trained = sum(t.record.epochs_completed or 0 for t in data.trials)
    total_time = sum(t.record.train_time_s or 0.0 for t in data.trials)
    best = data.ranked()[0] if data.ranked() else None
    items = [("experiment", run.experiment), ("run", run.run_id), ("status", run.status.value),
             ("started", _time(run.created_at)), ("finished", _time(run.finished_at)),
             ("seed", run.seed if run.seed is not None else "–"),
             ("trials", ", ".join(f"{n} {s}" for s, n in statuses.items() if n) or "none"),
             ("epochs trained", f"{trained:,}"), ("training time", f"{total_time:,.1f} s"),
             ("score", f"validation {data.settings.score} ({'max' if data.settings.maximize else 'min'})")]
    if data.search_summary and data.search_summary.get("strategy"):
        items.insert(3, ("strategy", data.search_summary["strategy"]))
    if best is not None:
        items.append(("best trial", f"{best.name}: {_number(best.score)}"))
    cells = "".join(f"<div><b>{_text(k)}</b>{_text(v)}</div>" for k, v in items)
    return f'<section><h2>Summary</h2><div class="facts">{cells}</div></section>'


def _best_models(data: RunData, out: Path) -> str:
    ranked = data.ranked()[:_TOP]
    parts = ["<section><h2>Best models</h2>"]
    if data.best_model is not None:
        link = _href(RunLayout(data.run_dir).best_model, out)
        tests = data.best_model.get("test_metrics") or {}
        metrics = ", ".join(f"{_text(k)} = {_number(v)}" for k, v in sorted(tests.items())
                            if isinstance(v, (int, float)))
        parts.append(f'<p>Exported model: <a href="{link}">best_model/</a> (from trial '
                     f'{_text(data.best_model.get("trial", "?"))})' + (f"; test {metrics}" if metrics else "") + "</p>")
    parts.append(_final_trainings(data, out))
    if not ranked:
        parts.append("<p>No completed trial has a score.</p></section>")
        return "".join(parts)
    front = _front_names(data)
    header = ("<tr><th>#</th><th>trial</th><th>phase</th><th>score</th><th>params</th><th>FLOPs</th>"
              "<th>train time (s)</th><th>time cost (s)</th><th>epochs</th><th>converged</th><th>front</th>"
              "<th>architecture</th></tr>")
    rows = [_best_row(rank, trial, front, data, out) for rank, trial in enumerate(ranked, 1)]
    parts.append(f"<table>{header}{''.join(rows)}</table></section>")
    return "".join(parts)


def _final_trainings(data: RunData, out: Path) -> str:
    """The final training, judged by its test metrics: it learned from the validation split, so a
    validation score would be measured on its own training data and it is not ranked."""
    finals = [t for t in data.completed() if t.trained_on_validation]
    if not finals:
        return ""
    score = data.settings.score
    header = (f"<tr><th>trial</th><th>test {_text(score)}</th><th>test metrics</th><th>params</th>"
              "<th>train time (s)</th><th>epochs</th><th>architecture</th></tr>")
    rows = []
    for trial in finals:
        link = _href(RunLayout(data.run_dir).trial(trial.name).root, out)
        others = ", ".join(f"{_text(k)} = {_number(v)}" for k, v in sorted(trial.test.items()) if k != score)
        rows.append(f'<tr><td><a href="{link}">{_text(trial.name)}</a></td>'
                    f'<td class="num">{_number(trial.test.get(score))}</td><td>{others or "–"}</td>'
                    f'<td class="num">{_number(trial.record.params)}</td>'
                    f'<td class="num">{_number(trial.record.train_time_s, 3)}</td>'
                    f'<td class="num">{_number(trial.record.epochs_completed)}</td>'
                    f"<td><code>{_text(trial.record.architecture)}</code></td></tr>")
    return (f'<h3 id="final-training">Final training</h3><p>Trained on train + validation, so it is measured on the '
            f"test split and not ranked with the trials below (a validation score would be measured on data it "
            f"trained on).</p><table>{header}{''.join(rows)}</table>"
            + ("<h3>Ranked trials (validation score)</h3>" if data.ranked() else ""))


def _best_row(rank: int, trial: TrialData, front: set[str], data: RunData, out: Path) -> str:
    record = trial.record
    link = _href(RunLayout(data.run_dir).trial(trial.name).root, out)
    converged = "–" if record.converged_epoch is None else f"epoch {record.converged_epoch}"
    cells = [f'<td class="num">{rank}</td>', f'<td><a href="{link}">{_text(trial.name)}</a></td>',
             f"<td>{_text(trial.phase)}</td>", f'<td class="num">{_number(trial.score)}</td>',
             f'<td class="num">{_number(record.params)}</td>', f'<td class="num">{_number(record.flops)}</td>',
             f'<td class="num">{_number(record.train_time_s, 3)}</td>',
             f'<td class="num">{_number(record.time_cost, 3)}</td>',
             f'<td class="num">{_number(record.epochs_completed)}</td>', f"<td>{converged}</td>",
             "<td>" + ('<span class="ok">✓</span>' if trial.name in front else "") + "</td>",
             f"<td><code>{_text(record.architecture)}</code></td>"]
    return "<tr>" + "".join(cells) + "</tr>"


def _front_names(data: RunData) -> set[str]:
    """Search trials on the Pareto front of the search's objectives: score and every cost at once."""
    attributes = [{"time": "time_cost", "params": "params", "flops": "flops", "latency": "latency_s"}[c]
                  for c in data.settings.costs]
    sign = 1.0 if data.settings.maximize else -1.0
    points = {t.name: (sign * t.score, *(-float(getattr(t.record, a)) for a in attributes))
              for t in data.completed("search")
              if t.score is not None and all(getattr(t.record, a) is not None for a in attributes)}

    def dominated(point: tuple[float, ...]) -> bool:  # another point at least as good everywhere, better somewhere
        return any(all(o >= p for o, p in zip(other, point, strict=True)) and other != point
                   for other in points.values())

    return {name for name, point in points.items() if not dominated(point)}


def _autobuild(data: RunData, figure: str, out: Path) -> str:
    """The section of ``scinas autobuild``'s results: what it ranked, the top units, the figure and the
    best trial's cell coloured by node importance per hop (when Graphviz drew it)."""
    summary = data.autobuild or {}
    units = [u for u in summary.get("units") or [] if isinstance(u, dict) and isinstance(u.get("operators"), list)]
    reduced = summary.get("reduced_space") if isinstance(summary.get("reduced_space"), dict) else {}
    kept = {tuple(pair) for pair in (reduced or {}).get("operator_pairs") or [] if isinstance(pair, list)}
    layout = RunLayout(data.run_dir).autobuild
    listed = summary.get("trials")
    trials = listed if isinstance(listed, list) else []
    fit = summary.get("fit_kendall")
    link = _text(quote(Path(os.path.relpath(layout.reduced_space, out)).as_posix()))
    intro = (f"<p>Ranked from {len(trials)} search trials by <code>{_text(summary.get('target', '?'))}</code> with "
             f"the ranking predictor (Kendall τ on the trials it was fitted on: "
             f"{_number(fit if isinstance(fit, (int, float)) else None, 3)}); units ordered by "
             f"{_text(summary.get('by', '?'))}. The reduced space keeps {len(kept)} pair(s): "
             f'<a href="{link}">reduced_space.toml</a>.</p>')
    header = ("<tr><th>#</th><th>unit (operator pair)</th><th>importance</th><th>predicted</th><th>cells</th>"
              "<th>mean target</th><th>kept</th></tr>")
    rows = []
    for rank, unit in enumerate(units[:_TOP], 1):
        numbers = [unit.get(key) if isinstance(unit.get(key), (int, float)) else None
                   for key in ("importance", "predicted", "cells", "mean_target")]
        rows.append(f'<tr><td class="num">{rank}</td><td>{_text(" + ".join(map(str, unit["operators"])))}</td>'
                    + "".join(f'<td class="num">{_number(value)}</td>' for value in numbers)
                    + "<td>" + ('<span class="ok">✓</span>' if tuple(unit["operators"]) in kept else "") + "</td></tr>")
    cells = []
    best = data.autobuild_best_cell
    for hop, path in enumerate(sorted(layout.root.glob("best_cell_hop*.png"))):
        caption = (f"The best trial's cell ({best.get('trial', '?')}: {best.get('cell', '?')}), each node coloured by "
                   f"its importance at hop {hop} (green: low, orange: high; the node's value divided by the mean "
                   "node norm of the ranked cells at that hop)")
        cells.append(_figure(path, f"best cell, hop {hop}", caption, out))
    return (f"<section><h2>AutoBuild: the ranked units</h2>{intro}<table>{header}{''.join(rows)}</table>{figure}"
            + "".join(cells) + "</section>")


def _failures(trials: Sequence[TrialData]) -> str:
    failed = [t for t in trials if t.record.status == TrialStatus.FAILED]
    if not failed:
        return ""
    rows = "".join(f'<tr><td>{_text(t.name)}</td><td class="bad">{_text(t.record.failure_reason or "?")}</td></tr>'
                   for t in failed)
    return f"<section><h2>Failed trials</h2><table><tr><th>trial</th><th>reason</th></tr>{rows}</table></section>"


def _draw(data: RunData, figures_dir: Path) -> dict[str, tuple[str, Path]]:
    """Draw every applicable figure; one that fails is logged and left out."""
    drawn: dict[str, tuple[str, Path]] = {}
    for stem, title, draw in FIGURES:
        try:
            path = draw(data, figures_dir / f"{stem}.png")
        except (ArithmeticError, LookupError, RuntimeError, TypeError, ValueError) as exc:
            logger.warning("report: the %s figure could not be drawn (%s: %s)", stem, type(exc).__name__, exc)
            continue
        if path is not None:
            drawn[stem] = (title, path)
    for predictor, steps in data.predictor_quality.items():
        stem = f"predictor_quality_{predictor}"
        drawn[stem] = (f"Predictor quality: {predictor}",
                       plot_predictor_quality(steps, figures_dir / f"{stem}.png"))
    return drawn


def write_report(run_dir: Path, out: Path | None = None) -> ReportResult:
    """Write ``report.html`` for the run folder ``run_dir`` into ``out`` (default: the run folder).

    The figures go to ``<out>/report/*.png`` and are embedded in the page as well.

    Raises:
        ConfigError: ``run_dir`` is not a run folder.
    """
    run_dir = Path(run_dir)
    data = RunData.load(run_dir)
    out = Path(out) if out is not None else run_dir
    out.mkdir(parents=True, exist_ok=True)
    drawn = _draw(data, RunLayout(out).report_figures)
    sections = [_facts(data), _best_models(data, out)]
    for stem, (title, path) in drawn.items():
        caption = _CAPTIONS.get(stem, "Kendall τ and Spearman ρ between predicted and measured values of the "
                                      "architectures trained at each step, and the mean absolute error.")
        if stem == "autobuild_units":
            sections.append(_autobuild(data, _figure(path, title, caption, out), out))
            continue
        sections.append(f"<section><h2>{_text(title)}</h2>{_figure(path, title, caption, out)}</section>")
    sections.append(_failures(data.trials))
    title = f"scinas report: {data.run.experiment} {data.run.run_id}"
    page = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_text(title)}</title><style>{_STYLE}</style></head>\n<body><main>"
            f"<h1>{_text(data.run.experiment)}: run report</h1><p class=\"meta\">run {_text(data.run.run_id)} · "
            f"written {_text(_time(datetime.now(UTC)))}</p>\n"
            + "\n".join(s for s in sections if s) + "\n</main></body></html>\n")
    target = RunLayout(out).report
    write_text_atomic(target, page)
    logger.info("report: %s (%d figures)", target, len(drawn))
    return ReportResult(target, {stem: path for stem, (_, path) in drawn.items()})
