"""Every core dependency of ``pyproject.toml`` is installed at an accepted version and imports.

The tests that use a core dependency (TensorFlow, tf2onnx, onnxruntime, ...) import it directly and
never skip when it is missing: a broken install fails the suite.  This test names the package.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import tomllib

import pytest
from packaging.requirements import Requirement

from tests.conftest import REPO

# Distributions whose module is not their name with "-" read as "_".
MODULES = {"scikit-learn": "sklearn", "pillow": "PIL"}


def _core() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [Requirement(line) for line in project["dependencies"]]


def test_the_core_dependencies_are_read() -> None:
    assert {"tensorflow", "keras", "tf2onnx", "onnxruntime"} <= {req.name for req in _core()}


@pytest.mark.parametrize("requirement", _core(), ids=lambda req: req.name)
def test_core_dependency_is_installed_and_imports(requirement: Requirement) -> None:
    if requirement.marker is not None and not requirement.marker.evaluate():
        pytest.skip(f"{requirement} does not apply to this Python")
    try:
        version = importlib.metadata.version(requirement.name)
    except importlib.metadata.PackageNotFoundError:
        pytest.fail(f"core dependency {requirement.name} is not installed: make install "
                    "(or pip install -e .)", pytrace=False)
    assert requirement.specifier.contains(version, prereleases=True), \
        f"{requirement.name} {version} installed, pyproject.toml asks for {requirement.specifier}"
    module = MODULES.get(requirement.name.lower(), requirement.name.replace("-", "_"))
    importlib.import_module(module)
