"""The run store: scinas's data commons, one SQLite database per run folder.

It records the run, every trial (architecture, phase, status, failure reason, costs, learning-curve estimate), every
epoch of every trial (metrics, time, learning rate, learning-curve prediction) and evaluation
metrics in long format, so that a killed run resumes without losing or repeating a trial and a
finished one can be queried with SQL or exported to CSV for pandas.

Example::

    from scinas.store import EpochRecord, RunStore

    with RunStore.open(run_dir / "store.sqlite", readonly=True) as store:
        fastest = min(store.trials("completed"), key=lambda t: t.train_time_s or float("inf"))
"""

from __future__ import annotations

from scinas.store.records import (
    EpochRecord,
    MetricRecord,
    RunRecord,
    RunStatus,
    Split,
    StoreError,
    TrialPhase,
    TrialRecord,
    TrialStatus,
)
from scinas.store.schema import SCHEMA_VERSION
from scinas.store.sqlite import TRIAL_FIELDS, RunStore
from scinas.store.tables import export_csv

__all__ = [
    "SCHEMA_VERSION",
    "TRIAL_FIELDS",
    "EpochRecord",
    "MetricRecord",
    "RunRecord",
    "RunStatus",
    "RunStore",
    "Split",
    "StoreError",
    "TrialPhase",
    "TrialRecord",
    "TrialStatus",
    "export_csv",
]
