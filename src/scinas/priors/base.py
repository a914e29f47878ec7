"""The :class:`Prior` interface, its registry, and scoring candidates without ever stopping on one."""

from __future__ import annotations

import abc
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from scinas.configurable import Configurable, options_from_kwargs
from scinas.errors import ScinasError
from scinas.registry import Registry

if TYPE_CHECKING:
    import keras

__all__ = ["PRIORS", "Prior", "PriorScores", "PriorUnavailable", "score_architectures"]

logger = logging.getLogger(__name__)


class PriorUnavailable(ScinasError):
    """A prior cannot be computed for this network (e.g. a layer without a FLOP count)."""


class Prior(Configurable, abc.ABC):
    """A data-free score of a built network (larger: expected to train to a better score).

    Subclasses declare their ``[X.search.prior]`` keys in ``Options`` and implement
    :meth:`score`; the network has random weights and is never trained.  A network the prior
    cannot score raises :class:`PriorUnavailable` with the reason.
    """

    def __init__(self, **options: Any) -> None:
        self.options = options_from_kwargs(self.Options, options)

    @abc.abstractmethod
    def score(self, model: keras.Model) -> float:
        """The prior of ``model`` (a finite number)."""


#: The priors by the name ``[X.search] prior`` uses; each module of :mod:`scinas.priors` registers its own.
PRIORS: Registry[type[Prior]] = Registry("prior", discover="scinas.priors")


@dataclass
class PriorScores:
    """The prior of each candidate (NaN where it could not be computed) and, per such candidate, why."""

    values: np.ndarray
    failures: dict[int, str] = field(default_factory=dict)

    @property
    def computed(self) -> np.ndarray:
        """A boolean mask of the candidates with a prior."""
        return np.asarray(np.isfinite(self.values), dtype=bool)


def score_architectures(prior: Prior, build: Callable[[Any], keras.Model], architectures: Sequence[Any]) -> PriorScores:
    """``prior`` of the network ``build`` makes for each architecture.

    A candidate whose network does not build, or that the prior cannot score (any
    :class:`Exception`, e.g. :class:`PriorUnavailable`, a domain without networks, a non-finite
    score), gets NaN and its reason in :attr:`PriorScores.failures`; the others are scored.
    """
    values = np.full(len(architectures), np.nan)
    failures: dict[int, str] = {}
    for index, architecture in enumerate(architectures):
        try:
            model = build(architecture)
        except Exception as error:  # a network that does not build is recorded, never fatal
            failures[index] = f"the network does not build: {type(error).__name__}: {error}"
            continue
        try:
            value = float(prior.score(model))
        except Exception as error:  # a prior that cannot be computed is recorded, never fatal
            failures[index] = f"{type(error).__name__}: {error}"
            continue
        if not np.isfinite(value):
            failures[index] = f"the score is not finite ({value})"
            continue
        values[index] = value
    if failures:
        logger.info("prior %s: not computed for %d of %d candidates (first: %s)", type(prior).__name__,
                    len(failures), len(architectures), next(iter(failures.values())))
    return PriorScores(values, failures)
