"""The tf.distribute strategy, precision policy and XLA switch one trial trains under.

``[X.execution] distribution`` names how a trial trains:

* ``auto``: TensorFlow's default strategy (the first visible GPU, else the CPU); never an error;
* ``cpu``: ``OneDeviceStrategy("/cpu:0")``, even when GPUs are visible;
* ``gpu``: ``OneDeviceStrategy("/gpu:0")`` (the local executor pins each worker to one GPU
  through ``CUDA_VISIBLE_DEVICES``, so this is "the worker's GPU");
* ``multi-gpu``: ``MirroredStrategy`` over every visible GPU;
* ``tpu``: ``TPUStrategy`` through ``TPUClusterResolver`` (``[X.execution] tpu`` names the TPU);
* ``multi-worker``: ``MultiWorkerMirroredStrategy`` with ``SlurmClusterResolver``, inside a
  multi-node Slurm allocation (one task per node, started with ``srun``).

A strategy whose devices are absent is a :class:`~scinas.errors.ConfigError` (raised when the
experiment is planned), unless ``allow_fallback = true``: then the trial trains on the CPU and
a warning says why.  Under a strategy with several replicas, ``batch_size`` is per replica when
``scale_batch_size`` is true (the global batch is ``batch_size * replicas``).

``mixed_precision = true`` sets Keras' ``mixed_float16`` policy while the model is built: the
model generators keep their outputs in float32, and Keras 3 wraps the optimizer of a
``mixed_float16`` model in a ``LossScaleOptimizer`` when it is compiled (dynamic loss scaling).
``xla = true`` compiles with ``jit_compile=True``; the training split then drops its last partial
batch so every step has the same static shape (evaluation keeps every sample).

Example::

    plan = DistributionPlan.resolve(experiment.execution)
    with plan.scope():
        model = build_compiled_model(experiment, architecture, dataset, jit_compile=plan.xla)
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import keras
import tensorflow as tf

from scinas.config.execution import ExecutionConfig
from scinas.errors import ConfigError

__all__ = ["DeviceInventory", "DistributionPlan", "build_strategy", "global_batch_size", "precision_policy"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeviceInventory:
    """What this process can train on: GPU names, whether a TPU and a multi-node Slurm job are there."""

    gpus: tuple[str, ...]
    tpu: bool
    slurm_nodes: int

    @classmethod
    def detect(cls, config: ExecutionConfig | None = None) -> DeviceInventory:
        """Look at the visible GPUs, a TPU (only when ``distribution = "tpu"``: probing is slow) and Slurm."""
        gpus = tuple(device.name for device in tf.config.list_physical_devices("GPU"))
        tpu = False
        if config is not None and config.distribution == "tpu":
            tpu = _tpu_reachable(config.tpu)
        nodes = int(os.environ.get("SLURM_JOB_NUM_NODES") or os.environ.get("SLURM_NNODES") or 0)
        return cls(gpus, tpu, nodes)


def _tpu_reachable(name: str | None) -> bool:
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=name)
        resolver.cluster_spec()
    except (ValueError, RuntimeError, tf.errors.OpError) as exc:
        logger.debug("no TPU: %s", exc)
        return False
    return True


@dataclass(frozen=True)
class DistributionPlan:
    """The strategy a trial trains under once availability is checked (``strategy`` may have
    fallen back to ``cpu``), with the precision and XLA switches."""

    strategy: str
    mixed_precision: bool
    xla: bool
    scale_batch_size: bool
    tpu: str | None = None

    @classmethod
    def resolve(cls, config: ExecutionConfig, inventory: DeviceInventory | None = None) -> DistributionPlan:
        """Check that ``config.distribution`` can run here; fall back to ``cpu`` only when allowed.

        Raises:
            ConfigError: the strategy's devices are absent and ``allow_fallback`` is false.
        """
        inventory = inventory if inventory is not None else DeviceInventory.detect(config)
        missing = _missing(config.distribution, inventory)
        strategy = config.distribution
        if missing is not None:
            if not config.allow_fallback:
                raise ConfigError(f"distribution {config.distribution!r} cannot run here: {missing}",
                                  file=config.file,
                                  path=f"{config.path}.distribution" if config.path else "distribution",
                                  value=config.distribution,
                                  fix='use distribution = "cpu" (or "auto"), or set allow_fallback = true to train '
                                      "on the CPU with a warning")
            logger.warning("distribution %r cannot run here (%s): training on the CPU (allow_fallback = true)",
                           config.distribution, missing)
            strategy = "cpu"
        mixed = config.mixed_precision
        if mixed and strategy == "cpu":
            logger.warning("mixed precision on the CPU is slow (float16 is emulated); it stays on as configured")
        return cls(strategy, mixed, config.xla, config.scale_batch_size, config.tpu)

    def build(self) -> tf.distribute.Strategy:
        """The tf.distribute strategy (see :func:`build_strategy`)."""
        return build_strategy(self.strategy, tpu=self.tpu)

    @contextlib.contextmanager
    def scope(self) -> Iterator[tf.distribute.Strategy]:
        """Build the strategy and enter its scope under the precision policy (restored on exit)."""
        strategy = self.build()
        with precision_policy(self.mixed_precision), strategy.scope():
            yield strategy

    def batch_size(self, batch_size: int | None, replicas: int) -> int | None:
        """The global batch size for ``replicas`` replicas (see :func:`global_batch_size`)."""
        return global_batch_size(batch_size, replicas, scale=self.scale_batch_size)

    def device(self, inventory: DeviceInventory | None = None) -> str:
        """Where a trial trains, as recorded in ``extra["device"]``: ``cpu``, ``tpu``, ``gpu:0``,
        ``gpu:0,1`` (numbered as the machine numbers them: ``CUDA_VISIBLE_DEVICES`` when set)."""
        if self.strategy in ("cpu", "tpu"):
            return self.strategy
        gpus = (inventory or DeviceInventory.detect()).gpus
        if not gpus:
            return "cpu"
        visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").strip()
        ids = [part.strip() for part in visible.split(",") if part.strip()] if visible else []
        ids = ids[:len(gpus)] if ids else [str(i) for i in range(len(gpus))]
        return "gpu:" + (",".join(ids) if self.strategy in ("multi-gpu", "multi-worker") else ids[0])


def _missing(strategy: str, inventory: DeviceInventory) -> str | None:
    """Why ``strategy`` cannot run with ``inventory``, or None."""
    if strategy == "gpu" and not inventory.gpus:
        return "no GPU is visible to TensorFlow"
    if strategy == "multi-gpu" and len(inventory.gpus) < 2:
        return f"MirroredStrategy needs at least 2 visible GPUs, found {len(inventory.gpus)}"
    if strategy == "tpu" and not inventory.tpu:
        return "no TPU was found by the TPU cluster resolver"
    if strategy == "multi-worker" and inventory.slurm_nodes < 2:
        return ("MultiWorkerMirroredStrategy needs a multi-node Slurm allocation "
                f"(SLURM_JOB_NUM_NODES = {inventory.slurm_nodes or 'unset'})")
    return None


def _tpu_strategy(name: str | None) -> tf.distribute.Strategy:
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=name)
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


_BUILDERS: dict[str, Callable[[str | None], tf.distribute.Strategy]] = {
    "auto": lambda _: tf.distribute.get_strategy(),
    "cpu": lambda _: tf.distribute.OneDeviceStrategy("/cpu:0"),
    "gpu": lambda _: tf.distribute.OneDeviceStrategy("/gpu:0"),
    "multi-gpu": lambda _: tf.distribute.MirroredStrategy(),
    "tpu": _tpu_strategy,
    "multi-worker": lambda _: tf.distribute.MultiWorkerMirroredStrategy(
        cluster_resolver=tf.distribute.cluster_resolver.SlurmClusterResolver()),
}


def build_strategy(name: str, *, tpu: str | None = None) -> tf.distribute.Strategy:
    """The tf.distribute strategy called ``name`` in ``[X.execution] strategy``."""
    try:
        builder = _BUILDERS[name]
    except KeyError:
        raise ConfigError(f"unknown training strategy {name!r}", path="execution.distribution", value=name,
                          fix="known: " + ", ".join(_BUILDERS)) from None
    return builder(tpu)


def global_batch_size(batch_size: int | None, replicas: int, *, scale: bool) -> int | None:
    """``batch_size * replicas`` when ``scale`` (``batch_size`` is per replica), else ``batch_size``."""
    if batch_size is None or not scale or replicas <= 1:
        return batch_size
    return batch_size * replicas


@contextlib.contextmanager
def precision_policy(mixed: bool) -> Iterator[None]:
    """Keras' ``mixed_float16`` policy while inside (when ``mixed``); the previous one after.

    The policy is read when layers are created, so building the model inside is enough: a trial
    in the same process afterwards (inline executor) builds float32 models again.
    """
    if not mixed:
        yield
        return
    previous: Any = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        yield
    finally:
        keras.mixed_precision.set_dtype_policy(previous)
