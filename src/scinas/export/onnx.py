"""ONNX export of Keras models and the parity check that proves the export computes the same thing.

tf2onnx's Keras entry point predates Keras 3, so :func:`export_onnx` takes the robust route: it
traces the model into a ``tf.function`` with a fixed-rank input signature (batch dimension
``None``), freezes the variables into constants (keeping ``While`` loops intact, which the
recurrent operators need), and converts that graph.  The ONNX graph has one input named
``input`` and outputs named ``output`` (``output_0``, ``output_1``, ... for several).

:func:`check_onnx_parity` runs the file with onnxruntime on the CPU and compares it with
``model.predict`` on the same inputs.  A mismatch raises :class:`OnnxParityError` (carrying the
:class:`ParityReport`) unless ``strict=False``, so a wrong export is never a silent pass.

Both packages are dependencies of scinas, imported only when needed (Keras starts faster without
them); an environment without them gets the hint ``pip install 'scinas[onnx]'``.

Example::

    from scinas.export.onnx import check_onnx_parity, export_onnx
    path = export_onnx(model, Path("best_model/model.onnx"))
    report = check_onnx_parity(model, path, x_test[:64])
    report.max_abs_error        # e.g. 2.4e-07
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from scinas.atomic import write_bytes_atomic
from scinas.errors import ConfigError, ScinasError

__all__ = [
    "ONNX_INSTALL_HINT",
    "OnnxExportError",
    "OnnxParityError",
    "OnnxRunner",
    "OnnxUnavailable",
    "ParityReport",
    "check_onnx_parity",
    "export_onnx",
]

logger = logging.getLogger(__name__)

ONNX_INSTALL_HINT = "pip install 'scinas[onnx]'"
"""How to install the optional ONNX packages (tf2onnx and onnxruntime)."""

_CONVERSION_ERRORS = (ValueError, TypeError, KeyError, RuntimeError, NotImplementedError, AttributeError)


class OnnxUnavailable(ConfigError):
    """tf2onnx or onnxruntime is not installed (a setup problem: exit code 2 on the command line)."""

    def __init__(self, package: str, purpose: str) -> None:
        super().__init__(f"{purpose} needs the optional package {package!r}, which is not installed",
                         fix=ONNX_INSTALL_HINT)


class OnnxExportError(ScinasError):
    """tf2onnx could not convert a model (an operation without ONNX equivalent, ...)."""


@dataclass(frozen=True)
class ParityReport:
    """How closely an ONNX file reproduces its Keras model on ``n`` samples.

    ``passed`` follows ``numpy.allclose``: every ``|onnx - keras| <= atol + rtol * |keras|``.
    ``max_rel_error`` divides by ``max(|keras|, 1e-12)``.
    """

    max_abs_error: float
    max_rel_error: float
    passed: bool
    n: int
    rtol: float
    atol: float

    def to_json(self) -> dict[str, Any]:
        return {"max_abs_error": self.max_abs_error, "max_rel_error": self.max_rel_error, "passed": self.passed,
                "n": self.n, "rtol": self.rtol, "atol": self.atol}


class OnnxParityError(ScinasError):
    """The ONNX export does not reproduce the Keras model; ``report`` says by how much."""

    def __init__(self, report: ParityReport, path: Path) -> None:
        self.report = report
        super().__init__(f"{path}: the ONNX model differs from the Keras model on {report.n} samples "
                         f"(max abs error {report.max_abs_error:.3g}, max rel error {report.max_rel_error:.3g}; "
                         f"allowed atol={report.atol:g} + rtol={report.rtol:g} * |value|)")


@contextlib.contextmanager
def _quiet(*names: str) -> Iterator[None]:
    """Silence chatty converter loggers below ERROR for the duration of the block."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [item.level for item in loggers]
    for item in loggers:
        item.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for item, level in zip(loggers, levels, strict=True):
            item.setLevel(level)


def _single_input_shape(model: keras.Model) -> tuple[tuple[int | None, ...], str]:
    inputs = model.inputs
    if inputs is None or len(inputs) != 1:
        count = 0 if inputs is None else len(inputs)
        raise OnnxExportError(f"model {model.name!r} has {count} inputs; ONNX export supports models with "
                              "exactly one input (build the model with keras.Input first)")
    tensor = inputs[0]
    return tuple(tensor.shape), str(tensor.dtype)


def export_onnx(model: keras.Model, path: Path, *, opset: int = 17) -> Path:
    """Convert ``model`` to an ONNX file at ``path`` (written atomically) and return ``path``.

    The batch dimension stays dynamic; the others are fixed to the model's input shape.  Raises
    :class:`OnnxUnavailable` without tf2onnx, :class:`OnnxExportError` when conversion fails.
    """
    try:
        import tf2onnx
    except ImportError as exc:
        raise OnnxUnavailable("tf2onnx", "ONNX export") from exc
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    shape, dtype = _single_input_shape(model)
    spec = tf.TensorSpec((None, *shape[1:]), tf.as_dtype(dtype), name="input")
    function = tf.function(lambda x: model(x, training=False))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with _quiet("tensorflow", "tf2onnx"):
            concrete = function.get_concrete_function(spec)
            # keep While loops (LSTM/GRU) as loops: tf2onnx turns them into ONNX Loop nodes
            frozen = convert_variables_to_constants_v2(concrete, lower_control_flow=False,
                                                       aggressive_inlining=True)
            graph_def = frozen.graph.as_graph_def()
            proto, _ = tf2onnx.convert.from_graph_def(
                graph_def, name=model.name, input_names=[t.name for t in frozen.inputs],
                output_names=[t.name for t in frozen.outputs], opset=opset)
        _rename_io(proto)
    except _CONVERSION_ERRORS as exc:
        raise OnnxExportError(f"model {model.name!r} could not be converted to ONNX (opset {opset}): "
                              f"{type(exc).__name__}: {exc}") from exc
    write_bytes_atomic(path, proto.SerializeToString())
    logger.info("exported %s to %s", model.name, path)
    return path


def _rename_io(proto: Any) -> None:
    """Give the graph's input and outputs stable names (``input``, ``output`` / ``output_<i>``)."""
    graph = proto.graph
    outputs = list(graph.output)
    renames = {graph.input[0].name: "input"} if len(graph.input) == 1 else {}
    renames.update({o.name: "output" if len(outputs) == 1 else f"output_{i}" for i, o in enumerate(outputs)})
    for value in [*graph.input, *graph.output]:
        value.name = renames.get(value.name, value.name)
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in renames:
                node.input[i] = renames[name]
        for i, name in enumerate(node.output):
            if name in renames:
                node.output[i] = renames[name]


def _runtime_errors() -> tuple[type[Exception], ...]:
    """onnxruntime's own exception classes (they derive from Exception directly)."""
    try:
        from onnxruntime.capi import onnxruntime_pybind11_state as state
    except ImportError:
        return ()
    names = ("Fail", "InvalidArgument", "InvalidGraph", "InvalidProtobuf", "NoSuchFile", "NoModel",
             "NotImplemented", "RuntimeException", "EngineError")
    found = (getattr(state, name, None) for name in names)
    return tuple(c for c in found if isinstance(c, type) and issubclass(c, Exception))


class OnnxRunner:
    """An ONNX file loaded into an onnxruntime CPU session.

    ``input_shape`` is the sample shape (without the batch dimension; ``None`` where dynamic);
    :meth:`predict` runs batches and returns the outputs as NumPy arrays.
    """

    def __init__(self, session: Any, path: Path) -> None:
        self.session = session
        self.path = path
        model_input = session.get_inputs()[0]
        self.input_name: str = model_input.name
        self.input_shape: tuple[int | None, ...] = tuple(d if isinstance(d, int) else None
                                                         for d in model_input.shape[1:])
        self.output_names: list[str] = [o.name for o in session.get_outputs()]

    @classmethod
    def load(cls, path: Path) -> OnnxRunner:
        """Open ``path``; ConfigError when it is missing or not a loadable ONNX model."""
        try:
            import onnxruntime
        except ImportError as exc:
            raise OnnxUnavailable("onnxruntime", "running an ONNX model") from exc
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"ONNX model {str(path)!r} does not exist", fix="give the path of a .onnx file")
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        errors: tuple[type[Exception], ...] = (RuntimeError, ValueError, OSError, *_runtime_errors())
        try:
            session = onnxruntime.InferenceSession(str(path), sess_options=options,
                                                   providers=["CPUExecutionProvider"])
        except errors as exc:
            raise ConfigError(f"{path} is not a readable ONNX model: {exc}",
                              fix="re-export it (scinas writes best_model/model.onnx) or give the .keras file") from exc
        if len(session.get_inputs()) != 1:
            raise ConfigError(f"{path} has {len(session.get_inputs())} inputs; scinas runs models with one input")
        return cls(session, path)

    def predict_all(self, inputs: np.ndarray, *, batch_size: int = 256) -> list[np.ndarray]:
        """Every output of the model on ``inputs``, computed ``batch_size`` samples at a time."""
        x = np.asarray(inputs, dtype=np.float32)
        step = max(1, batch_size)
        parts = [self.session.run(None, {self.input_name: x[start:start + step]})
                 for start in range(0, max(len(x), 1), step)]
        return [np.concatenate([p[i] for p in parts]) for i in range(len(parts[0]))]

    def predict(self, inputs: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
        """The first (for scinas models: the only) output on ``inputs``."""
        return self.predict_all(inputs, batch_size=batch_size)[0]


def _flat(outputs: Any) -> list[np.ndarray]:
    if isinstance(outputs, dict):
        return [np.asarray(outputs[k]) for k in sorted(outputs)]
    if isinstance(outputs, Sequence) and not isinstance(outputs, np.ndarray):
        return [np.asarray(o) for o in outputs]
    return [np.asarray(outputs)]


def check_onnx_parity(model: keras.Model, onnx_path: Path, inputs: np.ndarray, *, rtol: float = 1e-4,
                      atol: float = 1e-4, strict: bool = True, batch_size: int = 256) -> ParityReport:
    """Compare ``model.predict(inputs)`` with the ONNX file run by onnxruntime (CPU).

    Returns the :class:`ParityReport`; when the outputs differ beyond the tolerances raises
    :class:`OnnxParityError` (``strict=True``, the default) or returns a report with
    ``passed = False`` for the caller to record.
    """
    x = np.asarray(inputs, dtype=np.float32)
    if x.ndim == 0 or len(x) == 0:
        raise ScinasError("check_onnx_parity needs at least one input sample")
    runner = OnnxRunner.load(Path(onnx_path))
    expected = _flat(model.predict(x, batch_size=batch_size, verbose=0))
    actual = runner.predict_all(x, batch_size=batch_size)
    if len(expected) != len(actual) or any(e.shape != a.shape for e, a in zip(expected, actual, strict=False)):
        raise OnnxParityError(ParityReport(float("inf"), float("inf"), False, len(x), rtol, atol), Path(onnx_path))
    max_abs = max_rel = 0.0
    passed = True
    for want, got in zip(expected, actual, strict=True):
        want64, got64 = want.astype(np.float64), got.astype(np.float64)
        error = np.abs(got64 - want64)
        both_nan = np.isnan(got64) & np.isnan(want64)
        error[both_nan] = 0.0
        error[np.isnan(error)] = np.inf  # NaN on one side only
        if error.size:
            max_abs = max(max_abs, float(np.max(error)))
            max_rel = max(max_rel, float(np.max(error / np.maximum(np.abs(want64), 1e-12))))
        passed = passed and bool(np.allclose(got64, want64, rtol=rtol, atol=atol, equal_nan=True))
    report = ParityReport(max_abs, max_rel, passed, len(x), rtol, atol)
    if not passed and strict:
        raise OnnxParityError(report, Path(onnx_path))
    return report
