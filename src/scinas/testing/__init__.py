"""Conformance suites that every implementation of an extension point must pass.

Each suite is a plain function that raises ``AssertionError`` with a clear message, so it runs
under pytest and from a notebook alike::

    from scinas.testing.generators import check_generator
    check_generator(MyGenerator("tiny", parameters, shape))
"""

from __future__ import annotations

__all__: list[str] = []
from scinas.testing.strategies import check_strategy as check_strategy
from scinas.testing.tables import check_table as check_table
