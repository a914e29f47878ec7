"""A real (tiny) search records every trial's time cost and tells the strategy that as its time."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from scinas.cli import main
from scinas.search.base import TrialOutcome
from scinas.search.popnas import PopnasStrategy
from scinas.store import RunStore, TrialStatus
from tests.conftest import SERIES_DATA, TINY_SEARCH, ConfigWriter

SEARCH = TINY_SEARCH + "[P.final]\nonnx = false\n"


@pytest.mark.slow
def test_a_search_records_the_time_cost_and_minimises_it(
    write_config: ConfigWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    told: dict[str, TrialOutcome] = {}
    original = PopnasStrategy.tell

    def tell(self: PopnasStrategy, outcomes: Sequence[TrialOutcome]) -> None:
        told.update((outcome.name, outcome) for outcome in outcomes)
        original(self, outcomes)

    monkeypatch.setattr(PopnasStrategy, "tell", tell)
    results = tmp_path / "results"
    assert (
        main(
            [
                "run",
                "P",
                "--config-dir",
                str(write_config(SEARCH, SERIES_DATA)),
                "--results",
                str(results),
                "--no-progress",
                "-q",
            ]
        )
        == 0
    )
    (run,) = sorted((results / "P").iterdir())
    with RunStore.open(run / "store.sqlite", readonly=True) as store:
        completed = [t for t in store.trials() if t.status == TrialStatus.COMPLETED]
    assert completed and all(t.time_cost_s is not None and t.time_cost_s > 0 for t in completed)
    search = {t.name: t for t in completed if t.phase == "search"}
    assert told and set(told) <= set(search)
    for name, outcome in told.items():
        assert outcome.costs == {"time": search[name].time_cost_s}
