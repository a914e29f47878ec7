"""Recorded learning curves: the file format, a validating loader and a writer.

A recording is one JSON object, written by ``benchmarks/record_curves.py`` and replayed by
``benchmarks/stopper_replay.py``::

    {"format": "scinas-curves/1", "dataset": "digits", "seed": 0, "monitor": "val_accuracy",
     "budget_epochs": 25, "settings": {...}, "machine": {...},
     "curves": [{"architecture": "...", "params": 1234,
                 "values": [25 numbers], "epoch_time_s": [25 numbers], "val_loss": [25 numbers]}, ...]}

``curves`` are in the order the cells were trained (a replay feeds them to a stopper in that
order, as a study would see its trials).  Every curve holds exactly ``budget_epochs`` finite
numbers in ``values`` and ``epoch_time_s``: a shorter list, a ``null`` (a missing epoch) or a
non-number is an error naming the file and the place (``curves[3].values[12]``), never a silent
truncation.  ``_`` in the name keeps ``make bench`` from running this file.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["FORMAT", "Curve", "Recording", "RecordingError", "load_recording", "write_recording"]

FORMAT = "scinas-curves/1"


class RecordingError(ValueError):
    """A recording file that cannot be replayed; the message names the file and the place."""


@dataclass(frozen=True)
class Curve:
    """One trained cell: its monitored values and epoch times, one per epoch of the budget."""

    architecture: str
    params: int
    values: tuple[float, ...]
    epoch_time_s: tuple[float, ...]
    val_loss: tuple[float, ...] = ()


@dataclass(frozen=True)
class Recording:
    """A validated recording (see the module docstring)."""

    name: str
    dataset: str
    seed: int
    monitor: str
    budget_epochs: int
    curves: tuple[Curve, ...]
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def finals(self) -> list[float]:
        return [curve.values[-1] for curve in self.curves]


def _numbers(raw: Any, length: int, where: str) -> tuple[float, ...]:
    if not isinstance(raw, list):
        raise RecordingError(f"{where}: expected a list of {length} numbers, got {type(raw).__name__}")
    if len(raw) != length:
        raise RecordingError(f"{where}: {len(raw)} epochs, but the recording's budget is {length} "
                             "(every curve must hold every epoch of the budget)")
    values: list[float] = []
    for index, value in enumerate(raw):
        if value is None:
            raise RecordingError(f"{where}[{index}]: epoch {index + 1} is missing (null)")
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise RecordingError(f"{where}[{index}]: epoch {index + 1} is {value!r}, not a finite number")
        values.append(float(value))
    return tuple(values)


def _field(data: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in data:
        raise RecordingError(f"{where}: missing {key!r}")
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, kind):
        raise RecordingError(f"{where}.{key}: expected {getattr(kind, '__name__', kind)}, got {value!r}")
    return value


def parse_recording(data: Any, name: str) -> Recording:
    """A :class:`Recording` from parsed JSON ``data`` (``name`` is used in the messages)."""
    if not isinstance(data, dict):
        raise RecordingError(f"{name}: expected a JSON object, got {type(data).__name__}")
    if data.get("format") != FORMAT:
        raise RecordingError(f"{name}: format {data.get('format')!r} is not {FORMAT!r}")
    budget = _field(data, "budget_epochs", int, name)
    if budget < 2:
        raise RecordingError(f"{name}.budget_epochs: expected at least 2 epochs, got {budget}")
    raw_curves = _field(data, "curves", list, name)
    if len(raw_curves) < 2:
        raise RecordingError(f"{name}.curves: a replay needs at least 2 curves, got {len(raw_curves)}")
    curves: list[Curve] = []
    for index, raw in enumerate(raw_curves):
        where = f"{name}: curves[{index}]"
        if not isinstance(raw, dict):
            raise RecordingError(f"{where}: expected an object")
        loss = raw.get("val_loss")
        curves.append(Curve(
            architecture=str(_field(raw, "architecture", str, where)),
            params=int(_field(raw, "params", int, where)),
            values=_numbers(raw.get("values"), budget, f"{where}.values"),
            epoch_time_s=_numbers(raw.get("epoch_time_s"), budget, f"{where}.epoch_time_s"),
            val_loss=() if loss is None else _numbers(loss, budget, f"{where}.val_loss")))
    return Recording(name=name, dataset=str(_field(data, "dataset", str, name)),
                     seed=int(_field(data, "seed", int, name)), monitor=str(_field(data, "monitor", str, name)),
                     budget_epochs=budget, curves=tuple(curves), settings=dict(data.get("settings") or {}))


def load_recording(path: Path) -> Recording:
    """Read and validate ``path`` (:class:`RecordingError` on anything a replay cannot use)."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise RecordingError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecordingError(f"{path}: not JSON: {exc}") from None
    return parse_recording(data, path.stem)


def write_recording(path: Path, *, dataset: str, seed: int, monitor: str, budget_epochs: int,
                    curves: list[dict[str, Any]], settings: dict[str, Any], machine: dict[str, Any]) -> None:
    """Write a recording (values to 5 significant digits, times to the millisecond) and check it loads."""
    rows = [{"architecture": c["architecture"], "params": int(c["params"]),
             "values": [float(f"{v:.5g}") for v in c["values"]],
             "epoch_time_s": [round(float(t), 3) for t in c["epoch_time_s"]],
             "val_loss": [float(f"{v:.5g}") for v in c["val_loss"]]} for c in curves]
    data = {"format": FORMAT, "dataset": dataset, "seed": seed, "monitor": monitor, "budget_epochs": budget_epochs,
            "settings": settings, "machine": machine, "curves": rows}
    parse_recording(data, path.stem)  # never write what the loader would refuse
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + "\n")
