"""Fixtures for the chain-layer tests.

The node fixtures live in tests/helpers/chains.py and are registered once by tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from medledger import errors as mle
from medledger.chain import Chain, Deployment, connect, deploy_suite
from medledger.chain.artifacts import Artifact
from medledger.chain.errors import ERROR_CLASSES

# The node fixtures (anvil_url, hardhat_url, embedded_chain) come from tests/conftest.py.

DATA = Path(__file__).resolve().parent / "data"


#: The probe's own errors, mapped the way an app maps a third-party contract's errors (by adding
#: to ERROR_CLASSES); ``Boom`` stays generic.
PROBE_ERROR_CLASSES: dict[str, type[mle.MedledgerError]] = {
    "PatientNotRegistered": mle.NotRegistered,
    "NotController": mle.NotAuthorized,
    "InvalidSignature": mle.SignatureError,
    "DeadlineExpired": mle.SignatureError,
}


@pytest.fixture(scope="session")
def probe_artifact() -> Iterator[Artifact]:
    """A small test contract with custom errors, Error(string), Panic, events and EIP-712."""
    with pytest.MonkeyPatch.context() as patch:
        for name, cls in PROBE_ERROR_CLASSES.items():
            patch.setitem(ERROR_CLASSES, name, cls)
        yield Artifact.from_file(DATA / "Probe.json")


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


@pytest.fixture
def suite(embedded_chain: Chain) -> Deployment:
    """MedLedger + AnchorRegistry freshly deployed on an embedded chain by dev account 0."""
    return deploy_suite(embedded_chain, embedded_chain.dev_accounts()[0])
