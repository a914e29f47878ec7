"""The conformance suite of search strategies: :func:`check_strategy`.

Any :class:`~scinas.search.base.SearchStrategy` over a :class:`~scinas.search.domain.SearchDomain`
must

* ask only architectures of the domain, each at most once (by :meth:`SearchDomain.key`), under
  unique, filesystem-safe trial names;
* respect its budget, and finish (rather than loop) when the domain runs out;
* give the same trials for the same seed;
* keep a JSON state from which a fresh strategy resumes exactly: trials asked but not told are
  asked again first (same names, same architectures), and everything after is what the
  uninterrupted strategy asks;
* survive failed trials (``completed=False``), never asking for them again.

Each check raises ``AssertionError`` with a message saying what went wrong::

    from scinas.testing.strategies import check_strategy, synthetic_evaluator

    domain = NB201Domain()
    check_strategy(lambda: RandomStrategy(domain, Objectives(), budget=12, seed=0), domain,
                   synthetic_evaluator(domain), budget=12)
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from scinas.search.base import SearchStrategy, TrialOutcome, TrialRequest
from scinas.search.domain import SearchDomain

__all__ = ["Evaluator", "StrategyFactory", "StrategyRun", "check_strategy", "run_strategy", "synthetic_evaluator"]

#: Builds a fresh strategy, always with the same settings and seed.
StrategyFactory = Callable[[], SearchStrategy]
#: Evaluates one trial (a fake training).
Evaluator = Callable[[TrialRequest], TrialOutcome]

_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")


def _unit(text: str, salt: str) -> float:
    """A deterministic number in [0, 1) from ``text`` (a stand-in for training noise)."""
    digest = hashlib.sha256(f"{salt}:{text}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def synthetic_evaluator(domain: SearchDomain, *, fail_share: float = 0.0, salt: str = "scinas") -> Evaluator:
    """A deterministic fake training: fitness grows with the number and variety of operators, plus
    key-hashed noise; ``time`` (and ``params``) grow with the operators; a ``fail_share`` of the
    architectures (chosen by hash) fail."""
    def evaluate(request: TrialRequest) -> TrialOutcome:
        key = domain.key(request.architecture)
        if _unit(key, salt + "-fail") < fail_share:
            return TrialOutcome(request.name, completed=False)
        operators = domain.operators_of(request.architecture)
        heavy = sum(len(op) for op in operators)
        fitness = 0.1 * len(set(operators)) + 0.01 * heavy + 0.05 * _unit(key, salt)
        time = 1.0 + heavy + 2.0 * _unit(key, salt + "-time")
        return TrialOutcome(request.name, completed=True, fitness=fitness, metrics={"score": fitness},
                            costs={"time": time, "params": 100.0 * (1 + len(operators))})

    return evaluate


@dataclass
class StrategyRun:
    """What a driven strategy asked for, in order (``requests``), and what the evaluator returned."""

    requests: list[TrialRequest] = field(default_factory=list)
    outcomes: list[TrialOutcome] = field(default_factory=list)

    def trace(self) -> list[tuple[str, str]]:
        """``(name, architecture text)`` of every request."""
        return [(r.name, r.architecture.to_text()) for r in self.requests]


def run_strategy(strategy: SearchStrategy, evaluate: Evaluator, *, batch: int = 1, max_rounds: int = 100_000,
                 run: StrategyRun | None = None) -> StrategyRun:
    """Ask ``batch`` trials, evaluate and tell them, until the strategy is finished.

    Every answer is told before the next ask, so an empty ask from an unfinished strategy is a
    bug (it would wait forever); so is a strategy that never finishes within ``max_rounds``.
    """
    run = run if run is not None else StrategyRun()
    for _ in range(max_rounds):
        if strategy.finished:
            return run
        requests = strategy.ask(batch)
        if not requests:
            if strategy.finished:
                return run
            raise AssertionError(f"{type(strategy).__name__} asked for nothing while no trial was outstanding, "
                                 "but says it is not finished (a coordinator would wait forever)")
        if len(requests) > batch:
            raise AssertionError(f"ask({batch}) returned {len(requests)} trials")
        outcomes = [evaluate(request) for request in requests]
        run.requests.extend(requests)
        run.outcomes.extend(outcomes)
        strategy.tell(outcomes)
        json.dumps(strategy.state())  # the state must be JSON at any time
    raise AssertionError(f"{type(strategy).__name__} did not finish within {max_rounds} rounds")


def _check_requests(run: StrategyRun, domain: SearchDomain, budget: int | None, exact_budget: bool) -> None:
    names = [request.name for request in run.requests]
    if len(set(names)) != len(names):
        repeated = sorted({name for name in names if names.count(name) > 1})
        raise AssertionError(f"trial names repeat: {repeated[:5]}")
    bad = [name for name in names if not _SAFE_NAME.fullmatch(name)]
    if bad:
        raise AssertionError(f"trial names are not filesystem-safe: {bad[:5]}")
    keys = [domain.key(request.architecture) for request in run.requests]
    if len(set(keys)) != len(keys):
        repeated = sorted({key for key in keys if keys.count(key) > 1})
        raise AssertionError(f"the same architecture was asked for twice: {repeated[:3]}")
    outside = [r.architecture.to_text() for r in run.requests if not domain.contains(r.architecture)]
    if outside:
        raise AssertionError(f"architectures outside the domain were asked for: {outside[:3]}")
    if budget is not None and len(run.requests) > budget:
        raise AssertionError(f"{len(run.requests)} trials asked for with a budget of {budget}")
    if exact_budget and budget is not None and len(run.requests) != budget:
        raise AssertionError(f"expected exactly {budget} trials (the budget), got {len(run.requests)}")


def _check_resume(factory: StrategyFactory, evaluate: Evaluator, expected: list[tuple[str, str]], batch: int,
                  interrupt_at: int) -> None:
    """Interrupt after ``interrupt_at`` rounds with half a batch untold, resume from JSON, compare."""
    strategy = factory()
    run = StrategyRun()
    for _ in range(interrupt_at):
        if strategy.finished:
            break
        requests = strategy.ask(batch)
        if not requests:
            break
        outcomes = [evaluate(request) for request in requests]
        run.requests.extend(requests)
        keep = max(1, len(requests) // 2) if len(requests) > 1 else 0
        strategy.tell(outcomes[:keep])
        untold = requests[keep:]
        state = json.loads(json.dumps(strategy.state()))
        strategy = factory()
        strategy.load_state(state)
        if untold:
            again = strategy.ask(len(untold))
            got = [(r.name, r.architecture.to_text()) for r in again]
            want = [(r.name, r.architecture.to_text()) for r in untold]
            if got != want:
                raise AssertionError(f"after a resume the outstanding trials {want} should be asked again, got {got}")
            strategy.tell(outcomes[keep:])
    run_strategy(strategy, evaluate, batch=batch, run=run)
    if run.trace() != expected:
        first = next((i for i, (a, b) in enumerate(zip(run.trace(), expected, strict=False)) if a != b),
                     min(len(run.trace()), len(expected)))
        raise AssertionError(f"the resumed strategy diverges from the uninterrupted one at trial {first}: "
                             f"{run.trace()[first:first + 2]} instead of {expected[first:first + 2]} "
                             f"({len(run.trace())} vs {len(expected)} trials)")


def check_strategy(factory: StrategyFactory, domain: SearchDomain, evaluate: Evaluator, *, budget: int | None,
                   batch: int = 3, exact_budget: bool = True, interrupt_at: int = 2, fail_share: float = 0.3,
                   ) -> StrategyRun:
    """Run the whole suite (see the module docstring); returns the uninterrupted run.

    ``factory`` must build the strategy with ``budget`` and a fixed seed; ``exact_budget`` says the
    strategy should use the whole budget (False for strategies that may end early, like popnas);
    ``interrupt_at`` is the round after which the resume check saves and restores the state;
    ``fail_share`` of the architectures fail in the failure check (by hash, deterministic).
    """
    first = run_strategy(factory(), evaluate, batch=batch)
    _check_requests(first, domain, budget, exact_budget)
    second = run_strategy(factory(), evaluate, batch=batch)
    if second.trace() != first.trace():
        raise AssertionError("two runs with the same seed asked for different trials")
    _check_resume(factory, evaluate, first.trace(), batch, interrupt_at)

    failing = synthetic_evaluator(domain, fail_share=fail_share, salt="failures")

    def flaky(request: TrialRequest) -> TrialOutcome:
        outcome = failing(request)
        return outcome if not outcome.completed else evaluate(request)

    failed_run = run_strategy(factory(), flaky, batch=batch)
    _check_requests(failed_run, domain, budget, exact_budget=False)
    _check_resume(factory, flaky, failed_run.trace(), batch, interrupt_at)
    return first
