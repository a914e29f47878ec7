"""Every built-in operator family passes the conformance suite on each rank it supports.

One operator per family and rank runs by default (batch 2, 8x8 / 7x9 images, length 12 / 13
series, 4 → 8 channels, strides 2 and 3); more operators run under ``-m slow``.
"""

from __future__ import annotations

import keras
import pytest

from scinas.search_space.operators import ALLOCATORS
from scinas.testing.allocators import check_allocator

FAST: list[tuple[str, int, list[str]]] = [
    ("identity", 2, ["identity"]),
    ("identity", 1, ["identity"]),
    ("conv", 2, ["3x3:2dr conv"]),
    ("conv", 1, ["7 conv"]),
    ("stacked_conv", 2, ["1x3-3x1 conv"]),
    ("dconv", 2, ["3x3 dconv"]),
    ("dconv", 1, ["5:2dr dconv"]),
    ("tconv", 2, ["3x3 tconv"]),
    ("tconv", 1, ["3 tconv"]),
    ("zconv", 2, ["3x3:2z zconv"]),
    ("zconv", 1, ["3:3z zconv"]),
    ("maxpool", 2, ["2x2 maxpool"]),
    ("maxpool", 1, ["3 maxpool"]),
    ("avgpool", 2, ["3x3 avgpool"]),
    ("avgpool", 1, ["2 avgpool"]),
    ("SE", 2, ["2r SE"]),
    ("SE", 1, ["8r SE"]),
    ("lstm", 1, ["lstm"]),
    ("gru", 1, ["gru"]),
]

SLOW: list[tuple[str, int, list[str]]] = [
    ("conv", 2, ["3x3 conv", "5x5 conv", "1x3 conv", "3x3:3dr conv"]),
    ("conv", 1, ["1 conv", "7:2dr conv"]),
    ("stacked_conv", 2, ["1x7-7x1 conv", "3x3-3x3 conv"]),
    ("dconv", 2, ["5x5 dconv", "3x3:2dr dconv"]),
    ("dconv", 1, ["7 dconv"]),
    ("tconv", 2, ["5x5 tconv", "1x1 tconv"]),
    ("zconv", 2, ["1x1:4z zconv", "5x5:3z zconv"]),
    ("zconv", 1, ["7:2z zconv"]),
    ("maxpool", 2, ["1x1 maxpool", "3x3 maxpool", "4x4 maxpool"]),
    ("avgpool", 1, ["1 avgpool", "5 avgpool"]),
    ("SE", 2, ["1r SE", "16r SE"]),
]


@pytest.mark.parametrize(("family", "rank", "texts"), FAST, ids=[f"{f}-{r}d" for f, r, _ in FAST])
def test_family_conforms(family: str, rank: int, texts: list[str]) -> None:
    check_allocator(ALLOCATORS.get(family)(), texts, rank=rank)
    assert keras.config.dtype_policy().name == "float32"  # the suite restored the policy


@pytest.mark.slow
@pytest.mark.parametrize(("family", "rank", "texts"), SLOW, ids=[f"{f}-{r}d" for f, r, _ in SLOW])
def test_family_conforms_on_more_operators(family: str, rank: int, texts: list[str]) -> None:
    check_allocator(ALLOCATORS.get(family)(), texts, rank=rank, strides=(2, 4))


def test_every_built_in_family_has_a_fast_conformance_test() -> None:
    covered = {(family, rank) for family, rank, _ in FAST}
    for family in ALLOCATORS:
        allocator = ALLOCATORS.get(family)
        if allocator.__module__.startswith("scinas."):
            for rank in allocator.ranks:
                assert (family, rank) in covered, f"{family} on rank {rank} has no fast conformance test"
