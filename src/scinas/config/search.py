"""``[X.search]``, ``[X.selection]`` and ``[X.final]``: an architecture search and what follows it.

Example ``configurations.toml``::

    [A.search]
    strategy = "popnas"            # any registered strategy (docs/options.md lists them)
    score = "accuracy"             # a metric the trials record, read on the validation split
    direction = "max"              # optional for known metrics (accuracy, r_squared: max; loss, mae: min)
    costs = ["time"]               # any of "time", "params", "flops", "latency" (minimised)
    budget = 40                    # the most trials (optional for popnas/pnas: all steps run)
    # target = "accuracy * 100 / latency_ms"   # optional: rank by a formula over metrics and costs
    #                                            (maximised; docs/search.md, "Targets as formulas")
    max_children = 8               # every other key is an option of the chosen strategy
    max_exploration_children = 2   # (docs/options.md lists them all, generated from the classes)

    [A.search.predictor]           # the score predictor's own options, read by its class (or a name:
    epochs = 60                    # predictor = "gin"; cost_predictor likewise; docs/predictors.md)

    [A.search_space]               # what a cell may contain (see docs/search_space.md)
    blocks = 3
    operators = ["identity", "3x3 conv", "3x3 dconv", "2x2 maxpool"]

    [A.selection]                  # retrain the best Pareto cells longer, with macro variants
    top_k = 2
    epochs = 10
    variants = [{ filters = 16 }, { motifs = 2, normal_cells_per_motif = 2 }]
    max_params = 200_000

    [A.final]                      # train the chosen one on train+validation, export best_model/
    epochs = 15
    onnx = true

Only the keys every search shares (:data:`SEARCH_KEYS`) are read here; the other keys of
``[X.search]`` are the chosen strategy's own table, kept raw in :attr:`SearchConfig.options` and
validated by the strategy class registered under that name (``from_table``) when the experiment
is planned, before anything runs (:func:`scinas.search.registry.resolve_strategy`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scinas.config.formula import parse_formula
from scinas.config.reader import Table, suggest
from scinas.errors import ConfigError

__all__ = ["DEFAULT_STRATEGY", "SEARCH_KEYS", "FinalConfig", "SearchConfig", "SelectionConfig", "metric_direction",
           "parse_final", "parse_search", "parse_selection"]

#: The keys of ``[X.search]`` that every strategy shares; the rest belong to the strategy.
SEARCH_KEYS: tuple[str, ...] = ("strategy", "score", "direction", "costs", "budget", "target")
#: The strategy of a ``[X.search]`` table without ``strategy``.
DEFAULT_STRATEGY = "popnas"
_COST_NAMES: tuple[str, ...] = ("time", "params", "flops", "latency")

# Metric names (lower case, without a "val_" prefix) whose direction is known.
_MAXIMISED = ("accuracy", "acc", "r_squared", "r2", "auc", "precision", "recall", "f1", "f1_score", "mean_iou",
              "iou")
_MINIMISED = ("loss", "mse", "mae", "rmse", "mape", "msle", "crossentropy", "error", "hinge", "kl_divergence")


def metric_direction(metric: str) -> bool | None:
    """True (maximise), False (minimise) or None (unknown) for a metric name as Keras logs it."""
    name = metric.lower().removeprefix("val_")
    if any(name == known or name.endswith("_" + known) or name.startswith(known + "_") for known in _MAXIMISED):
        return True
    if any(name == known or known in name for known in _MINIMISED):
        return False
    return None


@dataclass(frozen=True)
class SearchConfig:
    """``[X.search]`` (see the module docstring); ``file``/``path`` locate it for later errors.

    ``options`` is the strategy's own part of the table, raw (every key but :data:`SEARCH_KEYS`).
    """

    strategy: str = DEFAULT_STRATEGY
    score: str = "accuracy"
    maximize: bool = True
    costs: tuple[str, ...] = ("time",)
    budget: int | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    file: str = ""
    path: str = ""
    target: str | None = None


@dataclass(frozen=True)
class SelectionConfig:
    """``[X.selection]``: retrain the ``top_k`` Pareto cells for ``epochs``, once per macro variant."""

    top_k: int = 3
    epochs: int | None = None
    variants: tuple[Mapping[str, Any], ...] = field(default_factory=lambda: ({},))
    max_params: int | None = None
    file: str = ""
    path: str = ""


@dataclass(frozen=True)
class FinalConfig:
    """``[X.final]``: train the chosen architecture on train+validation and export it."""

    epochs: int | None = None
    onnx: bool = True


def parse_search(top: Table) -> SearchConfig:
    """Read ``[X.search]``."""
    table = top.table("search", required=True)
    default = SearchConfig()  # every default is declared once, on the dataclass
    strategy = table.string("strategy", default.strategy)
    score = table.string("score", default.score)
    inferred = metric_direction(score)
    if table.has("direction"):
        direction = table.string("direction", choices=("max", "min"))
        maximize = direction == "max"
    elif inferred is None:
        raise table.error("score", "the direction of this metric is unknown",
                          fix='add direction = "max" (larger is better) or direction = "min"')
    else:
        maximize = inferred
    costs = table.string_list("costs", list(default.costs))
    for index, cost in enumerate(costs):
        if cost not in _COST_NAMES:
            raise ConfigError("unknown cost", file=table.file,
                              path=f"{table.key_path('costs')}[{index}]", value=cost, fix=suggest(cost, _COST_NAMES))
        if costs.index(cost) != index:
            raise ConfigError("a cost is listed twice", file=table.file,
                              path=f"{table.key_path('costs')}[{index}]", value=cost, fix="list each cost once")
    budget = table.optional_integer("budget", minimum=1)
    target = None
    if table.has("target"):  # its names are checked against the recorded metrics when planned
        target = parse_formula(table.any("target"), file=table.file, path=table.key_path("target")).text
    options = {key: value for key, value in table.raw.items() if key not in SEARCH_KEYS}
    # The strategy's keys are checked by its class when the experiment is planned.
    table.finish(allowed_extra=options)
    return SearchConfig(strategy=strategy, score=score, maximize=maximize, costs=tuple(costs), budget=budget,
                        options=options, file=table.file, path=table.path, target=target)


def parse_selection(top: Table, known_macro_keys: tuple[str, ...]) -> SelectionConfig | None:
    """Read ``[X.selection]`` (``None`` when absent); variants may set macro keys only."""
    if not top.has("selection"):
        top.any("selection", None)
        return None
    table = top.table("selection")
    variants_raw = table.array("variants", [{}])
    variants: list[Mapping[str, Any]] = []
    for index, variant in enumerate(variants_raw):
        path = f"{table.key_path('variants')}[{index}]"
        if not isinstance(variant, Mapping):
            raise ConfigError("expected a table of macro settings, e.g. { filters = 32 }", file=table.file,
                              path=path, value=variant, fix="write variants = [{}, { filters = 32 }]")
        for key in variant:
            if key not in known_macro_keys:
                raise ConfigError(f"unknown macro setting {key!r}", file=table.file, path=f"{path}.{key}",
                                  value=variant[key], fix=suggest(key, known_macro_keys))
        variants.append(dict(variant))
    if not variants:
        raise table.error("variants", "expected at least one variant ({} keeps the searched macro settings)",
                          fix="write variants = [{}]")
    config = SelectionConfig(
        top_k=table.integer("top_k", SelectionConfig.top_k, minimum=1),
        epochs=table.optional_integer("epochs", minimum=1),
        variants=tuple(variants),
        max_params=table.optional_integer("max_params", minimum=1),
        file=table.file, path=table.path,
    )
    table.finish()
    return config


def parse_final(top: Table) -> FinalConfig | None:
    """Read ``[X.final]`` (``None`` when absent)."""
    if not top.has("final"):
        top.any("final", None)
        return None
    table = top.table("final")
    config = FinalConfig(epochs=table.optional_integer("epochs", minimum=1),
                         onnx=table.boolean("onnx", FinalConfig.onnx))
    table.finish()
    return config
