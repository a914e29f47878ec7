"""``[X.execution]``: where trials run (executor) and how each one trains (its tf.distribute
``distribution``).

Example ``configurations.toml``::

    [A.execution]
    distribution = "auto"      # auto | cpu | gpu | multi-gpu | tpu | multi-worker
    mixed_precision = false    # keras "mixed_float16" policy (float32 outputs, loss scaling)
    xla = false                # compile with jit_compile=True (the last partial batch is dropped)
    allow_fallback = false     # true: an absent device falls back to the CPU with a warning
    executor = "local"         # any registered executor (docs/options.md lists them)
    parallel_trials = 2        # trials running at once (workers of the local pool, jobs on Slurm)
    oversubscribe = false      # true: allow more local workers than devices
    threads_per_worker = 1     # TensorFlow threads of one local worker (default: cores / workers)

    [A.execution.slurm]        # the chosen executor's own options (here: executor = "slurm")
    partition = "gpu"
    account = "my-project"
    gpus_per_trial = 1
    cpus_per_trial = 4
    mem_gb = 16
    time_minutes = 60
    sbatch_options = ["--qos=normal", "--constraint=a100"]
    max_retries = 1            # resubmissions of a preempted or failed job
    log_folder = "slurm-logs"  # relative to the run folder

Only the structure is checked here (types, names, ranges, unknown keys); the chosen executor's
sub-table is kept raw and read by the executor's registered class when the experiment is
planned (:func:`scinas.execution.registry.resolve_executor`).  Whether the devices,
the ``sbatch`` binary and submitit are there is checked when the experiment is planned
(:func:`scinas.execution.check_execution`), still before any trial starts.

``distribution`` was called ``strategy`` before 0.3 (a word the search uses for something else);
the old key is still read, with a deprecation warning, and a table may not set both.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scinas.config.reader import Table

__all__ = ["DEFAULT_EXECUTOR", "DISTRIBUTION_NAMES", "ExecutionConfig", "parse_execution"]

logger = logging.getLogger(__name__)

#: ``[X.execution] distribution`` values: how one trial trains.
DISTRIBUTION_NAMES: tuple[str, ...] = ("auto", "cpu", "gpu", "multi-gpu", "tpu", "multi-worker")
#: ``[X.execution] executor`` when absent: trials run in this process.
DEFAULT_EXECUTOR = "inline"


@dataclass(frozen=True)
class ExecutionConfig:
    """``[X.execution]`` (see the module docstring); ``file``/``path`` locate it for later errors.

    ``distribution = "auto"`` (the default) trains on TensorFlow's default device: the first GPU when
    one is visible, else the CPU, and never fails for a missing device.  ``scale_batch_size``
    makes ``[X.training] batch_size`` the size per replica under ``multi-gpu``, ``tpu`` and
    ``multi-worker`` (the global batch is multiplied by the number of replicas); false keeps it
    global.  ``executor_table`` is ``[X.execution.<executor>]``, raw (the executor reads it).
    """

    distribution: str = "auto"
    mixed_precision: bool = False
    xla: bool = False
    allow_fallback: bool = False
    scale_batch_size: bool = True
    executor: str = DEFAULT_EXECUTOR
    parallel_trials: int = 1
    oversubscribe: bool = False
    threads_per_worker: int | None = None
    tpu: str | None = None
    executor_table: Mapping[str, Any] = field(default_factory=dict)
    file: str = ""
    path: str = ""

    @property
    def distributed(self) -> bool:
        """True when one trial spans several replicas (its batch may be scaled)."""
        return self.distribution in ("multi-gpu", "tpu", "multi-worker")


def parse_execution(top: Table) -> ExecutionConfig:
    """``[<experiment>.execution]`` of the experiment table ``top`` (defaults when absent)."""
    table = top.table("execution")
    executor = table.string("executor", DEFAULT_EXECUTOR)
    parallel = table.integer("parallel_trials", 1, minimum=1)
    sub_tables = [key for key, value in table.raw.items() if isinstance(value, Mapping)]
    for name in sub_tables:
        if name != executor:
            raise table.error(name, f'[{table.key_path(name)}] is only read by executor = "{name}"',
                              fix=f'set executor = "{name}", or remove the table')
    executor_table = dict(table.table(executor).raw) if executor in sub_tables else {}
    config = ExecutionConfig(
        distribution=_distribution(table),
        mixed_precision=table.boolean("mixed_precision", False),
        xla=table.boolean("xla", False),
        allow_fallback=table.boolean("allow_fallback", False),
        scale_batch_size=table.boolean("scale_batch_size", True),
        executor=executor,
        parallel_trials=parallel,
        oversubscribe=table.boolean("oversubscribe", False),
        threads_per_worker=table.optional_integer("threads_per_worker", minimum=1),
        tpu=table.any("tpu", None),
        executor_table=executor_table,
        file=table.file,
        path=table.path,
    )
    if config.tpu is not None and not isinstance(config.tpu, str):
        raise table.error("tpu", "expected a string (the TPU name or grpc:// address)")
    if config.tpu is not None and config.distribution != "tpu":
        raise table.error("tpu", 'only distribution = "tpu" uses a TPU address', value=config.tpu,
                          fix='set distribution = "tpu" or remove tpu')
    table.finish()
    return config


def _distribution(table: Table) -> str:
    """``distribution``, or the deprecated ``strategy`` it replaced (never both)."""
    if table.has("strategy"):
        if table.has("distribution"):
            raise table.error("strategy", "set both strategy (the old name) and distribution",
                              fix="remove strategy; distribution replaces it")
        logger.warning("%s: [%s] strategy is deprecated: write distribution = %r instead (the same values)",
                       table.file or "configuration", table.path, table.raw["strategy"])
        return table.string("strategy", "auto", choices=DISTRIBUTION_NAMES)
    return table.string("distribution", "auto", choices=DISTRIBUTION_NAMES)
