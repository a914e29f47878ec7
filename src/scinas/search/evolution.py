"""Regularized evolution (aging evolution): tournament selection, one mutation, the oldest dies.

The first ``population_size`` trials are random.  After that, each new trial mutates the winner
of a tournament: ``sample_size`` members drawn from the population (the ``population_size`` most
recently *told* successful trials), the fittest wins.  Because the population is the most recent
results rather than the best ones, old architectures age out even when they were good — this
regularisation is what makes it robust to noisy fitness.  A mutation that lands on an
architecture asked for already is retried; failing that, a random unseen one is asked for.

Example ``configurations.toml``::

    [A.search]
    strategy = "evolution"
    budget = 100
    population_size = 20
    sample_size = 5
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scinas.errors import ConfigError
from scinas.search.base import TrialRequest
from scinas.search.domain import Objectives, SearchDomain
from scinas.search.ledger import LedgerStrategy, check_int_option
from scinas.search_space.architecture import Architecture

__all__ = ["EvolutionStrategy"]

#: Mutations tried before falling back to a random architecture.
_MUTATION_TRIES = 50


class EvolutionStrategy(LedgerStrategy):
    """Regularized evolution (``"evolution"``); see the module docstring.

    Options: ``population_size`` (default 20, >= 2), ``sample_size`` (default 5, 1..population_size).
    """

    def __init__(self, domain: SearchDomain, objectives: Objectives, *, budget: int | None, seed: int,
                 output_dir: Path | None = None, population_size: int = 20, sample_size: int = 5) -> None:
        super().__init__(domain, objectives, budget=budget, seed=seed, output_dir=output_dir)
        self.population_size = check_int_option("population_size", population_size, 2)
        self.sample_size = check_int_option("sample_size", sample_size, 1)
        if sample_size > population_size:
            raise ConfigError(f"is above population_size = {population_size}", path="sample_size",
                              value=sample_size, fix="use a sample_size <= population_size")

    def population(self) -> list[tuple[Architecture, float]]:
        """The ``population_size`` most recently told successful trials, oldest first."""
        alive = self.ledger.succeeded()[-self.population_size:]
        return [(record.architecture, float(record.fitness or 0.0)) for record in alive]

    def _child(self) -> Architecture | None:
        population = self.population()
        if len(self.ledger) < self.population_size or not population:
            return self.sample_unseen()
        size = min(self.sample_size, len(population))
        contestants = self.rng.choice(len(population), size=size, replace=False)
        winner = max(contestants, key=lambda index: (population[int(index)][1], -int(index)))
        parent = population[int(winner)][0]
        for _ in range(_MUTATION_TRIES):
            child = self.domain.mutate(parent, self.rng)
            if not self.ledger.seen(child):
                return child
        return self.sample_unseen()

    def propose(self, n: int) -> list[TrialRequest]:
        requests = []
        for _ in range(n):
            child = self._child()
            if child is None:
                break
            requests.append(self.ledger.add(child))
        return requests

    def extra_state(self) -> dict[str, Any]:
        return {"population_size": self.population_size, "sample_size": self.sample_size}
