"""Fixtures of the governance tests: the world of helpers.governance on the in-process chain,
Anvil and Hardhat; each test runs from a snapshot of the set-up world."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.governance import Gov, make_gov
from medledger.chain.connection import connect


@pytest.fixture(
    scope="module",
    params=[
        "embedded",
        pytest.param("anvil", marks=pytest.mark.anvil),
        pytest.param("hardhat", marks=pytest.mark.hardhat),
    ],
)
def gov_world(request: pytest.FixtureRequest) -> Iterator[Gov]:
    if request.param == "embedded":
        chain = connect(None)
    else:
        chain = connect(request.getfixturevalue(f"{request.param}_url"))
    with tempfile.TemporaryDirectory(prefix="medledger-gov-") as tmp:
        yield make_gov(chain, Path(tmp))


@pytest.fixture
def gov(gov_world: Gov) -> Iterator[Gov]:
    chain = gov_world.ml.chain
    snap = chain.snapshot()
    yield gov_world
    chain.revert(snap)
