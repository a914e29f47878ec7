"""The executors by their ``[X.execution] executor`` name, and the checks made when planning.

Each name maps to an :class:`ExecutorKind`: a small class that owns ``[X.execution.<name>]``
(its ``Options``, see :mod:`scinas.configurable`), checks what it needs when the experiment is
planned and makes the run's :class:`~scinas.execution.base.Executor`.  A kind registered from
user code is selectable from TOML like the shipped ones, which sit beside their executors
(:mod:`~scinas.execution.inline`, :mod:`~scinas.execution.local`, :mod:`~scinas.execution.slurm`):
the registry imports every module of :mod:`scinas.execution` on its first lookup, so a new
executor is one module there (its executor and its kind) plus its test::

    @EXECUTORS.register("ssh")
    class SshKind(ExecutorKind):
        @dataclass(frozen=True)
        class Options:
            hosts: tuple[str, ...] = option((), doc="machines to run trials on")

        @classmethod
        def create(cls, context, options):
            return SshExecutor(context.store, options.hosts)

:func:`check_execution` runs when an experiment is planned, before any data is generated or any
trial starts: the executor's table must be valid, the training strategy's devices must be here
(unless ``allow_fallback``), a local pool may not have more workers than devices (unless
``oversubscribe``), and a Slurm executor needs submitit, the ``sbatch`` binary and options that
``sbatch --test-only`` accepts (its own message is the error).  :func:`create_executor` builds
the executor of a run.
"""

from __future__ import annotations

import abc
import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scinas.config.execution import ExecutionConfig
from scinas.config.experiment import ExperimentConfig
from scinas.config.reader import Table
from scinas.configurable import Configurable
from scinas.errors import ConfigError
from scinas.execution.base import Executor
from scinas.registry import Registry
from scinas.store import RunStore

if TYPE_CHECKING:
    from scinas.data.pipeline import PreparedDataset
    from scinas.training.distribution import DeviceInventory

__all__ = ["EXECUTORS", "ExecutionContext", "ExecutorKind", "LocalSlots", "check_execution", "create_executor",
           "local_slots", "resolve_executor", "usable_cpus"]


@dataclass(frozen=True)
class ExecutionContext:
    """What an executor of a run needs: the experiment, its store, folders and prepared dataset."""

    experiment: ExperimentConfig
    store: RunStore
    run_dir: Path
    cache_root: Path
    dataset: PreparedDataset
    verbose: int | None = None


def usable_cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class LocalSlots:
    """How a local pool uses this machine: GPU ids to pin (empty: CPU workers), devices, threads."""

    gpus: tuple[str, ...] | None
    hide_gpus: bool
    devices: int
    threads: int | None


def local_slots(execution: ExecutionConfig, inventory: DeviceInventory) -> LocalSlots:
    """The devices a local pool spreads its workers over (see the module docstring)."""
    strategy = execution.distribution
    if strategy in ("multi-gpu", "tpu", "multi-worker"):
        return LocalSlots(None, False, 1, execution.threads_per_worker)  # a trial takes every device
    if strategy in ("gpu", "auto") and inventory.gpus:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").strip()
        ids = [part.strip() for part in visible.split(",") if part.strip()] if visible else []
        ids = ids[:len(inventory.gpus)] if ids else [str(i) for i in range(len(inventory.gpus))]
        return LocalSlots(tuple(ids), False, len(ids), execution.threads_per_worker)
    cpus = usable_cpus()
    threads = execution.threads_per_worker or max(cpus // execution.parallel_trials, 1)
    return LocalSlots((), strategy == "cpu", cpus, threads)


class ExecutorKind(Configurable, abc.ABC):
    """One ``[X.execution] executor`` name: its options, its planning checks and its executor."""

    @classmethod
    def check(cls, experiment: ExperimentConfig, options: Any) -> None:
        """Raise a ConfigError if this executor cannot run the experiment here (called when planned)."""

    @classmethod
    @abc.abstractmethod
    def create(cls, context: ExecutionContext, options: Any) -> Executor:
        """The executor of a run."""


#: ``[X.execution] executor`` name → its kind; each module of :mod:`scinas.execution` registers its
#: own (``inline``, ``local``, ``slurm`` beside their executors), found on the first lookup.
EXECUTORS: Registry[type[ExecutorKind]] = Registry("executor", discover="scinas.execution")


def resolve_executor(execution: ExecutionConfig) -> tuple[type[ExecutorKind], Any]:
    """The kind ``[X.execution] executor`` names and its options, read from ``[X.execution.<name>]``."""
    path = f"{execution.path}.executor" if execution.path else "executor"
    table_path = f"{execution.path}.{execution.executor}" if execution.path else execution.executor
    table = Table(execution.executor_table, file=execution.file, path=table_path)
    return EXECUTORS.resolve(execution.executor, table, path=path)


def check_execution(experiment: ExperimentConfig) -> None:
    """Refuse an execution set-up that cannot run here, before anything runs (see the module doc)."""
    from scinas.training.distribution import DeviceInventory, DistributionPlan

    execution = experiment.execution
    kind, options = resolve_executor(execution)
    kind.check(experiment, options)
    if execution.executor == "slurm" and experiment.selection is None and experiment.final is None:
        return  # every trial trains on the compute nodes, with their devices
    inventory = DeviceInventory.detect(execution)
    try:
        plan = DistributionPlan.resolve(execution, inventory)
    except ConfigError as exc:
        if execution.executor != "slurm":
            raise
        raise ConfigError(exc.problem + " (the selection and final trainings after a search run in the "
                          "coordinating process, here)", file=exc.file, path=exc.path, value=exc.value,
                          fix="run the coordinator inside a job on such a node, or set allow_fallback = true") from None
    if execution.executor != "local":
        return
    slots = local_slots(dataclasses.replace(execution, distribution=plan.strategy), inventory)
    if execution.parallel_trials > slots.devices and not execution.oversubscribe:
        what = "GPUs" if slots.gpus else "devices (a trial takes them all)" if slots.gpus is None else "CPUs"
        raise ConfigError(f"{execution.parallel_trials} local workers but only {slots.devices} {what} here",
                          file=execution.file, path=f"{execution.path}.parallel_trials",
                          value=execution.parallel_trials,
                          fix=f"set parallel_trials <= {slots.devices}, or oversubscribe = true to share devices")


def create_executor(context: ExecutionContext) -> Executor:
    """The executor named by the experiment's ``[X.execution] executor``."""
    kind, options = resolve_executor(context.experiment.execution)
    return kind.create(context, options)
