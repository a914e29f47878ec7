"""Exporting models (Keras and ONNX, with a parity check) and predicting on new data.

- :mod:`scinas.export.onnx`: :func:`export_onnx`, :func:`check_onnx_parity` (tf2onnx and onnxruntime,
  imported lazily).
- :mod:`scinas.export.best_model`: :func:`write_best_model`, a run's ``best_model/`` folder.
- :mod:`scinas.export.predict`: :func:`run_prediction`, behind ``scinas predict``.

Example::

    from scinas.export import run_prediction
    report = run_prediction(Path("results/E/<run>/best_model"), "test_data.npz")
"""

from __future__ import annotations

from scinas.export.best_model import BestModelReport, write_best_model
from scinas.export.onnx import (
    ONNX_INSTALL_HINT,
    OnnxExportError,
    OnnxParityError,
    OnnxRunner,
    OnnxUnavailable,
    ParityReport,
    check_onnx_parity,
    export_onnx,
)
from scinas.export.predict import PredictionReport, load_prediction_model, run_prediction

__all__ = [
    "ONNX_INSTALL_HINT",
    "BestModelReport",
    "OnnxExportError",
    "OnnxParityError",
    "OnnxRunner",
    "OnnxUnavailable",
    "ParityReport",
    "PredictionReport",
    "check_onnx_parity",
    "export_onnx",
    "load_prediction_model",
    "run_prediction",
    "write_best_model",
]
