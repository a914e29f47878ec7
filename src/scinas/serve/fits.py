"""A trial's fitted learning curve, in the units of the metric it followed.

The curve families and score spaces live with the predictors (:mod:`scinas.predictors.curve_families`,
:mod:`scinas.predictors.learning_curve`): NumPy and SciPy only.  The package loads its TensorFlow and
scikit-learn predictors on first use, so drawing a fit never imports them
(``tests/serve/test_fits.py`` checks it).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from scinas.serve.runs import RunReader, read_curve

__all__ = ["fitted_curve"]


def fitted_curve(reader: RunReader, trial_id: int) -> dict[str, Any]:
    """``{"epoch": [...], "value": [...]}`` of the trial's last fitted curve over its budget (empty lists
    when the trial has no fit)."""
    curve = read_curve(reader.run_dir, trial_id)
    monitor, family_name, parameters = curve["monitor"], curve["curve"], curve["curve_parameters"]
    empty: dict[str, Any] = {"trial_id": trial_id, "monitor": monitor, "epoch": [], "value": []}
    if not (monitor and family_name and parameters):
        return empty
    from scinas.predictors.curve_families import CURVE_FAMILIES
    from scinas.predictors.learning_curve import ScoreSpace

    if family_name not in CURVE_FAMILIES:
        return empty
    settings = reader.settings()
    family = CURVE_FAMILIES.get(family_name)
    measured = [v for v in curve["metrics"].get(monitor, []) if v is not None]
    try:
        values = [float(parameters[name]) for name in family.parameters]
        space = ScoreSpace.resolve(settings.termination_scale, monitor, settings.monitor_maximized(monitor), measured)
    except (KeyError, TypeError, ValueError):
        return empty
    budget = max(settings.epochs, curve["epochs_completed"] or 0, len(curve["epoch"]), 1)
    epochs = np.linspace(1.0, float(budget), max(50, 4 * budget))
    with np.errstate(all="ignore"):
        scores = family(epochs, *values)
    points = [space.from_score(float(s)) for s in scores]
    return {
        **empty,
        "epoch": [round(float(e), 4) for e in epochs],
        "value": [v if math.isfinite(v) else None for v in points],
    }
