"""Registries find their built-in members: a module in the registry's package that registers a
class with the decorator is all it takes (no list of names to extend anywhere)."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from scinas.errors import ConfigError
from scinas.execution.registry import EXECUTORS
from scinas.predictors import PREDICTORS
from scinas.priors import PRIORS
from scinas.search.registry import STRATEGIES
from scinas.tracking import TRACKERS
from tests.conftest import SERIES_DATA, TINY_SEARCH, ConfigWriter


def _package(root: Path, name: str, modules: dict[str, str]) -> None:
    folder = root / name
    folder.mkdir()
    (folder / "__init__.py").write_text("from scinas.registry import Registry\n\n"
                                        f'THINGS = Registry("thing", discover="{name}")\n')
    for module, body in modules.items():
        (folder / f"{module}.py").write_text(textwrap.dedent(body))


_ALPHA = """
from {package} import THINGS


@THINGS.register("alpha")
class Alpha:
    pass
"""


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A package ``scinas_test_plugins`` with a registry discovering it; removed afterwards."""
    name = "scinas_test_plugins"
    _package(tmp_path, name, {"alpha": _ALPHA.format(package=name),
                              "_hidden": f'from {name} import THINGS\nTHINGS.register("hidden")(object)\n'})
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    for module in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
        del sys.modules[module]


def test_the_first_lookup_imports_the_package_s_modules(plugins: str, tmp_path: Path) -> None:
    import importlib

    things = importlib.import_module(plugins).THINGS
    assert f"{plugins}.alpha" not in sys.modules  # lazy: nothing imported before a lookup
    assert things.get("alpha").__name__ == "Alpha" and f"{plugins}.alpha" in sys.modules
    assert things.names() == ["alpha"]  # modules whose name starts with "_" are skipped
    (tmp_path / plugins / "beta.py").write_text(_ALPHA.format(package=plugins).replace("alpha", "beta"))
    assert things.get("beta").__name__ == "Alpha"  # a module added later is found on a miss
    with pytest.raises(ConfigError) as caught:
        things.get("alpah", file="configurations.toml", path="A.thing")
    message = str(caught.value)
    assert "unknown thing; known: alpha, beta" in message and 'did you mean "alpha"' in message


@pytest.mark.parametrize(("registry", "names"), [
    (STRATEGIES, {"popnas", "pnas", "pareto", "random", "evolution"}),
    (PREDICTORS, {"gin", "svr", "ranking"}),
    (PRIORS, {"params", "flops", "synflow"}),
    (TRACKERS, {"tensorboard", "mlflow", "neptune"}),
    (EXECUTORS, {"inline", "local", "slurm"}),
])
def test_the_shipped_members_are_discovered(registry: object, names: set[str]) -> None:
    assert names <= set(registry.names())  # type: ignore[attr-defined]


_GREEDY = '''
"""A strategy in a new module of scinas.search, and nothing else changed."""

from dataclasses import dataclass

from scinas.configurable import option
from scinas.search.base import TrialRequest
from scinas.search.ledger import LedgerStrategy
from scinas.search.registry import STRATEGIES


@STRATEGIES.register("first_found")
class FirstFoundStrategy(LedgerStrategy):
    """Asks the first ``width`` unseen architectures it samples."""

    @dataclass(frozen=True)
    class Options:
        width: int = option(1, minimum=1, doc="architectures per ask")

    def propose(self, n):
        found = [self.sample_unseen() for _ in range(min(n, self.options.width))]
        return [self.ledger.add(a) for a in found if a is not None]
'''


@pytest.fixture
def new_strategy_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``scinas/search/first_found.py``, as a contributor would add it (in a folder of the package's path)."""
    import scinas.search

    folder = tmp_path / "search"
    folder.mkdir()
    (folder / "first_found.py").write_text(_GREEDY)
    monkeypatch.setattr(scinas.search, "__path__", [*scinas.search.__path__, str(folder)])
    yield
    STRATEGIES.unregister("first_found")
    sys.modules.pop("scinas.search.first_found", None)


def test_a_new_strategy_module_is_selectable_from_toml_with_no_other_change(new_strategy_module: None,
                                                                            write_config: ConfigWriter) -> None:
    from scinas.config.loading import load_config
    from scinas.experiment.plan import plan_experiments
    from scinas.options_doc import render
    from scinas.search.registry import resolve_strategy
    from scinas.testing.tables import check_table, registered

    experiments = TINY_SEARCH.replace('strategy = "popnas"', 'strategy = "first_found"\nbudget = 2\nwidth = 2')
    experiments = experiments.replace("max_children = 2\nmax_exploration_children = 1\npredictor_epochs = 5\n"
                                      "predictor_ensemble = 1\n", "")
    plan = plan_experiments(load_config(write_config(experiments, SERIES_DATA)), ["P"])[0]
    assert plan.config.search is not None
    cls, options = resolve_strategy(plan.config.search)
    assert cls.__module__ == "scinas.search.first_found" and options.width == 2
    found = {(kind, name): item for kind, name, item in registered()}
    check_table(found[("strategy", "first_found")], name="strategy first_found")  # the conformance suite
    assert "### `first_found`" in render() and "| `width` |" in render()  # and the generated reference
