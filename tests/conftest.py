"""Shared fixtures: a temporary config folder with a tiny Michaelis–Menten dataset."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import logging
import os
import signal
import sys
import textwrap
import types
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(autouse=True, scope="session")
def _sigint_as_in_a_terminal() -> Iterator[None]:
    """The tests of interrupts and of the dashboard's stop expect SIGINT handled as in a terminal;
    pytest started as a background job of a non-interactive shell (``nohup ... &``, a batch
    script) inherits it ignored, and so would the processes the tests start."""
    previous = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)


@pytest.fixture(autouse=True)
def _package_log_level_kept() -> Iterator[None]:
    """A test (or a benchmark's ``main`` it calls) that changes the ``scinas`` logger's level would
    silence the info records of every later test (run.log, notes): it fails here instead."""
    package = logging.getLogger("scinas")
    level = package.level
    yield
    assert package.level == level, f"the test changed the 'scinas' logger's level to {package.level}"

REPO = Path(__file__).resolve().parents[1]

TINY_DATA = """
[tiny]
generator = "michaelis_menten"
description = "tiny set for tests"
[tiny.parameters]
k1_min = 0.01
k1_max = 0.05
k2_min = 0.01
k2_max = 0.05
k3_min = 0.01
k3_max = 0.05
E0_min = 0.1
E0_max = 0.3
S0_min = 0.1
S0_max = 0.3
spectra_min = -1
spectra_max = 1
amplitude_min = 0.2
amplitude_max = 0.8
[tiny.shape]
seed = 1
n_samples = 120
n_shards = 3
batch_size = 16
shuffle_buffer_size = 64
splits = [0.6, 0.2, 0.2]
"""

TINY_EXPERIMENTS = """
default = ["T"]
[T]
description = "tiny dense model"
seed = 3
[T.dataset]
training = "tiny"
[T.structure]
layers = [
  { type = "Flatten" },
  { type = "Dense", units = 8, activation = "relu" },
  { type = "Dense", units = 12 },
]
[T.compile]
optimizer = { name = "adam", learning_rate = 1e-3 }
loss = "mse"
metrics = ["R_squared", "MeanAbsoluteError"]
[T.training]
epochs = 2
"""

# The tiny spectra read as series (rank 1, for 1D cells) and a tiny POPNAS search on them.
SERIES_DATA = TINY_DATA.replace("[tiny.parameters]", '[tiny.parameters]\nlayout = "series"')

TINY_SEARCH = """
default = ["P"]
[P]
seed = 1
[P.dataset]
training = "tiny"
[P.search]
strategy = "popnas"
score = "r_squared"
costs = ["time"]
max_children = 2
max_exploration_children = 1
predictor_epochs = 5
predictor_ensemble = 1
[P.search_space]
blocks = 2
lookback_depth = 1
operators = ["identity", "3 conv"]
[P.architecture]
filters = 4
motifs = 1
normal_cells_per_motif = 1
[P.compile]
loss = "mse"
metrics = ["R_squared"]
[P.training]
epochs = 1
tensorboard = false
[P.costs]
latency = false
"""

ConfigWriter = Callable[..., Path]


@pytest.fixture
def write_config(tmp_path: Path) -> ConfigWriter:
    """Write configurations.toml / data.toml (tiny defaults) into a fresh folder and return it."""

    def write(experiments: str = TINY_EXPERIMENTS, data: str = TINY_DATA, name: str = "config") -> Path:
        folder = tmp_path / name
        folder.mkdir(exist_ok=True)
        (folder / "configurations.toml").write_text(textwrap.dedent(experiments))
        (folder / "data.toml").write_text(textwrap.dedent(data))
        return folder

    return write


PackageFaker = Callable[[str], None]


@pytest.fixture
def as_installed(monkeypatch: pytest.MonkeyPatch) -> PackageFaker:
    """Make an optional package look installed when it is not (an empty stand-in module), so that
    checks which come after the package check are tested on a plain install too."""

    def fake(name: str) -> None:
        if importlib.util.find_spec(name) is not None:
            return
        module = types.ModuleType(name)
        module.__spec__ = importlib.machinery.ModuleSpec(name, None)
        monkeypatch.setitem(sys.modules, name, module)

    return fake
