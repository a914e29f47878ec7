"""Analysis of runs: plots of a search and the HTML report of a run folder.

Example::

    from scinas.analysis import plot_pareto_fronts
    plot_pareto_fronts({"b1": [("t0", 0.9, 1e4)]}, "accuracy", "params", Path("pareto.png"))
"""

from __future__ import annotations

from scinas.analysis.report import ReportResult, write_report
from scinas.analysis.search_plots import (
    pareto_front,
    plot_operator_usage,
    plot_pareto_fronts,
    plot_predictor_quality,
)

__all__ = ["ReportResult", "pareto_front", "plot_operator_usage", "plot_pareto_fronts", "plot_predictor_quality",
           "write_report"]
