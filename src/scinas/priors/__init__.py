"""Data-free priors: scores of an architecture computed before any training, from its built network.

A search that can afford only 25–50 trainings cannot spend ten of them on random cells.  A prior
scores a candidate from the network the domain builds for it (random weights, no data, no
download): :class:`ParamsPrior` (``"params"``, the parameter count), :class:`FlopsPrior`
(``"flops"``, multiply-adds of one sample's forward pass) and :class:`SynflowPrior`
(``"synflow"``, the data-free SynFlow saliency).  :func:`score_architectures` scores many
candidates and records, per candidate, why a prior could not be computed instead of stopping.

Example::

    from scinas.priors import PRIORS, score_architectures

    prior = PRIORS.get("synflow")()
    scores = score_architectures(prior, domain.network, cells)
    scores.values       # NaN where the prior could not be computed
    scores.failures     # {candidate index: reason}
"""

from __future__ import annotations

from scinas.priors.base import PRIORS, Prior, PriorScores, PriorUnavailable, score_architectures
from scinas.priors.flops import FlopsPrior
from scinas.priors.params import ParamsPrior
from scinas.priors.synflow import SynflowPrior

__all__ = ["PRIORS", "FlopsPrior", "ParamsPrior", "Prior", "PriorScores", "PriorUnavailable", "SynflowPrior",
           "score_architectures"]
