"""Fixtures for the chain-layer tests.

The node fixtures live in tests/fixtures/chains.py (shared with other test directories). They are
loaded by file path: a stray top-level ``tests`` package installed by pymultihash shadows
``tests.fixtures`` on sys.path.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

from medledger.chain import Chain, Deployment, TxSender, connect, deploy_suite
from medledger.chain.artifacts import Artifact

_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "chains.py"
_MODULE = "medledger_test_fixtures_chains"
if _MODULE not in sys.modules:
    _spec = importlib.util.spec_from_file_location(_MODULE, _FIXTURES)
    assert _spec is not None
    assert _spec.loader is not None
    sys.modules[_MODULE] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules[_MODULE])
_chains = sys.modules[_MODULE]

anvil_node = _chains.anvil_node
anvil_url = _chains.anvil_url
hardhat_node = _chains.hardhat_node
hardhat_url = _chains.hardhat_url
embedded_chain = _chains.embedded_chain

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def probe_artifact() -> Artifact:
    """A small test contract with custom errors, Error(string), Panic, events and EIP-712."""
    return Artifact.from_file(DATA / "Probe.json")


@pytest.fixture(scope="session")
def anvil_chain(anvil_url: str) -> Chain:
    """A Chain connected to the session Anvil (shared state: use fresh accounts per test)."""
    return connect(anvil_url)


@pytest.fixture(scope="session")
def hardhat_chain(hardhat_url: str) -> Chain:
    """A Chain connected to the session Hardhat node."""
    return connect(hardhat_url)


@pytest.fixture(params=["embedded", "anvil", "hardhat"])
def any_chain(request: pytest.FixtureRequest) -> Chain:
    """Each backend in turn: embedded py-evm, Anvil, Hardhat 2."""
    if request.param == "embedded":
        chain: Chain = request.getfixturevalue("embedded_chain")
        return chain
    chain = request.getfixturevalue(f"{request.param}_chain")
    return chain


def deploy_probe(chain: Chain, sender: TxSender, artifact: Artifact) -> Any:
    """Deploy Probe(owner=sender) and return the web3 contract object."""
    factory = chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    result = sender.deploy(factory.constructor(sender.address))
    return chain.w3.eth.contract(address=result.contract_address, abi=artifact.abi)


@pytest.fixture
def suite(embedded_chain: Chain) -> Deployment:
    """MedLedger + AnchorRegistry freshly deployed on an embedded chain by dev account 0."""
    return deploy_suite(embedded_chain, embedded_chain.dev_accounts()[0])
