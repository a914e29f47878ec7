"""The search strategies by the name ``[X.search] strategy`` uses, and how a configuration builds one.

The registered strategies and their options are listed in ``docs/options.md``, generated from
this registry (``python -m scinas.options_doc``).  Each registers itself in its own module
(``@STRATEGIES.register("random")``), and the registry imports every module of
:mod:`scinas.search` on its first lookup, so a new strategy is one module there plus its test,
with no list to extend.  A strategy registered from user code is selectable from TOML like
these: it is a
:class:`~scinas.search.base.SearchStrategy` whose constructor is
``cls(domain, objectives, *, budget, seed, output_dir, **options)`` and whose ``Options``
dataclass declares its ``[X.search]`` keys (see :mod:`scinas.configurable`)::

    @STRATEGIES.register("greedy")
    class GreedyStrategy(LedgerStrategy):
        @dataclass(frozen=True)
        class Options:
            width: int = option(4, minimum=1, doc="candidates kept per round")
        ...

Example::

    strategy = create_strategy("evolution", domain, Objectives(), budget=50, seed=0, population_size=10)
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from scinas.config.reader import Table
from scinas.config.search import SEARCH_KEYS, SearchConfig
from scinas.configurable import options_table
from scinas.errors import ConfigError
from scinas.registry import Registry
from scinas.search.base import SearchStrategy
from scinas.search.domain import Objectives, SearchDomain

__all__ = ["STRATEGIES", "create_strategy", "resolve_strategy", "strategy_from_config", "strategy_options"]

#: The strategies by name: each module of :mod:`scinas.search` registers its own (found on first lookup).
STRATEGIES: Registry[type[SearchStrategy]] = Registry("strategy", discover="scinas.search")


def strategy_options(name: str) -> tuple[str, ...]:
    """The option names (``[X.search]`` keys beyond the shared ones) of strategy ``name``."""
    return tuple(item.name for item in dataclasses.fields(STRATEGIES.get(name).Options))


def resolve_strategy(search: SearchConfig) -> tuple[type[SearchStrategy], Any]:
    """The strategy class ``[X.search] strategy`` names and its options, validated by that class.

    Called when the experiment is planned.  An unknown name lists the registered ones; a key that
    belongs to another strategy says which; other unknown keys get a "did you mean".
    """
    cls = STRATEGIES.get(search.strategy, file=search.file or None, path=_key(search, "strategy"))
    if cls.budget_required and search.budget is None:
        raise ConfigError(f"strategy {search.strategy!r} needs a budget (the most trials)", file=search.file or None,
                          path=_key(search, "budget"), value=None, fix="add e.g. budget = 50")
    own = set(strategy_options(search.strategy))
    for key, value in search.options.items():
        owners = [name for name, other in STRATEGIES.items() if name != search.strategy
                  and key in strategy_options(name)] if key not in own else []
        if owners:
            raise ConfigError(f"applies to the {'/'.join(owners)} strategy only, not {search.strategy!r}",
                              file=search.file or None, path=_key(search, key), value=value,
                              fix=f'remove {key}, or use strategy = "{owners[0]}"')
    table = Table(search.options, file=search.file, path=search.path)
    for key in SEARCH_KEYS:  # read by [X.search] itself; listed so that a typo gets a "did you mean"
        table.any(key, None)
    cls, options = STRATEGIES.resolve(search.strategy, table, path=_key(search, "strategy"))
    return cls, options


def _key(search: SearchConfig, key: str) -> str:
    return f"{search.path}.{key}" if search.path else f"search.{key}"


def strategy_from_config(search: SearchConfig, domain: SearchDomain, objectives: Objectives, *, seed: int,
                         output_dir: Path | None = None) -> SearchStrategy:
    """The strategy ``[X.search]`` describes, over ``domain``."""
    cls, options = resolve_strategy(search)
    return cls(domain, objectives, budget=search.budget, seed=seed,  # type: ignore[call-arg]
               output_dir=output_dir, **options_table(options))


def create_strategy(name: str, domain: SearchDomain, objectives: Objectives, *, budget: int | None, seed: int,
                    output_dir: Path | None = None, **options: Any) -> SearchStrategy:
    """The strategy registered as ``name`` over ``domain``, with keyword ``options``.

    An unknown name is a :class:`~scinas.errors.ConfigError` listing the known ones; an option the
    strategy does not take is one listing the options it does.
    """
    cls = STRATEGIES.get(name, path="search.strategy")
    return cls(domain, objectives, budget=budget, seed=seed, output_dir=output_dir, **options)  # type: ignore[call-arg]
