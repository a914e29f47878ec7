"""scinas: neural architecture search and TOML-driven experiments on scientific data.

Command line: ``scinas run E A`` (or ``python src/main.py CONFIGS='E A'``), ``scinas list``.
From Python, the pieces are importable on their own, e.g.::

    from scinas.config.loading import load_config
    from scinas.experiment.plan import plan_experiments
    plans = plan_experiments(load_config(Path("config")), ["E"])
"""

from scinas.errors import ConfigError, DataError, ScinasError, TrialFailed

__all__ = ["ConfigError", "DataError", "ScinasError", "TrialFailed", "__version__"]
__version__ = "0.1.0"
