"""Fixtures for the run-store tests: a fresh store in a temporary run folder."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from scinas.store import RunStore

__all__: list[str] = []

CONFIG_TEXT = "[E]\nseed = 7\n\n[E.training]\nepochs = 3\n"


@pytest.fixture
def config_text() -> str:
    """The resolved configuration the test run was made with."""
    return CONFIG_TEXT


@pytest.fixture
def manifest() -> dict[str, object]:
    """The manifest the test run was made with (one value is NaN, which JSON cannot hold)."""
    return {"scinas": "0.1.0", "host": "test", "devices": ["CPU:0"], "nan": float("nan")}


@pytest.fixture
def make_store(config_text: str, manifest: dict[str, object]) -> Callable[[Path], RunStore]:
    """A function making a new store for run ``r1`` of experiment ``E`` at a path."""

    def make(path: Path) -> RunStore:
        return RunStore.create(path, run_id="r1", experiment="E", seed=7, config_text=config_text,
                               manifest=manifest)

    return make


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """Where the store of a run folder lives (the folder does not exist yet)."""
    return tmp_path / "run" / "store.sqlite"


@pytest.fixture
def store(store_path: Path, make_store: Callable[[Path], RunStore]) -> Iterator[RunStore]:
    """An open, writable store (closed after the test)."""
    opened = make_store(store_path)
    yield opened
    opened.close()
