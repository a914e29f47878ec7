"""The run manifest records TensorFlow's version however TensorFlow was installed."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable

import pytest

from scinas.experiment import manifest


def _only(installed: dict[str, str]) -> Callable[[str], str]:
    """importlib.metadata.version as if only INSTALLED (name -> version) were installed."""

    def version(distribution: str) -> str:
        if distribution not in installed:
            raise importlib.metadata.PackageNotFoundError(distribution)
        return installed[distribution]
    return version


def test_tensorflow_installed_as_tensorflow_cpu_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    # The CPU image of docker/ installs the `tensorflow-cpu` distribution, not `tensorflow`.
    monkeypatch.setattr(importlib.metadata, "version", _only({"tensorflow-cpu": "2.21.0"}))
    assert manifest._version("tensorflow") == "2.21.0"


def test_the_tensorflow_distribution_wins_when_both_are_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.metadata, "version", _only({"tensorflow": "2.21.0", "tensorflow-cpu": "2.0.0"}))
    assert manifest._version("tensorflow") == "2.21.0"


def test_a_missing_package_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.metadata, "version", _only({}))
    assert manifest._version("tensorflow") is None
    assert manifest._version("keras") is None
