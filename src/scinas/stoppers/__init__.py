"""Early-termination stoppers, selected by ``[X.training.early_termination] stopper = "..."``.

A stopper watches one trial's monitored value epoch by epoch and says when to stop it and what
the trial's estimate is; ``curve`` (the default) is the learning-curve rule, ``pareto`` the
multi-objective one.  Each is a registered class that owns its keys of the table
(:mod:`scinas.stoppers.base`); a module added to this package registers itself.
"""

from __future__ import annotations

from scinas.stoppers.base import STOPPERS, FrontPoint, Stopper, make_stopper, resolve_stopper

__all__ = ["STOPPERS", "FrontPoint", "Stopper", "make_stopper", "resolve_stopper"]
