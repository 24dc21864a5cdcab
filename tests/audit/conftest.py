"""Fixtures for the audit tests: an Anvil node and the scenario deployed on it.

The audit tests get an Anvil of their own (a real node, on a free port) rather than the session's
shared one: their reorganisation tests rewind the chain with evm_snapshot/evm_revert, which must
not pull state from under other test directories.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from web3 import Web3

from helpers.audit import Scenario, build_scenario
from medledger.audit.archive import Archive
from medledger.audit.indexer import AuditIndexer
from medledger.nodes import start_anvil


@pytest.fixture(scope="session")
def anvil_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with start_anvil(log_dir=tmp_path_factory.mktemp("audit-anvil")) as node:
        yield node.url


@pytest.fixture(scope="session")
def w3(anvil_url: str) -> Web3:
    return Web3(Web3.HTTPProvider(anvil_url, request_kwargs={"timeout": 30}))


@pytest.fixture(scope="module")
def scenario(w3: Web3) -> Scenario:
    return build_scenario(w3)


@pytest.fixture(scope="module")
def archive(scenario: Scenario, tmp_path_factory: pytest.TempPathFactory) -> Archive:
    """An archive of the module's scenario (both contracts), synced once."""
    a = Archive.open(tmp_path_factory.mktemp("archive") / "a.sqlite")
    AuditIndexer(scenario.w3, a, scenario.medledger.address, scenario.anchors.address,
                 start_block=scenario.start_block).sync()  # fmt: skip
    return a
