"""Typed schema of one experiment table of ``configurations.toml``.

Example (the seed project's form, accepted as written)::

    [E]
    description = "small CNN on Michaelis–Menten spectra"
    seed = 42
    [E.structure]
    layers = [
      { type = "Conv2D", filters = 32, kernel_size = [3, 1], activation = "relu" },
      { type = "Flatten" },
      { type = "Dense", units = 12 },
    ]
    [E.compile]
    optimizer = { name = "adam", learning_rate = 1e-3 }
    loss = "mean_squared_error"
    metrics = ["R_squared", "MeanAbsoluteError"]
    [E.dataset]
    training = "dtest"
    [E.training]
    epochs = 20
    save_interval = 5
    early_stopping = { monitor = "val_loss", patience = 5 }

Validation here is structural (types, ranges, known keys, the dataset exists).  Whether a layer
type or argument exists, and whether optimizer/loss/metric names are known, is checked against
Keras by :mod:`scinas.models` when the experiment is planned, still before anything runs.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scinas.config.execution import ExecutionConfig, parse_execution
from scinas.config.loading import RawConfig
from scinas.config.reader import Table, suggest
from scinas.config.search import (
    FinalConfig,
    SearchConfig,
    SelectionConfig,
    metric_direction,
    parse_final,
    parse_search,
    parse_selection,
)
from scinas.config.structure import LayersStructure, Structure, parse_search_structure, parse_structure
from scinas.config.tracking import TrackingConfig, parse_tracking
from scinas.errors import ConfigError
from scinas.search_space.layer_spec import LayerSpec
from scinas.search_space.macro import MacroConfig

__all__ = [
    "TERMINATION_KEYS",
    "CompileConfig",
    "CostConfig",
    "DatasetRef",
    "EarlyStoppingConfig",
    "EarlyTerminationConfig",
    "ExperimentConfig",
    "LayerSpec",
    "NamedSpec",
    "TrainingConfig",
    "dataset_of",
    "parse_experiment",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NamedSpec:
    """An optimizer, loss or metric: a name plus constructor arguments, and where it was written."""

    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    file: str = ""
    path: str = ""

    @classmethod
    def parse(cls, table: Table, key: str, default: Any) -> NamedSpec:
        value = table.any(key, default)
        return cls.from_value(value, table, key)

    @classmethod
    def from_value(cls, value: Any, table: Table, key: str) -> NamedSpec:
        path = table.key_path(key)
        if isinstance(value, str):
            return cls(value, {}, table.file, path)
        if isinstance(value, Mapping):
            name = value.get("name")
            if not isinstance(name, str):
                raise table.error(key, "a table form needs a string `name`",
                                  fix=f'write {key} = {{ name = "...", ... }}')
            arguments = {k: v for k, v in value.items() if k != "name"}
            return cls(name, arguments, table.file, path)
        raise table.error(key, "expected a name or a table { name = ..., <arguments> }")


@dataclass(frozen=True)
class DatasetRef:
    """``[X.dataset]``: which ``data.toml`` entry to train on."""

    training: str
    use_stats_of: int | None = None


@dataclass(frozen=True)
class EarlyStoppingConfig:
    monitor: str = "val_loss"
    patience: int = 10
    min_delta: float = 0.0
    mode: str = "auto"
    restore_best_weights: bool = True
    start_from_epoch: int = 0


#: The keys of ``[X.training.early_termination]`` read here (the others belong to the stopper class).
TERMINATION_KEYS = ("enabled", "stopper", "monitor", "mode", "scale", "curve", "min_epochs", "window", "tolerance",
                     "skip_lag", "fit_window")

#: Scales ``[X.training.early_termination] scale`` accepts (see scinas.predictors.learning_curve).
_TERMINATION_SCALES = ("auto", "fraction", "percent", "raw")


@dataclass(frozen=True)
class EarlyTerminationConfig:
    """``[X.training.early_termination]``: stop a trial once its learning curve's prediction settles.

    After each epoch from ``min_epochs`` on, the ``curve`` family is fitted to the history of
    ``monitor`` and evaluated at the last epoch of the budget; the trial stops when the last
    ``window`` predictions all succeeded and lie within ``tolerance`` (points of percent, or the
    metric's units on the ``raw`` scale) of their median.  The fit sees the curve's *tail*: with
    ``skip_lag`` it starts at the epoch that ended the steepest one-epoch rise (an S-shaped start
    is left out), and with ``fit_window`` > 0 it keeps at most that many of the latest epochs
    (``skip_lag = false`` and ``fit_window = 0`` fit the whole history, as the A4NN seed did).
    ``mode`` is ``"max"`` or ``"min"`` (resolved from the metric when written as ``"auto"``).
    ``stopper`` names the registered class that decides (``curve``: the rule above; ``pareto``:
    it plus Pareto dominance, see :mod:`scinas.stoppers`); ``options`` are that class's own keys
    of the table, kept raw and validated by the class when the experiment is planned.
    ``file``/``path`` locate the table for errors found later (unknown curve or stopper, a
    monitor training does not log).

    Example::

        [A.training.early_termination]
        monitor = "val_accuracy"      # default: the search's score on the validation split
        curve = "shifted_exponential" # a - b**(c - x); also exponential, power_law, logarithmic, weibull, mmf
        min_epochs = 4
        window = 3
        tolerance = 0.5
        skip_lag = true               # fit from the steepest rise on ...
        fit_window = 8                # ... and at most the last 8 epochs
    """

    monitor: str = "val_loss"  # the parser's default without a search (with one: the search's score)
    curve: str = "shifted_exponential"
    min_epochs: int = 4
    window: int = 3
    tolerance: float = 0.5
    mode: str = "auto"
    scale: str = "auto"
    skip_lag: bool = True
    fit_window: int = 8
    stopper: str = "curve"
    options: Mapping[str, Any] = field(default_factory=dict)
    file: str = ""
    path: str = ""

    @property
    def maximize(self) -> bool:
        """Whether larger values of ``monitor`` are better (``mode = "auto"`` asks the metric's name)."""
        if self.mode in ("max", "min"):
            return self.mode == "max"
        direction = metric_direction(self.monitor)
        if direction is None:
            raise ValueError(f"the direction of {self.monitor!r} is unknown; set mode to 'max' or 'min'")
        return direction


@dataclass(frozen=True)
class TrainingConfig:
    """``[X.training]``.

    ``precise_bn``: recompute the batch-normalisation statistics over the training split before
    each validation and before the model is saved (``"auto"``: when an epoch has few steps, see
    :mod:`scinas.training.precise_bn`); ``precise_bn_batches``: at most this many training
    batches per recomputation.
    """

    epochs: int = 10
    batch_size: int | None = None
    save_interval: int = 0
    early_stopping: EarlyStoppingConfig | None = None
    early_termination: EarlyTerminationConfig | None = None
    terminate_on_nan: bool = True
    tensorboard: bool = True
    precise_bn: bool | str = "auto"
    precise_bn_batches: int = 200


@dataclass(frozen=True)
class CostConfig:
    """``[X.costs]``: which cost measures are taken of each trained model, and how.

    ``latency_batch_size`` inputs per timed call; ``latency_warmup`` untimed calls first (tracing,
    allocation); the median of ``latency_repeats`` timed calls is recorded.

    Example::

        [A.costs]
        flops = true
        latency = true
        latency_batch_size = 1
    """

    flops: bool = True
    latency: bool = True
    latency_batch_size: int = 1
    latency_warmup: int = 3
    latency_repeats: int = 20

    @classmethod
    def parse(cls, table: Table) -> CostConfig:
        config = cls(
            flops=table.boolean("flops", True),
            latency=table.boolean("latency", True),
            latency_batch_size=table.integer("latency_batch_size", 1, minimum=1),
            latency_warmup=table.integer("latency_warmup", 3, minimum=0),
            latency_repeats=table.integer("latency_repeats", 20, minimum=1),
        )
        table.finish()
        return config


@dataclass(frozen=True)
class CompileConfig:
    """``[X.compile]``."""

    optimizer: NamedSpec
    loss: NamedSpec
    metrics: tuple[NamedSpec, ...]
    balance_class_losses: bool = False
    """Weigh each class's cross-entropy by 1 / (classes · its share of the training targets)."""


@dataclass(frozen=True)
class ExperimentConfig:
    """A fully validated experiment; ``table`` is its resolved TOML (written into the run folder)."""

    name: str
    description: str
    seed: int
    dataset: DatasetRef
    structure: Structure
    compile: CompileConfig
    training: TrainingConfig
    costs: CostConfig
    table: Mapping[str, Any]
    search: SearchConfig | None = None
    selection: SelectionConfig | None = None
    final: FinalConfig | None = None
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)

    @property
    def layers(self) -> tuple[LayerSpec, ...]:
        """The layer stack of a ``layers`` structure (empty for a cell structure)."""
        return self.structure.layers if isinstance(self.structure, LayersStructure) else ()


def _switch_or_table(table: Table, key: str) -> Table | None:
    """``key = false`` or absent → None; ``key = true`` → an empty table (the defaults); else the table."""
    if not table.has(key):
        table.any(key, None)
        return None
    value = table.raw[key]
    if isinstance(value, bool):
        table.any(key)
        return Table({}, file=table.file, path=table.key_path(key)) if value else None
    return table.table(key)


def _parse_early_stopping(table: Table) -> EarlyStoppingConfig | None:
    sub = _switch_or_table(table, "early_stopping")
    if sub is None:
        return None
    config = EarlyStoppingConfig(
        monitor=sub.string("monitor", "val_loss"),
        patience=sub.integer("patience", 10, minimum=0),
        min_delta=sub.number("min_delta", 0.0, minimum=0.0),
        mode=sub.string("mode", "auto", choices=("auto", "min", "max")),
        restore_best_weights=sub.boolean("restore_best_weights", True),
        start_from_epoch=sub.integer("start_from_epoch", 0, minimum=0),
    )
    sub.finish()
    return config


def _parse_early_termination(table: Table, epochs: int, search: SearchConfig | None) -> EarlyTerminationConfig | None:
    """``early_termination = true | false | { ... }`` or an ``[X.training.early_termination]`` table."""
    sub = _switch_or_table(table, "early_termination")
    if sub is None:
        return None
    enabled = sub.boolean("enabled", True)
    default = EarlyTerminationConfig()  # every default is declared once, on the dataclass
    monitor = sub.string("monitor", f"val_{search.score}" if search is not None else default.monitor)
    mode = sub.string("mode", default.mode, choices=("auto", "max", "min"))
    if mode == "auto":
        if search is not None and monitor in (search.score, f"val_{search.score}"):
            mode = "max" if search.maximize else "min"
        else:
            direction = metric_direction(monitor)
            if direction is None:
                raise sub.error("monitor", "the direction of this metric is unknown", value=monitor,
                                fix='add mode = "max" (larger is better) or mode = "min"')
            mode = "max" if direction else "min"
    config = EarlyTerminationConfig(
        monitor=monitor,
        curve=sub.string("curve", default.curve),
        min_epochs=sub.integer("min_epochs", default.min_epochs, minimum=1),
        window=sub.integer("window", default.window, minimum=2),
        tolerance=sub.number("tolerance", default.tolerance, minimum=0.0, exclusive_minimum=True),
        mode=mode,
        scale=sub.string("scale", default.scale, choices=_TERMINATION_SCALES),
        skip_lag=sub.boolean("skip_lag", default.skip_lag),
        fit_window=sub.integer("fit_window", default.fit_window, minimum=0),
        stopper=sub.string("stopper", default.stopper),
        options={key: value for key, value in sub.raw.items() if key not in TERMINATION_KEYS},
        file=sub.file, path=sub.path,
    )
    # the stopper's own keys are checked by its class when the experiment is planned
    sub.finish(allowed_extra=config.options)
    if not enabled:
        return None
    earliest = config.min_epochs + config.window - 1
    if earliest > epochs:
        logger.warning("%s: the earliest stop is epoch min_epochs + window - 1 = %d, after the last epoch (%d), "
                       "so early termination will never stop a trial", sub.path, earliest, epochs)
    return config


def _parse_training(table: Table, search: SearchConfig | None = None) -> TrainingConfig:
    epochs = table.integer("epochs", 10, minimum=1)
    config = TrainingConfig(
        epochs=epochs,
        batch_size=table.optional_integer("batch_size", minimum=1),
        save_interval=table.integer("save_interval", 0, minimum=0),
        early_stopping=_parse_early_stopping(table),
        early_termination=_parse_early_termination(table, epochs, search),
        terminate_on_nan=table.boolean("terminate_on_nan", True),
        tensorboard=table.boolean("tensorboard", True),
        precise_bn=_parse_precise_bn(table),
        precise_bn_batches=table.integer("precise_bn_batches", 200, minimum=1),
    )
    if config.save_interval > epochs:
        # Legitimate when epochs are lowered for a quick check (E.training.epochs=1): say so, go on.
        logger.warning("%s: save_interval = %d is above epochs = %d, so no periodic save will happen "
                       "(the final model is saved as always)", table.key_path("save_interval"),
                       config.save_interval, epochs)
    table.finish()
    return config


def _parse_precise_bn(table: Table) -> bool | str:
    """``precise_bn = "auto" | true | false``."""
    value = table.any("precise_bn", "auto")
    if isinstance(value, bool):
        return value
    if value == "auto":
        return "auto"
    raise table.error("precise_bn", 'expected "auto", true or false',
                      fix='write precise_bn = "auto" (on when an epoch has few steps), true or false')


def _check_precise_bn(top: Table, training: TrainingConfig, structure: Structure) -> None:
    """``precise_bn = true`` on a layer list without a BatchNormalization layer does nothing: say so."""
    if training.precise_bn is not True or not isinstance(structure, LayersStructure):
        return
    if not any(layer.type == "BatchNormalization" for layer in structure.layers):
        raise ConfigError("precise_bn = true, but the layer list has no BatchNormalization layer",
                          file=top.file, path=f"{top.key_path('training')}.precise_bn", value=True,
                          fix='add a { type = "BatchNormalization" } layer, or remove precise_bn '
                              '(or set it to "auto" or false)')


def _parse_compile(table: Table) -> CompileConfig:
    optimizer = NamedSpec.parse(table, "optimizer", "adam")
    loss = NamedSpec.parse(table, "loss", "auto")
    raw_metrics = table.array("metrics", [])
    metrics = tuple(NamedSpec.from_value(m, Table({"metrics": m}, file=table.file, path=table.path), "metrics")
                    for m in raw_metrics)
    metrics = tuple(NamedSpec(m.name, m.arguments, m.file, f"{m.path}[{i}]") for i, m in enumerate(metrics))
    balance = table.boolean("balance_class_losses", False)
    if balance and loss.name.replace("_", "").lower() != "auto":
        raise table.error("balance_class_losses", f"class weights apply to the automatic cross-entropy, not to the "
                          f"loss {loss.name!r}", value=True, fix='remove loss (it defaults to "auto") or '
                          "balance_class_losses")
    table.finish()
    return CompileConfig(optimizer, loss, metrics, balance)


def dataset_of(raw: RawConfig, name: str) -> str | None:
    """The dataset experiment ``name`` trains on, if its table names one (unvalidated)."""
    dataset = raw.experiment_table(name).get("dataset")
    training = dataset.get("training") if isinstance(dataset, Mapping) else None
    return training if isinstance(training, str) else None


def parse_experiment(raw: RawConfig, name: str, *, rank: int | None = None) -> ExperimentConfig:
    """Validate experiment ``name`` (with ``extends`` merged) into an :class:`ExperimentConfig`.

    ``rank`` is the number of spatial dimensions of the dataset's inputs (1 series, 2 images);
    with it, the operators of a cell structure are checked as well.
    """
    resolved = raw.experiment_table(name)
    top = Table(resolved, file=raw.experiments_file, path=name)
    try:
        description = top.string("description", "")
        seed = top.integer("seed", 0, minimum=0)

        dataset_table = top.table("dataset", required=True)
        training_name = dataset_table.string("training")
        if training_name not in raw.datasets:
            raise dataset_table.error(
                "training", f"no dataset of that name in {raw.data_file}",
                fix=suggest(training_name, raw.datasets))
        dataset = DatasetRef(training_name, dataset_table.optional_integer("use_stats_of", minimum=1))
        dataset_table.finish()

        search = selection = final = None
        if top.has("search"):
            search = parse_search(top)
            structure: Structure = parse_search_structure(top, rank=rank)
            selection = parse_selection(top, tuple(f.name for f in dataclasses.fields(MacroConfig)))
            final = parse_final(top)
        else:
            for key in ("selection", "final"):
                if top.has(key):
                    raise top.error(key, "only a search has a selection or final phase",
                                    fix=f"remove [{top.key_path(key)}], or add [{top.key_path('search')}]")
            structure = parse_structure(top, rank=rank)
        compile_config = _parse_compile(top.table("compile"))
        training = _parse_training(top.table("training"), search)
        costs = CostConfig.parse(top.table("costs"))
        execution = parse_execution(top)
        tracking = parse_tracking(top)
        if search is not None:
            _check_costs(top, search, costs)
        _check_precise_bn(top, training, structure)
        top.finish()
    except ConfigError as exc:
        source = raw.file_for(exc.path or "", raw.experiments_file)
        raise exc.relocated(source) if source != exc.file else exc from None
    return ExperimentConfig(name, description, seed, dataset, structure, compile_config, training, costs, resolved,
                            search, selection, final, execution, tracking)


def _check_costs(top: Table, search: SearchConfig, costs: CostConfig) -> None:
    """A cost objective needs its measure switched on in ``[X.costs]``."""
    for cost in ("flops", "latency"):
        if cost in search.costs and not getattr(costs, cost):
            raise ConfigError(f"the search minimises {cost}, but [{top.key_path('costs')}] {cost} = false",
                              file=top.file, path=f"{search.path}.costs", value=list(search.costs),
                              fix=f"set {cost} = true in [{top.key_path('costs')}] or drop {cost!r} from costs")
