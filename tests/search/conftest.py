"""Fixtures for the search tests: tiny domains and a fast, deterministic fake predictor."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from scinas.predictors import Predictor
from scinas.search.cell_domain import CellDomain
from scinas.search.nasbench201 import NB201Domain
from scinas.search.prediction import PredictorFactory
from scinas.search_space.encoding import CellGraph
from scinas.search_space.macro import MacroConfig
from scinas.search_space.space import SearchSpace


class LinearFake(Predictor):
    """Ridge regression on summed node features (graphs) or on the features themselves."""

    name = "fake"

    def __init__(self) -> None:
        self._weights: np.ndarray | None = None

    @staticmethod
    def _matrix(inputs: Sequence[Any]) -> np.ndarray:
        rows = [item.features.sum(axis=0) if isinstance(item, CellGraph) else np.asarray(item, dtype=float)
                for item in inputs]
        x = np.asarray(rows, dtype=float)
        return np.hstack([x, np.ones((len(x), 1))])

    @property
    def fitted(self) -> bool:
        return self._weights is not None

    def fit(self, inputs: Sequence[Any], targets: np.ndarray) -> None:
        x = self._matrix(inputs)
        y = np.asarray(targets, dtype=float)
        self._weights = np.linalg.solve(x.T @ x + 1e-3 * np.eye(x.shape[1]), x.T @ y)

    def predict(self, inputs: Sequence[Any]) -> np.ndarray:
        if self._weights is None:
            raise self._not_fitted()
        return self._matrix(inputs) @ self._weights


def fake_factory(target: str, seed: int) -> Predictor:
    return LinearFake()


@pytest.fixture
def fake_predictors() -> PredictorFactory:
    return fake_factory


@pytest.fixture
def tiny_domain() -> CellDomain:
    """2 operators, 2 blocks, lookback 2: 10 one-block cells."""
    return CellDomain(SearchSpace(("identity", "3x3 conv"), max_blocks=2, lookback_depth=2), MacroConfig(filters=8))


@pytest.fixture
def nb201() -> NB201Domain:
    return NB201Domain()
