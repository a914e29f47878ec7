"""``"params"``: the parameter count of the built network (NAS-Bench-201's published anchor, τ ≈ 0.52)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from scinas.configurable import option
from scinas.priors.base import PRIORS, Prior

if TYPE_CHECKING:
    import keras

__all__ = ["ParamsPrior"]


@dataclass(frozen=True)
class ParamsOptions:
    """``[X.search.prior]`` of ``name = "params"``."""

    trainable_only: bool = option(True, doc="count only trainable weights (false: also batch-normalisation "
                                  "statistics and other non-trainable weights)")


@PRIORS.register("params")
class ParamsPrior(Prior):
    """The number of parameters of the network: more capacity, usually a better score, and a higher cost."""

    Options = ParamsOptions

    def score(self, model: keras.Model) -> float:
        weights = model.trainable_weights if self.options.trainable_only else model.weights
        return float(sum(int(w.numpy().size) for w in weights))
