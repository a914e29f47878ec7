"""Real GPU runs (marker ``gpu``): a trial on one GPU, MirroredStrategy over all of them, mixed
precision and XLA, and one local worker pinned per GPU.  Skipped where TensorFlow sees no GPU."""

from __future__ import annotations

from pathlib import Path

import pytest
import tensorflow as tf

from scinas.cli import main
from scinas.store import RunStore, TrialStatus
from tests.conftest import TINY_EXPERIMENTS, ConfigWriter

pytestmark = [pytest.mark.gpu, pytest.mark.slow,
              pytest.mark.skipif(not tf.config.list_physical_devices("GPU"), reason="no GPU visible")]

FLAGS = ["--no-progress", "-q"]
GPUS = len(tf.config.list_physical_devices("GPU"))


def _trials(results: Path) -> list[tuple[str, str, object, object]]:
    (run,) = sorted((results / "T").iterdir())
    with RunStore.open(run / "store.sqlite", readonly=True) as store:
        return [(t.status.value, str(t.extra.get("device")), t.epochs_completed, t.failure_reason)
                for t in store.trials()]


@pytest.mark.parametrize("settings", [
    ['T.execution.distribution="gpu"'],
    ['T.execution.distribution="gpu"', "T.execution.mixed_precision=true", "T.execution.xla=true",
     "T.training.batch_size=16"],
    ['T.execution.distribution="gpu"', 'T.execution.executor="local"'],
])
def test_a_trial_trains_on_a_gpu(write_config: ConfigWriter, tmp_path: Path, settings: list[str]) -> None:
    folder = write_config(TINY_EXPERIMENTS)
    assert main(["run", "T", *settings, "--config-dir", str(folder), "--results", str(tmp_path), *FLAGS]) == 0
    ((status, device, epochs, reason),) = _trials(tmp_path)
    assert status == TrialStatus.COMPLETED.value, reason
    assert device.startswith("gpu:") and epochs == 2


@pytest.mark.skipif(GPUS < 2, reason="MirroredStrategy needs 2 GPUs")
def test_mirrored_strategy_uses_every_gpu(write_config: ConfigWriter, tmp_path: Path) -> None:
    folder = write_config(TINY_EXPERIMENTS)
    assert main(["run", "T", 'T.execution.distribution="multi-gpu"', "T.training.batch_size=8", "--config-dir",
                 str(folder), "--results", str(tmp_path), *FLAGS]) == 0
    ((status, device, _, reason),) = _trials(tmp_path)
    assert status == TrialStatus.COMPLETED.value, reason
    assert device == "gpu:" + ",".join(str(i) for i in range(GPUS))
