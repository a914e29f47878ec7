"""The executors by their ``[X.execution] executor`` name, and the checks made when planning.

:func:`check_execution` runs when an experiment is planned, before any data is generated or any
trial starts: the training strategy's devices must be here (unless ``allow_fallback``), a local
pool may not have more workers than devices (unless ``oversubscribe``), and a Slurm executor
needs submitit, the ``sbatch`` binary and options that ``sbatch --test-only`` accepts (its own
message is the error).  :func:`create_executor` builds the executor of a run.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from scinas.config.execution import EXECUTOR_NAMES, ExecutionConfig
from scinas.config.experiment import ExperimentConfig
from scinas.config.reader import suggest
from scinas.errors import ConfigError
from scinas.execution.base import Executor
from scinas.store import RunStore
from scinas.store.layout import RunLayout

if TYPE_CHECKING:
    from scinas.data.pipeline import PreparedDataset
    from scinas.training.distribution import DeviceInventory

__all__ = ["EXECUTORS", "ExecutionContext", "LocalSlots", "check_execution", "create_executor", "local_slots",
           "usable_cpus"]


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
    strategy = execution.strategy
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


def check_execution(experiment: ExperimentConfig) -> None:
    """Refuse an execution set-up that cannot run here, before anything runs (see the module doc)."""
    from scinas.training.distribution import DeviceInventory, DistributionPlan

    execution = experiment.execution
    if execution.executor == "slurm":
        from scinas.execution.slurm import check_slurm

        check_slurm(execution)
        if experiment.selection is None and experiment.final is None:
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
    slots = local_slots(dataclasses.replace(execution, strategy=plan.strategy), inventory)
    if execution.parallel_trials > slots.devices and not execution.oversubscribe:
        what = "GPUs" if slots.gpus else "devices (a trial takes them all)" if slots.gpus is None else "CPUs"
        raise ConfigError(f"{execution.parallel_trials} local workers but only {slots.devices} {what} here",
                          file=execution.file, path=f"{execution.path}.parallel_trials",
                          value=execution.parallel_trials,
                          fix=f"set parallel_trials <= {slots.devices}, or oversubscribe = true to share devices")


def _inline(context: ExecutionContext) -> Executor:
    from scinas.execution.inline import InlineExecutor
    from scinas.training.trainer import Trainer

    trainer = Trainer(context.experiment, context.dataset, context.store, verbose=context.verbose)
    return InlineExecutor(trainer, context.store, RunLayout(context.run_dir).trials)


def _local(context: ExecutionContext) -> Executor:
    from scinas.execution.local import LocalExecutor
    from scinas.training.distribution import DeviceInventory, DistributionPlan

    execution = context.experiment.execution
    inventory = DeviceInventory.detect(execution)
    plan = DistributionPlan.resolve(execution, inventory)
    slots = local_slots(dataclasses.replace(execution, strategy=plan.strategy), inventory)
    return LocalExecutor(context.store, context.run_dir, context.experiment.name, context.cache_root,
                         workers=execution.parallel_trials, gpus=slots.gpus, hide_gpus=slots.hide_gpus,
                         threads=slots.threads, verbose=2 if context.verbose is None else context.verbose)


def _slurm(context: ExecutionContext) -> Executor:
    from scinas.execution.slurm import SlurmExecutor

    execution = context.experiment.execution
    return SlurmExecutor(context.store, context.run_dir, context.experiment.name, context.cache_root,
                         execution.slurm, jobs=execution.parallel_trials,
                         verbose=2 if context.verbose is None else context.verbose)


#: ``[X.execution] executor`` name → factory.
EXECUTORS: dict[str, Callable[[ExecutionContext], Executor]] = {"inline": _inline, "local": _local, "slurm": _slurm}


def create_executor(context: ExecutionContext) -> Executor:
    """The executor named by the experiment's ``[X.execution] executor``."""
    name = context.experiment.execution.executor
    try:
        factory = EXECUTORS[name]
    except KeyError:
        raise ConfigError("unknown executor", path=f"{context.experiment.name}.execution.executor", value=name,
                          fix=suggest(name, EXECUTOR_NAMES)) from None
    return factory(context)
