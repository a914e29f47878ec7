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

from dataclasses import dataclass
from typing import Any

from scinas.configurable import option
from scinas.errors import ConfigError
from scinas.search.base import TrialRequest
from scinas.search.ledger import LedgerStrategy
from scinas.search.registry import STRATEGIES
from scinas.search_space.architecture import Architecture

__all__ = ["EvolutionStrategy"]

#: Mutations tried before falling back to a random architecture.
_MUTATION_TRIES = 50


@STRATEGIES.register("evolution")
class EvolutionStrategy(LedgerStrategy):
    """Regularized evolution (``"evolution"``); see the module docstring and :class:`Options`."""

    @dataclass(frozen=True)
    class Options:
        """``[X.search]`` options of ``strategy = "evolution"``."""

        population_size: int = option(20, minimum=2, doc="the most recent successful trials that form the "
                                      "population (the first this many trials are random)")
        sample_size: int = option(5, minimum=1, doc="members drawn for each tournament (at most population_size)")

        def check(self) -> None:
            if self.sample_size > self.population_size:
                raise ConfigError(f"is above population_size = {self.population_size}", path="sample_size",
                                  value=self.sample_size, fix="use a sample_size <= population_size")

    @property
    def population_size(self) -> int:
        return int(self.options.population_size)

    @property
    def sample_size(self) -> int:
        return int(self.options.sample_size)

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
