"""The tensorboard tracker: per-trial scalars and hparams sessions, read back with TensorBoard's reader."""

from __future__ import annotations

from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

from scinas.store import RunStatus
from tests.tracking.conftest import ARCHITECTURES, FedRunFactory


def _events(directory: Path) -> EventAccumulator:
    accumulator = EventAccumulator(str(directory))
    accumulator.Reload()
    return accumulator


def _hparams(accumulator: EventAccumulator) -> dict[str, plugin_data_pb2.HParamsPluginData]:
    content = accumulator.PluginTagToContent(metadata.PLUGIN_NAME)
    return {tag: plugin_data_pb2.HParamsPluginData.FromString(data) for tag, data in content.items()}


def test_scalars_per_trial_and_hparams_sessions(fed_run: FedRunFactory) -> None:
    run = fed_run(("tensorboard",))
    run.start()
    run.train("trial-0000", epochs=2)
    run.train("trial-0001", epochs=1, fail=True, phase="selection")
    run.write_outputs()
    run.finish()
    root = run.run_dir / "tensorboard"

    first = _events(root / "trial-0000")
    losses = first.Scalars("epoch/loss")
    assert [event.step for event in losses] == [1, 2]
    assert [event.value for event in losses] == [1.0, 0.5]
    assert [event.step for event in first.Scalars("epoch/val_r_squared")] == [1, 2]
    assert first.Scalars("final/validation/r_squared")[0].value == pytest.approx(0.6)
    assert first.Scalars("final/test/loss")[0].value == pytest.approx(0.45)
    assert first.Scalars("cost/params")[0].value == 1234.0
    assert first.Scalars("cost/train_time_s")[0].step == 2

    sessions = _hparams(first)
    start = sessions[metadata.SESSION_START_INFO_TAG].session_start_info
    assert start.group_name == "trial-0000"
    assert start.hparams["architecture"].string_value == ARCHITECTURES["trial-0000"]
    assert start.hparams["objectives"].string_value == "max validation r_squared; min time"
    assert start.hparams["phase"].string_value == "search"
    assert sessions[metadata.SESSION_END_INFO_TAG].session_end_info.status == api_pb2.STATUS_SUCCESS

    failed = _events(root / "trial-0001")
    assert [event.step for event in failed.Scalars("epoch/loss")] == [1]
    assert _hparams(failed)[metadata.SESSION_START_INFO_TAG].session_start_info.hparams["phase"].string_value == (
        "selection")
    assert _hparams(failed)[metadata.SESSION_END_INFO_TAG].session_end_info.status == api_pb2.STATUS_FAILURE

    top = _events(root)
    scores = top.Scalars("trials/validation_r_squared")
    assert [event.step for event in scores] == [0]  # the failed trial has no score
    assert scores[0].value == pytest.approx(0.6)
    assert "run/summary" in top.Tags()["tensors"]


def test_an_interrupted_trial_keeps_its_epochs(fed_run: FedRunFactory) -> None:
    run = fed_run(("tensorboard",))
    run.start()
    run.train("trial-0000", epochs=2, finish=False)
    run.finish(RunStatus.INTERRUPTED)
    accumulator = _events(run.run_dir / "tensorboard" / "trial-0000")
    assert [event.step for event in accumulator.Scalars("epoch/loss")] == [1, 2]
    assert metadata.SESSION_END_INFO_TAG not in _hparams(accumulator)
