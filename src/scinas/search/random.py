"""Random search (``"random"``): uniform, distinct samples until the budget is spent.

Example::

    strategy = RandomStrategy(NB201Domain(), Objectives(), budget=50, seed=0)
    while not strategy.finished:
        requests = strategy.ask(4)
        strategy.tell([evaluate(request) for request in requests])
"""

from __future__ import annotations

from scinas.search.base import TrialRequest
from scinas.search.ledger import LedgerStrategy
from scinas.search.registry import STRATEGIES

__all__ = ["RandomStrategy"]


@STRATEGIES.register("random")
class RandomStrategy(LedgerStrategy):
    """Uniform random, distinct architectures until ``budget`` trials (``"random"``)."""

    def propose(self, n: int) -> list[TrialRequest]:
        requests = []
        for _ in range(n):
            architecture = self.sample_unseen()
            if architecture is None:
                break
            requests.append(self.ledger.add(architecture))
        return requests
