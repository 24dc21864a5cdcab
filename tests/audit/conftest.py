"""Fixtures for the audit tests: an Anvil node and the scenario deployed on it.

Anvil is started here (on a free port) because tests/fixtures/chains.py does not offer one yet; it
is the real node, and its evm_snapshot/evm_revert give real chain reorganisations.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from audit_testlib import ANVIL, Scenario, build_scenario, start_anvil
from web3 import Web3


@pytest.fixture(scope="session")
def anvil_url() -> Iterator[str]:
    if not ANVIL.exists():
        pytest.skip("anvil is not installed (run make setup)")
    proc, url = start_anvil()
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def w3(anvil_url: str) -> Web3:
    return Web3(Web3.HTTPProvider(anvil_url, request_kwargs={"timeout": 30}))


@pytest.fixture(scope="module")
def scenario(w3: Web3) -> Scenario:
    return build_scenario(w3)
