"""``[X.search]``, ``[X.selection]`` and ``[X.final]``: an architecture search and what follows it.

Example ``configurations.toml``::

    [A.search]
    strategy = "popnas"            # popnas | pnas | random | evolution
    score = "accuracy"             # a metric the trials record, read on the validation split
    direction = "max"              # optional for known metrics (accuracy, r_squared: max; loss, mae: min)
    costs = ["time"]               # any of "time", "params", "flops", "latency" (minimised)
    budget = 40                    # the most trials (optional for popnas/pnas: all steps run)
    max_children = 8               # popnas/pnas: cells trained per step
    max_exploration_children = 2   # popnas: extra cells using under-represented operators/inputs

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
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scinas.config.reader import Table, suggest
from scinas.errors import ConfigError

__all__ = ["STRATEGY_NAMES", "FinalConfig", "SearchConfig", "SelectionConfig", "metric_direction",
           "parse_final", "parse_search", "parse_selection"]

#: Strategies ``[X.search] strategy`` accepts.
STRATEGY_NAMES: tuple[str, ...] = ("popnas", "pnas", "pareto", "random", "evolution")
_COST_NAMES: tuple[str, ...] = ("time", "params", "flops", "latency")
_PROGRESSIVE = ("popnas", "pnas")

# Metric names (lower case, without a "val_" prefix) whose direction is known.
_MAXIMISED = ("accuracy", "acc", "r_squared", "r2", "auc", "precision", "recall", "f1", "f1_score")
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
    """``[X.search]`` (see the module docstring); ``file``/``path`` locate it for later errors."""

    strategy: str
    score: str
    maximize: bool
    costs: tuple[str, ...]
    budget: int | None
    max_children: int = 128
    max_exploration_children: int = 16
    population_size: int = 20
    sample_size: int = 5
    predictor_epochs: int = 80
    predictor_ensemble: int = 5
    file: str = ""
    path: str = ""

    @property
    def progressive(self) -> bool:
        return self.strategy in _PROGRESSIVE

    def options(self) -> dict[str, int]:
        """The keyword options of the chosen strategy's constructor."""
        if self.progressive:
            return {"max_children": self.max_children, "max_exploration_children": self.max_exploration_children,
                    "gin_epochs": self.predictor_epochs, "gin_ensemble": self.predictor_ensemble}
        if self.strategy == "evolution":
            return {"population_size": self.population_size, "sample_size": self.sample_size}
        return {}


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
    strategy = table.string("strategy", "popnas")
    if strategy not in STRATEGY_NAMES:
        raise table.error("strategy", "unknown strategy",
                          fix=suggest(strategy, STRATEGY_NAMES))
    score = table.string("score", "accuracy")
    inferred = metric_direction(score)
    if table.has("direction"):
        direction = table.string("direction", choices=("max", "min"))
        maximize = direction == "max"
    elif inferred is None:
        raise table.error("score", "the direction of this metric is unknown",
                          fix='add direction = "max" (larger is better) or direction = "min"')
    else:
        maximize = inferred
    costs = table.string_list("costs", ("time",))
    for index, cost in enumerate(costs):
        if cost not in _COST_NAMES:
            raise ConfigError("unknown cost", file=table.file,
                              path=f"{table.key_path('costs')}[{index}]", value=cost, fix=suggest(cost, _COST_NAMES))
        if costs.index(cost) != index:
            raise ConfigError("a cost is listed twice", file=table.file,
                              path=f"{table.key_path('costs')}[{index}]", value=cost, fix="list each cost once")
    budget = table.optional_integer("budget", minimum=1)
    if budget is None and not strategy.startswith(("popnas", "pnas")):
        raise table.error("budget", f"strategy {strategy!r} needs a budget (the most trials)", value=None,
                          fix="add e.g. budget = 50")
    progressive_keys = ("max_children", "max_exploration_children", "predictor_epochs", "predictor_ensemble")
    evolution_keys = ("population_size", "sample_size")
    for key in (*progressive_keys, *evolution_keys):
        applies = strategy in _PROGRESSIVE if key in progressive_keys else strategy == "evolution"
        if table.has(key) and not applies:
            owner = "popnas/pnas" if key in progressive_keys else "evolution"
            raise table.error(key, f"applies to the {owner} strategy only, not {strategy!r}",
                              fix=f"remove {key}, or use strategy = \"{owner.split('/', maxsplit=1)[0]}\"")
    config = SearchConfig(
        strategy=strategy, score=score, maximize=maximize, costs=tuple(costs), budget=budget,
        max_children=table.integer("max_children", 128, minimum=1),
        max_exploration_children=table.integer("max_exploration_children", 16, minimum=0),
        population_size=table.integer("population_size", 20, minimum=2),
        sample_size=table.integer("sample_size", 5, minimum=1),
        predictor_epochs=table.integer("predictor_epochs", 80, minimum=1),
        predictor_ensemble=table.integer("predictor_ensemble", 5, minimum=1),
        file=table.file, path=table.path,
    )
    if config.sample_size > config.population_size:
        raise table.error("sample_size", f"is above population_size = {config.population_size}",
                          value=config.sample_size, fix="use a sample_size <= population_size")
    if strategy == "pnas" and table.has("max_exploration_children"):
        raise table.error("max_exploration_children", "pnas mode keeps the top-K only and has no exploration front",
                          fix='remove it, or use strategy = "popnas"')
    table.finish()
    return config


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
        top_k=table.integer("top_k", 3, minimum=1),
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
    config = FinalConfig(epochs=table.optional_integer("epochs", minimum=1), onnx=table.boolean("onnx", True))
    table.finish()
    return config
