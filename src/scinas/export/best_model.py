"""The ``best_model/`` folder of a run: the chosen model in Keras and ONNX form with its record.

:func:`write_best_model` writes::

    best_model/
      model.keras     the inference model (raw inputs in, data-unit outputs out)
      model.onnx      the same model for onnxruntime (unless ``onnx=False``, e.g. ``[X.final] onnx = false``)
      parity.json     how closely model.onnx reproduces model.keras on sample inputs (with model.onnx)
      cell.png        the cell drawing (cell.dot beside it; PNG only when Graphviz is installed)
      summary.json    architecture, metrics, parameters, parity, list of files
      summary.txt     the Keras model summary

A missing optional extra or a failed conversion never fails the write: the ONNX entries record
``null`` and the reason, and a warning in the log says how to install the extra.  With
``onnx=False`` no conversion is attempted: ``summary.json`` records ``"onnx": null`` and
``"onnx_problem": null``, and an earlier ``model.onnx``/``parity.json`` in the folder is removed.

Example::

    report = write_best_model(model, run_dir / "best_model", architecture_text=arch.to_text(),
                              sample_inputs=x_test[:64], summary={"task": "regression",
                              "metrics": {"test_loss": 0.12}}, cell=arch.cell)
    report.parity.passed if report.parity else "no onnx"
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

from scinas.atomic import write_text_atomic
from scinas.export.onnx import (
    ONNX_INSTALL_HINT,
    OnnxExportError,
    OnnxParityError,
    OnnxUnavailable,
    ParityReport,
    check_onnx_parity,
    export_onnx,
)
from scinas.search_space.cell import Cell
from scinas.store.layout import BestModelLayout

__all__ = ["BestModelReport", "json_ready", "write_best_model"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BestModelReport:
    """What :func:`write_best_model` wrote: ``files`` by role, the parity check, the ONNX problem."""

    directory: Path
    files: dict[str, Path] = field(default_factory=dict)
    parity: ParityReport | None = None
    onnx_error: str | None = None

    @property
    def onnx_ok(self) -> bool:
        """True when model.onnx exists and reproduces model.keras within the tolerances."""
        return self.parity is not None and self.parity.passed


def json_ready(value: Any) -> Any:
    """``value`` with NumPy scalars/arrays, paths and non-finite floats made JSON-safe (NaN → null)."""
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_ready(value.tolist())
    if isinstance(value, np.generic):
        return json_ready(value.item())
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    return value


def _write_text(path: Path, text: str) -> None:
    write_text_atomic(path, text)


def _keras_summary(model: keras.Model) -> str:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        model.summary(print_fn=lambda line, *_, **__: buffer.write(line + "\n"))
    return buffer.getvalue()


def _onnx(model: keras.Model, directory: Path, sample_inputs: np.ndarray,
          files: dict[str, Path]) -> tuple[ParityReport | None, str | None, dict[str, Any]]:
    """Export and check; returns (parity, problem, parity.json content). Never raises for ONNX trouble."""
    path = BestModelLayout(directory).onnx
    path.unlink(missing_ok=True)  # a stale export from an earlier write must not survive a failed one
    try:
        export_onnx(model, path)
    except OnnxUnavailable as exc:
        logger.warning("best model: no ONNX export, the optional packages are missing (%s)", ONNX_INSTALL_HINT)
        return None, str(exc), {"checked": False, "reason": str(exc)}
    except OnnxExportError as exc:
        logger.warning("best model: ONNX export failed: %s", exc)
        return None, str(exc), {"checked": False, "reason": str(exc)}
    files["onnx"] = path
    try:
        report = check_onnx_parity(model, path, sample_inputs, strict=False)
    except OnnxUnavailable as exc:
        logger.warning("best model: model.onnx written but not checked (%s)", ONNX_INSTALL_HINT)
        return None, str(exc), {"checked": False, "reason": str(exc)}
    except OnnxParityError as exc:  # the outputs do not even have the same shapes
        logger.error("best model: %s", exc)
        return exc.report, str(exc), {"checked": True, **exc.report.to_json(), "reason": str(exc)}
    if not report.passed:
        problem = (f"model.onnx differs from model.keras: max abs error {report.max_abs_error:.3g}, "
                   f"max rel error {report.max_rel_error:.3g}")
        logger.error("best model: %s", problem)
        return report, problem, {"checked": True, **report.to_json(), "reason": problem}
    logger.info("best model: ONNX parity ok (max abs error %.3g on %d samples)", report.max_abs_error, report.n)
    return report, None, {"checked": True, **report.to_json()}


def _draw_cell(cell: Cell, directory: Path, files: dict[str, Path]) -> None:
    from scinas.models.plot import plot_cell

    try:
        drawn = plot_cell(cell, BestModelLayout(directory).cell_plot)
    except (OSError, ValueError, RuntimeError, subprocess.SubprocessError) as exc:
        logger.warning("best model: the cell could not be drawn: %s", exc)
        return
    if BestModelLayout(directory).cell_dot.exists():
        files["cell_dot"] = BestModelLayout(directory).cell_dot
    if drawn is not None:
        files["cell_png"] = drawn


def write_best_model(model: keras.Model, directory: Path, *, architecture_text: str, sample_inputs: np.ndarray,
                     summary: Mapping[str, Any], cell: Cell | None = None, onnx: bool = True) -> BestModelReport:
    """Write ``model`` and its record into ``directory`` (see the module docstring).

    ``sample_inputs`` are raw inputs (what the model takes) used for the ONNX parity check;
    ``summary`` holds the caller's fields for summary.json (metrics, task, experiment, ...);
    ``onnx=False`` skips the ONNX export and its check.
    """
    from scinas.training.callbacks import atomic_save_model

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    layout = BestModelLayout(directory)
    files: dict[str, Path] = {"keras": layout.keras}
    atomic_save_model(model, files["keras"])
    parity: ParityReport | None = None
    problem: str | None = None
    if onnx:
        parity, problem, parity_json = _onnx(model, directory, np.asarray(sample_inputs), files)
        files["parity"] = layout.parity
        _write_text(files["parity"], json.dumps(json_ready(parity_json), indent=2, sort_keys=True) + "\n")
    else:  # an export left by an earlier write would not be this model
        layout.onnx.unlink(missing_ok=True)
        (layout.parity).unlink(missing_ok=True)
        logger.info("best model: no ONNX export (turned off)")
    if cell is not None:
        _draw_cell(cell, directory, files)
    files["summary_txt"] = layout.summary_txt
    _write_text(files["summary_txt"], _keras_summary(model))
    files["summary_json"] = layout.summary_json
    record: dict[str, Any] = {
        "architecture": architecture_text,
        "params": int(model.count_params()),
        "input_shape": list(model.inputs[0].shape[1:]) if model.inputs else None,
        **dict(summary),
        "onnx": "model.onnx" if "onnx" in files else None,
        "onnx_problem": problem,
        "parity": parity.to_json() if parity is not None else None,
        "files": sorted(path.name for path in files.values()),
    }
    _write_text(files["summary_json"], json.dumps(json_ready(record), indent=2, sort_keys=True) + "\n")
    return BestModelReport(directory, files, parity, problem)
