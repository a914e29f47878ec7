"""The stopper interface and its registry.

``[X.training.early_termination]`` holds the keys every stopper shares (``enabled``, ``monitor``,
``mode``, ``scale``, the learning-curve fit's ``curve``, ``min_epochs``, ``window``,
``tolerance``, ``skip_lag``, ``fit_window``) and ``stopper``, the registered name of the class
that decides; the class's own keys sit in the same table and are read by its ``from_table``
when the experiment is planned (:func:`resolve_stopper`), with TOML-path errors like every
registered class::

    [A.training.early_termination]
    stopper = "pareto"     # the learning-curve rule (default "curve") plus Pareto dominance
    margin = 1.0           # pareto's own key: points of score

A stopper is built for one trial (:func:`make_stopper`), fed each epoch's monitored value and
wall time (:meth:`Stopper.observe`), and says when the trial has *converged* (stop now) and what
its estimate is (:meth:`Stopper.summary`).  One that needs the search's Pareto front
(``needs_front``) is given the completed trials' points (:class:`FrontPoint`) when it is built.

Adding one is one module in this package::

    @STOPPERS.register("patient")
    class PatientStopper(CurveStopper):
        @dataclass(frozen=True)
        class Options:
            extra_epochs: int = option(2, minimum=0, doc="epochs to train after convergence")
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from scinas.config.experiment import TERMINATION_KEYS, EarlyTerminationConfig
from scinas.config.reader import Table
from scinas.configurable import Configurable
from scinas.errors import ConfigError
from scinas.predictors.termination import EpochVerdict, TerminationSummary
from scinas.registry import Registry

if TYPE_CHECKING:
    from scinas.config.search import SearchConfig

__all__ = ["STOPPERS", "FrontPoint", "Stopper", "make_stopper", "resolve_stopper"]


@dataclass(frozen=True)
class FrontPoint:
    """A completed trial as a Pareto-front point: its ``value`` of the monitored metric (its
    estimate, in the metric's units) and its ``cost_s``, the time its whole budget takes."""

    value: float
    cost_s: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.value) and math.isfinite(self.cost_s) and self.cost_s >= 0):
            raise ValueError(f"a front point needs a finite value and cost >= 0, got {self.value}, {self.cost_s}")


class Stopper(Configurable, ABC):
    """Decides, epoch by epoch, when one trial stops (see the module docstring).

    ``needs_front``: built with the search's completed trials (needs a search whose score the
    stopper monitors).  Subclasses implement :meth:`observe`, :meth:`restore`, :meth:`summary`
    and the state properties.
    """

    needs_front: ClassVar[bool] = False

    def __init__(self, settings: EarlyTerminationConfig, target_epoch: int, options: Any = None, *,
                 front: Sequence[FrontPoint] = ()) -> None:
        self.settings = settings
        self.target_epoch = int(target_epoch)
        self.options = options if options is not None else self.default_options()
        self.front = tuple(front)

    @property
    @abstractmethod
    def epoch(self) -> int:
        """Epochs seen so far."""

    @property
    @abstractmethod
    def converged_epoch(self) -> int | None:
        """The epoch at which the stopper said stop (``None``: it has not)."""

    @property
    def converged(self) -> bool:
        return self.converged_epoch is not None

    @property
    @abstractmethod
    def curve_name(self) -> str:
        """What the store's ``curve`` column records for this stopper's predictions."""

    @abstractmethod
    def observe(self, value: float, epoch_time_s: float | None = None) -> EpochVerdict:
        """Record the next epoch's monitored ``value`` (and its wall time) and decide."""

    @abstractmethod
    def restore(self, values: Sequence[float], predictions: Sequence[float | None],
                epoch_times: Sequence[float | None] = ()) -> None:
        """Continue a resumed trial after the stored epochs."""

    @abstractmethod
    def summary(self, measured: float | None) -> TerminationSummary:
        """The trial's estimate and curve fields given the ``measured`` final value."""

    @classmethod
    def check(cls, settings: EarlyTerminationConfig, search: SearchConfig | None) -> None:
        """Raise a :class:`ConfigError` when this stopper cannot work in this experiment (default: it can)."""


#: The stoppers by the name used in ``[X.training.early_termination] stopper``.
STOPPERS: Registry[type[Stopper]] = Registry("stopper", discover="scinas.stoppers")


def _read(settings: EarlyTerminationConfig) -> tuple[type[Stopper], Any]:
    table = Table(dict(settings.options), file=settings.file, path=settings.path)
    for key in TERMINATION_KEYS:  # read by the table itself; listed so that a typo gets a "did you mean"
        table.any(key, None)
    return STOPPERS.resolve(settings.stopper, table, path=_stopper_path(settings))


def _stopper_path(settings: EarlyTerminationConfig) -> str:
    return f"{settings.path}.stopper" if settings.path else "stopper"


def resolve_stopper(settings: EarlyTerminationConfig, search: SearchConfig | None = None) -> tuple[type[Stopper], Any]:
    """The class ``settings.stopper`` names and its options, validated for an experiment with ``search``
    (what planning checks: ConfigError with the TOML path)."""
    cls, options = _read(settings)
    stopper_path = _stopper_path(settings)
    try:
        cls.check(settings, search)
    except ConfigError as exc:
        raise ConfigError(exc.problem, file=exc.file or settings.file or None, path=exc.path or stopper_path,
                          value=exc.value if exc.path else settings.stopper, fix=exc.fix) from None
    return cls, options


def make_stopper(settings: EarlyTerminationConfig, target_epoch: int, *,
                 front: Sequence[FrontPoint] = ()) -> Stopper:
    """The stopper of one trial (its options read from ``settings.options``; planning checked the rest)."""
    cls, options = _read(settings)
    return cls(settings, target_epoch, options, front=front if cls.needs_front else ())
