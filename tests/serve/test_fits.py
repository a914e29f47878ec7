"""The fitted learning curve the run page draws: its JSON, its units, and no TensorFlow to make it."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np

from scinas.testing.run_stores import build_run, stop_early
from tests.conftest import REPO
from tests.serve.conftest import Serve

RUN = "A/20261201-120000-0001"
BUDGET = 10  # the synthetic run's epoch budget ([A.training] epochs)


def _measured(epoch: int) -> float:
    """A validation accuracy that follows ``a - b * exp(-c * x)`` exactly."""
    return 0.9 - 0.5 * math.exp(-0.4 * epoch)


def _stopped_early(run_dir: Path, trial_id: int, stop: int) -> None:
    stop_early(run_dir, trial_id, [_measured(epoch) for epoch in range(1, stop + 1)], BUDGET)


def test_a_trial_stopped_early_has_its_fitted_curve_and_stop_epoch(serve: Serve, tmp_path: Path) -> None:
    run_dir = build_run(tmp_path / "results", trials=3, epochs=BUDGET)
    _stopped_early(run_dir, 2, stop=6)
    client = serve(tmp_path / "results")
    curve = client.get(f"/api/runs/{RUN}/trials/2/curve").json()
    assert (curve["monitor"], curve["curve"], curve["converged_epoch"]) == ("val_accuracy", "exponential", 6)
    assert curve["epoch"] == [1, 2, 3, 4, 5, 6]
    fit = client.get(f"/api/runs/{RUN}/trials/2/fit").json()
    assert fit["monitor"] == "val_accuracy"
    epochs, values = np.array(fit["epoch"]), np.array(fit["value"], dtype=float)
    # over the whole budget, not only the epochs trained, and in the metric's units (a fraction)
    assert epochs[0] == 1 and epochs[-1] == BUDGET and np.all(np.diff(epochs) > 0) and len(epochs) >= 50
    assert np.all(np.isfinite(values)) and np.all((values > 0) & (values < 1))
    np.testing.assert_allclose(values, [_measured(e) for e in epochs], atol=2e-3)
    # a trial without a fit: empty series, and the page draws none
    other = client.get(f"/api/runs/{RUN}/trials/1/fit").json()
    assert other["epoch"] == [] and other["value"] == []
    assert client.get(f"/api/runs/{RUN}/trials/99/fit").status == 404


def test_drawing_a_fitted_curve_imports_neither_tensorflow_nor_the_fitting_code(tmp_path: Path) -> None:
    run_dir = build_run(tmp_path / "results", trials=3, epochs=BUDGET)
    _stopped_early(run_dir, 2, stop=6)
    script = f"""
import json, sys
from pathlib import Path
from scinas.serve.fits import fitted_curve
from scinas.serve.runs import RunReader
fit = fitted_curve(RunReader(Path({str(run_dir)!r})), 2)
heavy = sorted(name for name in ("tensorflow", "keras", "sklearn", "scipy.optimize", "scipy.stats")
               if name in sys.modules)
print(json.dumps({{"points": len(fit["value"]), "heavy": heavy}}))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"}, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer == {"points": answer["points"], "heavy": []} and answer["points"] >= 50
