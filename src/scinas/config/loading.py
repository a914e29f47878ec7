"""Reading ``configurations.toml`` and ``data.toml``: syntax errors, overrides and ``extends``.

The result is a :class:`RawConfig`: plain TOML tables, with command-line overrides applied and
every experiment's ``extends`` chain merged.  Typed validation happens in
:mod:`scinas.config.experiment` (and, for generator parameters, in the data layer).

Example::

    raw = load_config(Path("config"), overrides=["E.training.epochs=2"])
    table = raw.experiment_table("E")      # resolved, ``extends`` merged
"""

from __future__ import annotations

import copy
import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scinas.config.reader import suggest
from scinas.config.syntax import last_content_line, unclosed_construct
from scinas.errors import ConfigError

__all__ = [
    "DATA_FILE",
    "EXPERIMENTS_FILE",
    "RawConfig",
    "check_name",
    "deep_merge",
    "display_path",
    "load_config",
    "load_toml",
    "parse_override",
]

EXPERIMENTS_FILE = "configurations.toml"
DATA_FILE = "data.toml"
_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_LINE_COL = re.compile(r"\(at line (\d+), column (\d+)\)")
#: Experiment and dataset names become folder names (``results/<experiment>/``, the dataset cache).
_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")


def display_path(path: Path) -> str:
    """A short name for messages: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load_toml(path: Path) -> dict[str, Any]:
    """Parse one TOML file; a syntax error becomes a ConfigError with line and column."""
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"file not found: {shown}",
                          fix="pass --config-dir pointing at a folder with configurations.toml "
                              "and data.toml") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {shown}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{shown} is not UTF-8 text", fix="save the file as UTF-8") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _LINE_COL.search(message)
        detail = _LINE_COL.sub("", message).strip()
        if match:
            line, col = int(match.group(1)), int(match.group(2))
            lines = text.splitlines()
            snippet = lines[line - 1].strip() if 0 < line <= len(lines) else ""
            raise ConfigError(f"TOML syntax error at line {line}, column {col}: {detail}"
                              + (f" in `{snippet}`" if snippet else ""), file=shown,
                              fix="correct the TOML syntax at that position") from None
        raise _end_of_document_error(text, detail, shown) from None


def _end_of_document_error(text: str, detail: str, shown: str) -> ConfigError:
    """An error found at the end of the file: name the line where the unclosed construct starts."""
    detail = detail.replace("(at end of document)", "").strip()
    unclosed = unclosed_construct(text)
    if unclosed is not None:
        snippet = text.splitlines()[unclosed.line - 1].strip()
        closer = {"array": "]", "inline table": "}", "table header": "]"}.get(
            unclosed.kind, 'the quotes that opened it (""" or \'\'\')')
        return ConfigError(f"TOML syntax error at line {unclosed.line}, column {unclosed.column}: the "
                           f"{unclosed.kind} opened there is never closed ({detail} at the end of the file), "
                           f"in `{snippet}`", file=shown, fix=f"close it with {closer}")
    last = last_content_line(text)
    if last is None:
        return ConfigError(f"TOML syntax error at the end of the file: {detail}", file=shown)
    return ConfigError(f"TOML syntax error at line {last[0]} (the end of the file): {detail} in `{last[1]}`",
                       file=shown, fix="complete or remove that last line")


def check_name(name: str, kind: str, file: str) -> None:
    """Refuse an experiment or dataset ``name`` that is not a safe folder name.

    Letters, digits, ``_``, ``.`` and ``-``, not starting with a dot: nothing that climbs out of
    the results folder (``..``), hides (``.name``), or means something to a shell or a file system.
    """
    if _NAME.fullmatch(name):
        return
    header = name if _KEY.match(name) else json.dumps(name)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).lstrip(".") or kind
    raise ConfigError(f"table [{header}]: {kind} names become folder names: expected letters, digits, '_', '.' "
                      "and '-', not starting with a dot", file=file,
                      fix=f"rename the table, e.g. [{safe if _KEY.match(safe) else json.dumps(safe)}]")


def parse_override(text: str) -> tuple[list[str], Any]:
    """``E.training.epochs=2`` → (["E", "training", "epochs"], 2).

    The value is read as a TOML value (numbers, booleans, strings, arrays, inline tables); a
    bare word that is not valid TOML is taken as a string, so ``E.dataset.training=dtest`` works.
    """
    key, sep, value_text = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"malformed override {text!r}", file="command line",
                          fix="write KEY=VALUE, e.g. E.training.epochs=2")
    parts = key.split(".")
    if len(parts) < 2 or not all(_KEY.match(p) for p in parts):
        raise ConfigError(f"malformed override key {key!r}", file="command line",
                          fix="use a dotted TOML path such as E.training.epochs=2")
    value_text = value_text.strip()
    try:
        value = tomllib.loads(f"v = {value_text}")["v"]
    except tomllib.TOMLDecodeError:
        if not value_text or any(c in value_text for c in "[]{}\"'=,"):
            raise ConfigError(f"cannot read the value of override {text!r}", file="command line",
                              fix='quote strings, e.g. E.compile.loss="mse"') from None
        value = value_text
    return parts, value


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Tables merge key by key; any other value (arrays included) is replaced."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


@dataclass
class RawConfig:
    """Both configuration files, parsed, with overrides applied (``extends`` still unresolved)."""

    experiments: dict[str, dict[str, Any]]
    datasets: dict[str, dict[str, Any]]
    default: tuple[str, ...] | None
    experiments_file: str
    data_file: str
    overridden: set[str] = field(default_factory=set)

    def experiment_names(self) -> list[str]:
        return list(self.experiments)

    def experiment_table(self, name: str) -> dict[str, Any]:
        """The experiment's table with its ``extends`` chain merged (``extends`` removed)."""
        if name not in self.experiments:
            raise ConfigError(f"unknown experiment {name!r}", file=self.experiments_file,
                              fix=suggest(name, self.experiments))
        chain: list[str] = []
        current: str | None = name
        while current is not None:
            if current in chain:
                cycle = " -> ".join([*chain, current])
                raise ConfigError(f"`extends` forms a cycle: {cycle}", file=self.experiments_file,
                                  path=f"{chain[-1]}.extends", value=current,
                                  fix="make the chain end at an experiment without `extends`")
            chain.append(current)
            parent = self.experiments[current].get("extends")
            if parent is not None and not isinstance(parent, str):
                raise ConfigError("expected the name of another experiment", file=self.experiments_file,
                                  path=f"{current}.extends", value=parent)
            if parent is not None and parent not in self.experiments:
                raise ConfigError("`extends` names an experiment that does not exist",
                                  file=self.experiments_file, path=f"{current}.extends", value=parent,
                                  fix=suggest(parent, [n for n in self.experiments if n != current]))
            current = parent
        merged: dict[str, Any] = {}
        for member in reversed(chain):
            table = {k: v for k, v in self.experiments[member].items() if k != "extends"}
            merged = deep_merge(merged, table)
        # descriptions are not inherited implicitly: a child without one says what it extends
        if "description" not in self.experiments[name] and len(chain) > 1:
            parent_description = merged.get("description")
            merged["description"] = f"{name}: variant of {chain[1]}" + (
                f" ({parent_description})" if parent_description else "")
        return merged

    def file_for(self, path: str, default_file: str) -> str:
        """Which source to blame for a TOML path: the command line when it was overridden."""
        for overridden in self.overridden:
            if path == overridden or path.startswith(overridden + "."):
                return f"command line override {overridden}"
        return default_file


def _set_path(root: dict[str, Any], parts: Sequence[str], value: Any, file: str) -> None:
    node = root
    for depth, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"cannot override inside {'.'.join(parts[: depth + 1])!r}: it is not a table",
                              file=file, fix="override the value itself")
        node = child
    node[parts[-1]] = value


def load_config(config_dir: Path, overrides: Sequence[str] = ()) -> RawConfig:
    """Load ``configurations.toml`` and ``data.toml`` from ``config_dir`` and apply overrides.

    An override's first key names an experiment or a dataset (``dtest.shape.n_samples=100``);
    a name defined in both files must be prefixed with ``data.`` for the dataset.
    """
    if not config_dir.is_dir():
        raise ConfigError(f"configuration folder not found: {display_path(config_dir)}",
                          fix="pass --config-dir DIR (the folder holding configurations.toml and data.toml)")
    experiments_path = config_dir / EXPERIMENTS_FILE
    data_path = config_dir / DATA_FILE
    experiments_file = display_path(experiments_path)
    data_file = display_path(data_path)
    experiments_doc = load_toml(experiments_path)
    data_doc = load_toml(data_path)

    default: tuple[str, ...] | None = None
    experiments: dict[str, dict[str, Any]] = {}
    for key, value in experiments_doc.items():
        if key == "default":
            if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                raise ConfigError("expected an array of experiment names", file=experiments_file,
                                  path="default", value=value, fix='write default = ["E"]')
            default = tuple(value)
        elif isinstance(value, dict):
            check_name(key, "experiment", experiments_file)
            experiments[key] = value
        else:
            raise ConfigError("top-level keys are experiment tables (or `default`)", file=experiments_file,
                              path=key, value=value, fix=f"write it as a table: [{key}]")
    datasets: dict[str, dict[str, Any]] = {}
    for key, value in data_doc.items():
        if not isinstance(value, dict):
            raise ConfigError("top-level keys of data.toml are dataset tables", file=data_file,
                              path=key, value=value, fix=f"write it as a table: [{key}]")
        check_name(key, "dataset", data_file)
        datasets[key] = value
    if default is not None:
        for position, name in enumerate(default):
            if name not in experiments:
                raise ConfigError("`default` names an experiment that does not exist", file=experiments_file,
                                  path=f"default[{position}]", value=name, fix=suggest(name, experiments))

    raw = RawConfig(experiments, datasets, default, experiments_file, data_file)
    for text in overrides:
        parts, value = parse_override(text)
        head = parts[0]
        if head == "data" and len(parts) > 2 and parts[1] in datasets:
            _set_path(datasets, parts[1:], value, "command line")
            raw.overridden.add(".".join(parts[1:]))
            continue
        in_experiments, in_data = head in experiments, head in datasets
        if in_experiments and in_data:
            raise ConfigError(f"override {text!r} is ambiguous: {head!r} is both an experiment and a dataset",
                              file="command line", fix=f"write data.{text} for the dataset")
        if not (in_experiments or in_data):
            raise ConfigError(f"override {text!r} names no experiment or dataset", file="command line",
                              fix=suggest(head, [*experiments, *datasets]))
        _set_path(experiments if in_experiments else datasets, parts, value, "command line")
        raw.overridden.add(".".join(parts))
    return raw

