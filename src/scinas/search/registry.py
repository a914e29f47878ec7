"""The search strategies by the name ``[X.search] strategy`` uses, and :func:`create_strategy`.

==============  =====================================================================
``popnas``      progressive Pareto search over cells (:class:`PopnasStrategy`)
``pnas``        progressive search, top-K by predicted score (:class:`PNASStrategy`)
``pareto``      predictor-guided Pareto search for fixed-topology domains
``random``      uniform distinct samples (:class:`RandomStrategy`)
``evolution``   regularized evolution (:class:`EvolutionStrategy`)
==============  =====================================================================

Example::

    strategy = create_strategy("evolution", domain, Objectives(), budget=50, seed=0, population_size=10)
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from scinas.errors import ConfigError
from scinas.registry import Registry
from scinas.search.base import SearchStrategy
from scinas.search.domain import Objectives, SearchDomain
from scinas.search.evolution import EvolutionStrategy
from scinas.search.guided import GuidedParetoStrategy
from scinas.search.popnas import PNASStrategy, PopnasStrategy
from scinas.search.random import RandomStrategy

__all__ = ["STRATEGIES", "create_strategy", "strategy_options"]

#: The strategies by name.
STRATEGIES: Registry[type[SearchStrategy]] = Registry("search strategy")
STRATEGIES.register("popnas")(PopnasStrategy)
STRATEGIES.register("pnas")(PNASStrategy)
STRATEGIES.register("pareto")(GuidedParetoStrategy)
STRATEGIES.register("random")(RandomStrategy)
STRATEGIES.register("evolution")(EvolutionStrategy)

_COMMON = ("self", "domain", "objectives", "budget", "seed", "output_dir")


def strategy_options(name: str) -> tuple[str, ...]:
    """The strategy options (constructor keywords beyond the common ones) of strategy ``name``."""
    parameters = inspect.signature(STRATEGIES.get(name).__init__).parameters
    return tuple(p for p in parameters if p not in _COMMON and parameters[p].kind == inspect.Parameter.KEYWORD_ONLY)


def create_strategy(name: str, domain: SearchDomain, objectives: Objectives, *, budget: int | None, seed: int,
                    output_dir: Path | None = None, **options: Any) -> SearchStrategy:
    """The strategy registered as ``name`` over ``domain``.

    An unknown name is a :class:`~scinas.errors.ConfigError` listing the known ones; an option the
    strategy does not take is one listing the options it does.
    """
    cls = STRATEGIES.get(name, path="search.strategy")
    known = strategy_options(name)
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ConfigError(f"the {name} strategy has no option {', '.join(unknown)}; its options are "
                          f"{', '.join(known) or 'none'}", path="search." + unknown[0], value=options[unknown[0]])
    return cls(domain, objectives, budget=budget, seed=seed, output_dir=output_dir, **options)  # type: ignore[call-arg]
