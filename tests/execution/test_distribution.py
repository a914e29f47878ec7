"""Training strategies on the CPU; every absent-device path with mocked device lists and resolvers;
mixed precision and XLA reaching the compiled model."""

from __future__ import annotations

import dataclasses
import logging

import keras
import pytest
import tensorflow as tf

from scinas.config.execution import ExecutionConfig
from scinas.config.experiment import parse_experiment
from scinas.config.loading import load_config
from scinas.errors import ConfigError
from scinas.experiment.plan import architecture_of, plan_experiments
from scinas.training import distribution
from scinas.training.distribution import DeviceInventory, DistributionPlan, global_batch_size, precision_policy
from scinas.training.trainer import build_compiled_model
from tests.conftest import TINY_EXPERIMENTS, ConfigWriter

NOTHING = DeviceInventory(gpus=(), tpu=False, slurm_nodes=0)
TWO_GPUS = DeviceInventory(gpus=("/physical_device:GPU:0", "/physical_device:GPU:1"), tpu=False, slurm_nodes=0)


def _config(**fields: object) -> ExecutionConfig:
    return dataclasses.replace(ExecutionConfig(file="configurations.toml", path="E.execution"), **fields)


def test_cpu_and_auto_strategies_are_created_on_the_cpu() -> None:
    cpu = DistributionPlan.resolve(_config(distribution="cpu"), NOTHING)
    with cpu.scope() as strategy:
        assert isinstance(strategy, tf.distribute.OneDeviceStrategy)
        assert strategy.num_replicas_in_sync == 1
        variable = tf.Variable(1.0)
    assert "CPU" in variable.device.upper()
    auto = DistributionPlan.resolve(_config(distribution="auto"), NOTHING)
    assert auto.strategy == "auto" and auto.device(NOTHING) == "cpu"
    with auto.scope() as strategy:
        assert strategy is tf.distribute.get_strategy()


@pytest.mark.parametrize(("strategy", "inventory", "words"), [
    ("gpu", NOTHING, "no GPU is visible"),
    ("multi-gpu", NOTHING, "at least 2 visible GPUs, found 0"),
    ("multi-gpu", DeviceInventory(gpus=("/physical_device:GPU:0",), tpu=False, slurm_nodes=0), "found 1"),
    ("tpu", NOTHING, "no TPU was found"),
    ("multi-worker", NOTHING, "multi-node Slurm allocation (SLURM_JOB_NUM_NODES = unset)"),
    ("multi-worker", DeviceInventory(gpus=(), tpu=False, slurm_nodes=1), "SLURM_JOB_NUM_NODES = 1"),
])
def test_an_absent_device_is_a_config_error(strategy: str, inventory: DeviceInventory, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        DistributionPlan.resolve(_config(distribution=strategy), inventory)
    assert words in str(caught.value)
    assert caught.value.path == "E.execution.distribution" and caught.value.value == strategy
    assert "allow_fallback = true" in str(caught.value)


@pytest.mark.parametrize("strategy", ["gpu", "multi-gpu", "tpu", "multi-worker"])
def test_fallback_to_the_cpu_is_logged_when_allowed(strategy: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="scinas.training.distribution"):
        plan = DistributionPlan.resolve(_config(distribution=strategy, allow_fallback=True), NOTHING)
    assert plan.strategy == "cpu" and plan.device(NOTHING) == "cpu"
    assert f"distribution {strategy!r} cannot run here" in caplog.text


def test_devices_present_pass_the_check() -> None:
    assert DistributionPlan.resolve(_config(distribution="multi-gpu"), TWO_GPUS).strategy == "multi-gpu"
    assert DistributionPlan.resolve(_config(distribution="gpu"), TWO_GPUS).device(TWO_GPUS) == "gpu:0"
    assert DistributionPlan.resolve(_config(distribution="multi-gpu"), TWO_GPUS).device(TWO_GPUS) == "gpu:0,1"
    assert DistributionPlan.resolve(_config(distribution="tpu"), DeviceInventory((), True, 0)).strategy == "tpu"
    assert DistributionPlan.resolve(_config(distribution="multi-worker"),
                                    DeviceInventory((), False, 2)).strategy == "multi-worker"


def test_detect_reads_the_slurm_allocation_and_asks_the_tpu_resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLURM_JOB_NUM_NODES", "4")
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    asked: list[str | None] = []

    class Resolver:
        def __init__(self, tpu: str | None = None) -> None:
            asked.append(tpu)
            raise ValueError("Please provide a TPU Name to connect to.")

    monkeypatch.setattr(tf.distribute.cluster_resolver, "TPUClusterResolver", Resolver)
    inventory = DeviceInventory.detect(_config(distribution="tpu", tpu="grpc://10.0.0.2:8470"))
    assert inventory == DeviceInventory((), False, 4) and asked == ["grpc://10.0.0.2:8470"]
    assert DeviceInventory.detect(_config(distribution="cpu")).tpu is False and len(asked) == 1  # not probed


def test_strategy_builders_get_their_resolvers(monkeypatch: pytest.MonkeyPatch) -> None:
    """multi-gpu → MirroredStrategy, multi-worker → MultiWorkerMirroredStrategy(SlurmClusterResolver)."""
    made: list[tuple[str, object]] = []
    monkeypatch.setattr(tf.distribute, "MirroredStrategy", lambda: made.append(("mirrored", None)) or "M")
    monkeypatch.setattr(tf.distribute.cluster_resolver, "SlurmClusterResolver", lambda: "slurm-resolver")
    monkeypatch.setattr(tf.distribute, "MultiWorkerMirroredStrategy",
                        lambda cluster_resolver: made.append(("multi-worker", cluster_resolver)) or "W")
    assert distribution.build_strategy("multi-gpu") == "M"
    assert distribution.build_strategy("multi-worker") == "W"
    assert made == [("mirrored", None), ("multi-worker", "slurm-resolver")]
    with pytest.raises(ConfigError, match="unknown training strategy"):
        distribution.build_strategy("quantum")


def test_batch_size_is_per_replica_when_scaled() -> None:
    assert global_batch_size(32, 4, scale=True) == 128
    assert global_batch_size(32, 4, scale=False) == 32
    assert global_batch_size(None, 4, scale=True) is None
    assert DistributionPlan.resolve(_config(distribution="multi-gpu"), TWO_GPUS).batch_size(16, 2) == 32


def test_precision_policy_is_restored() -> None:
    before = keras.mixed_precision.dtype_policy().name
    with precision_policy(True):
        assert keras.mixed_precision.dtype_policy().name == "mixed_float16"
    assert keras.mixed_precision.dtype_policy().name == before


def test_mixed_precision_and_xla_reach_the_compiled_model(write_config: ConfigWriter) -> None:
    folder = write_config(TINY_EXPERIMENTS + '\n[T.execution]\nstrategy = "cpu"\nmixed_precision = true\n'
                                             "xla = true\n")
    plan = plan_experiments(load_config(folder), ["T"])[0]
    config = plan.config
    distribution_plan = DistributionPlan.resolve(config.execution)
    with distribution_plan.scope():
        model = build_compiled_model(config, architecture_of(config), info=plan.generator.info())
    try:
        assert model.jit_compile is True
        assert model.dtype_policy.name == "mixed_float16"
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)  # Keras 3 wraps it itself
        assert keras.backend.standardize_dtype(model.outputs[0].dtype) == "float32"
        assert any(keras.backend.standardize_dtype(layer.compute_dtype) == "float16" for layer in model.layers)
    finally:
        keras.backend.clear_session()
    assert keras.mixed_precision.dtype_policy().name == "float32"
    plain = parse_experiment(load_config(folder, ["T.execution.mixed_precision=false", "T.execution.xla=false"]),
                             "T")
    model = build_compiled_model(plain, architecture_of(plain), info=plan.generator.info())
    assert model.jit_compile is not True and not isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    keras.backend.clear_session()
