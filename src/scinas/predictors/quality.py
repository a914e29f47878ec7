"""How well a predictor ranks: error and rank-correlation metrics, and the files written per step.

A search uses its predictors to *rank* candidates, so the numbers that matter most are the rank
correlations (Kendall τ, Spearman ρ) between what was measured and what was predicted; MAE and
MAPE say how far the values themselves are off.  :func:`save_predictor_step` records one
prediction round of a search (the predictor trained at some step, scored on what was trained
next) as a CSV, a JSON summary and a scatter plot, so a user can see whether the predictors could
be trusted.

Example::

    quality = ranking_quality([0.1, 0.5, 0.9], [0.2, 0.4, 0.7])
    quality.kendall        # 1.0: the same order
    quality.to_json()      # {"n": 3, "mae": 0.1, "mape": ..., "spearman": 1.0, "kendall": 1.0}
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scinas.atomic import write_bytes_atomic

__all__ = ["PredictorQuality", "ranking_quality", "save_predictor_step"]

_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")


@dataclass(frozen=True)
class PredictorQuality:
    """Error and ranking metrics of one set of predictions.

    ``mape`` is in percent and ignores the samples whose actual value is zero; a rank
    correlation is ``nan`` when it is undefined (fewer than two samples, or a constant side).
    """

    n: int
    mae: float
    mape: float
    spearman: float
    kendall: float

    def to_json(self) -> dict[str, float | int | None]:
        """A JSON-ready dict; undefined metrics (``nan``) become ``None``."""
        def clean(value: float) -> float | None:
            return None if math.isnan(value) else float(value)

        return {"n": self.n, "mae": clean(self.mae), "mape": clean(self.mape),
                "spearman": clean(self.spearman), "kendall": clean(self.kendall)}


def _vector(values: Sequence[float] | np.ndarray, what: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]  # a column vector, as Keras returns predictions
    if array.ndim != 1:
        raise ValueError(f"{what} must be a 1-D sequence of numbers, got shape {array.shape}")
    return array


def ranking_quality(actual: Sequence[float] | np.ndarray, predicted: Sequence[float] | np.ndarray
                    ) -> PredictorQuality:
    """MAE, MAPE (percent, over non-zero actuals), Spearman ρ and Kendall τ (τ-b) of ``predicted``
    against ``actual``.

    Never raises for degenerate but well-formed input: constant predictions or fewer than two
    samples give ``nan`` correlations, no non-zero actual gives a ``nan`` MAPE.  Mismatched
    lengths and non-finite values are a ValueError (they are a caller's bug, not a bad predictor).
    """
    truth = _vector(actual, "actual")
    guess = _vector(predicted, "predicted")
    if truth.shape != guess.shape:
        raise ValueError(f"actual has {truth.size} values but predicted has {guess.size}; pass one prediction "
                         "per measured value")
    if not (np.isfinite(truth).all() and np.isfinite(guess).all()):
        raise ValueError("actual and predicted must be finite numbers (found nan or inf)")
    n = int(truth.size)
    if n == 0:
        return PredictorQuality(0, math.nan, math.nan, math.nan, math.nan)
    error = np.abs(truth - guess)
    nonzero = truth != 0
    mape = float(100.0 * np.mean(error[nonzero] / np.abs(truth[nonzero]))) if nonzero.any() else math.nan
    spearman = kendall = math.nan
    if n >= 2 and np.ptp(truth) > 0 and np.ptp(guess) > 0:
        from scipy import stats  # here: scipy.stats takes seconds to import, and a curve fit needs none of it

        spearman = float(stats.spearmanr(truth, guess).statistic)
        kendall = float(stats.kendalltau(truth, guess).statistic)
    return PredictorQuality(n, float(error.mean()), mape, spearman, kendall)


def _write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically, so a reader never sees half a file (and a killed run
    leaves the old one)."""
    write_bytes_atomic(path, data)


def _scatter_png(actual: np.ndarray, predicted: np.ndarray, title: str, label: str) -> bytes:
    """A predicted-vs-actual scatter with the y = x line, as PNG bytes (Agg, no pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.0, 5.0), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.scatter(actual, predicted, s=12, alpha=0.7, edgecolors="none")
    if actual.size:
        low = float(min(actual.min(), predicted.min()))
        high = float(max(actual.max(), predicted.max()))
        pad = 0.05 * (high - low) if high > low else 0.5
        axes.plot([low - pad, high + pad], [low - pad, high + pad], color="grey", linestyle="--", linewidth=1,
                  label="y = x")
        axes.set_xlim(low - pad, high + pad)
        axes.set_ylim(low - pad, high + pad)
        axes.legend(loc="upper left")
    axes.set_xlabel(f"actual {label}")
    axes.set_ylabel(f"predicted {label}")
    axes.set_title(title, fontsize=10)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _format(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3f}"


def save_predictor_step(directory: Path, predictor: str, step: str, names: Sequence[str],
                        actual: Sequence[float] | np.ndarray, predicted: Sequence[float] | np.ndarray
                        ) -> PredictorQuality:
    """Record how ``predictor`` did at ``step``: ``<predictor>_<step>.csv`` (name, actual,
    predicted), ``<predictor>_<step>.json`` (the :class:`PredictorQuality`) and
    ``<predictor>_<step>.png`` (predicted vs actual).  ``directory`` is created if needed; each
    file is replaced atomically.  Returns the quality.

    Example::

        save_predictor_step(run / "predictors", "gin", "B2", names, measured, predicted)
        # run/predictors/gin_B2.csv, gin_B2.json, gin_B2.png
    """
    for what, value in (("predictor", predictor), ("step", step)):
        if not isinstance(value, str) or not _SAFE_NAME.fullmatch(value):
            raise ValueError(f"{what} name {value!r} must be letters, digits and _ . + - (it becomes part of a file "
                             "name), e.g. 'gin' or 'B2'")
    truth = _vector(actual, "actual")
    guess = _vector(predicted, "predicted")
    labels = [str(name) for name in names]
    if not len(labels) == truth.size == guess.size:
        raise ValueError(f"got {len(labels)} names, {truth.size} actual and {guess.size} predicted values; pass one "
                         "of each per architecture")
    quality = ranking_quality(truth, guess)

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"{predictor}_{step}"
    table = io.StringIO(newline="")
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["name", "actual", "predicted"])
    writer.writerows((label, repr(float(a)), repr(float(p))) for label, a, p in zip(labels, truth, guess, strict=True))
    _write_atomic(directory / f"{stem}.csv", table.getvalue().encode())
    summary = {"predictor": predictor, "step": step, **quality.to_json()}
    _write_atomic(directory / f"{stem}.json", (json.dumps(summary, indent=2) + "\n").encode())
    title = (f"{predictor} at {step} (n = {quality.n}): τ = {_format(quality.kendall)}, "
             f"ρ = {_format(quality.spearman)}, MAE = {_format(quality.mae)}")
    _write_atomic(directory / f"{stem}.png", _scatter_png(truth, guess, title, predictor))
    return quality
