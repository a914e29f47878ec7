"""``[X.execution]``: where trials run (executor) and how each one trains (tf.distribute strategy).

Example ``configurations.toml``::

    [A.execution]
    strategy = "auto"          # auto | cpu | gpu | multi-gpu | tpu | multi-worker
    mixed_precision = false    # keras "mixed_float16" policy (float32 outputs, loss scaling)
    xla = false                # compile with jit_compile=True (the last partial batch is dropped)
    allow_fallback = false     # true: an absent device falls back to the CPU with a warning
    executor = "local"         # inline | local | slurm
    parallel_trials = 2        # trials running at once (workers of the local pool, jobs on Slurm)
    oversubscribe = false      # true: allow more local workers than devices
    threads_per_worker = 1     # TensorFlow threads of one local worker (default: cores / workers)

    [A.execution.slurm]        # executor = "slurm" only
    partition = "gpu"
    account = "my-project"
    gpus_per_trial = 1
    cpus_per_trial = 4
    mem_gb = 16
    time_minutes = 60
    sbatch_options = ["--qos=normal", "--constraint=a100"]
    max_retries = 1            # resubmissions of a preempted or failed job
    log_folder = "slurm-logs"  # relative to the run folder

Only the structure is checked here (types, names, ranges, unknown keys).  Whether the devices,
the ``sbatch`` binary and submitit are there is checked when the experiment is planned
(:func:`scinas.execution.check_execution`), still before any trial starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scinas.config.reader import Table

__all__ = ["EXECUTOR_NAMES", "STRATEGY_NAMES", "ExecutionConfig", "SlurmConfig", "parse_execution"]

#: ``[X.execution] strategy`` values: how one trial trains.
STRATEGY_NAMES: tuple[str, ...] = ("auto", "cpu", "gpu", "multi-gpu", "tpu", "multi-worker")
#: ``[X.execution] executor`` values: where trials run.
EXECUTOR_NAMES: tuple[str, ...] = ("inline", "local", "slurm")


@dataclass(frozen=True)
class SlurmConfig:
    """``[X.execution.slurm]``: the resources of one trial's Slurm job and how failures are retried."""

    partition: str | None = None
    account: str | None = None
    gpus_per_trial: int = 0
    cpus_per_trial: int = 1
    mem_gb: float | None = None
    time_minutes: int = 60
    sbatch_options: tuple[str, ...] = ()
    max_retries: int = 0
    log_folder: str = "slurm"
    poll_seconds: float = 2.0


@dataclass(frozen=True)
class ExecutionConfig:
    """``[X.execution]`` (see the module docstring); ``file``/``path`` locate it for later errors.

    ``strategy = "auto"`` (the default) trains on TensorFlow's default device: the first GPU when
    one is visible, else the CPU, and never fails for a missing device.  ``scale_batch_size``
    makes ``[X.training] batch_size`` the size per replica under ``multi-gpu``, ``tpu`` and
    ``multi-worker`` (the global batch is multiplied by the number of replicas); false keeps it
    global.
    """

    strategy: str = "auto"
    mixed_precision: bool = False
    xla: bool = False
    allow_fallback: bool = False
    scale_batch_size: bool = True
    executor: str = "inline"
    parallel_trials: int = 1
    oversubscribe: bool = False
    threads_per_worker: int | None = None
    tpu: str | None = None
    slurm: SlurmConfig = field(default_factory=SlurmConfig)
    file: str = ""
    path: str = ""

    @property
    def distributed(self) -> bool:
        """True when one trial spans several replicas (its batch may be scaled)."""
        return self.strategy in ("multi-gpu", "tpu", "multi-worker")


def _parse_slurm(table: Table) -> SlurmConfig:
    options = table.string_list("sbatch_options", [])
    for index, option in enumerate(options):
        if not option.startswith("--"):
            raise table.error("sbatch_options", f"option {index} ({option!r}) is not a long sbatch option",
                              fix='write each as "--name=value", e.g. "--qos=normal"')
    partition = table.any("partition", None)
    account = table.any("account", None)
    for key, value in (("partition", partition), ("account", account)):
        if value is not None and not (isinstance(value, str) and value):
            raise table.error(key, "expected a non-empty string", fix=f"remove {key} to use the cluster's default")
    config = SlurmConfig(
        partition=partition,
        account=account,
        gpus_per_trial=table.integer("gpus_per_trial", 0, minimum=0),
        cpus_per_trial=table.integer("cpus_per_trial", 1, minimum=1),
        mem_gb=table.optional_number("mem_gb", minimum=0.001),
        time_minutes=table.integer("time_minutes", 60, minimum=1),
        sbatch_options=options,
        max_retries=table.integer("max_retries", 0, minimum=0),
        log_folder=table.string("log_folder", "slurm"),
        poll_seconds=table.number("poll_seconds", 2.0, minimum=0.05),
    )
    table.finish()
    return config


def parse_execution(top: Table) -> ExecutionConfig:
    """``[<experiment>.execution]`` of the experiment table ``top`` (defaults when absent)."""
    table = top.table("execution")
    executor = table.string("executor", "inline", choices=EXECUTOR_NAMES)
    parallel = table.integer("parallel_trials", 1, minimum=1)
    if executor == "inline" and parallel > 1:
        raise table.error("parallel_trials", "the inline executor trains one trial at a time",
                          fix='set executor = "local" (a process per trial) or parallel_trials = 1')
    has_slurm = table.has("slurm")
    slurm = _parse_slurm(table.table("slurm"))
    if has_slurm and executor != "slurm":
        raise table.error("slurm", f'[{table.key_path("slurm")}] is only read by executor = "slurm"',
                          fix='set executor = "slurm", or remove the table')
    config = ExecutionConfig(
        strategy=table.string("strategy", "auto", choices=STRATEGY_NAMES),
        mixed_precision=table.boolean("mixed_precision", False),
        xla=table.boolean("xla", False),
        allow_fallback=table.boolean("allow_fallback", False),
        scale_batch_size=table.boolean("scale_batch_size", True),
        executor=executor,
        parallel_trials=parallel,
        oversubscribe=table.boolean("oversubscribe", False),
        threads_per_worker=table.optional_integer("threads_per_worker", minimum=1),
        tpu=table.any("tpu", None),
        slurm=slurm,
        file=table.file,
        path=table.path,
    )
    if config.tpu is not None and not isinstance(config.tpu, str):
        raise table.error("tpu", "expected a string (the TPU name or grpc:// address)")
    if config.tpu is not None and config.strategy != "tpu":
        raise table.error("tpu", 'only strategy = "tpu" uses a TPU address', value=config.tpu,
                          fix='set strategy = "tpu" or remove tpu')
    table.finish()
    return config
