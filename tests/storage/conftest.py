"""Fixtures for the storage tests: one ``store`` fixture per backend, for the contract suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from medledger.storage import BlockStore, EmbeddedStore
from medledger.storage.ipfs_node import IpfsNodeStore

# The daemon fixtures (`ipfs_daemon`, `ipfs_api`) come from tests/conftest.py: one per run.

#: RPC timeout for the daemon backend in tests: a missing block must fail fast
RPC_TIMEOUT = 1.5


@pytest.fixture(
    params=["embedded", pytest.param("ipfs", marks=pytest.mark.ipfs)],
)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlockStore]:
    """Each backend in turn: the embedded store, and the real js-ipfs daemon."""
    if request.param == "embedded":
        backend: BlockStore = EmbeddedStore(tmp_path / "store")
    else:
        api = request.getfixturevalue("ipfs_api")
        backend = IpfsNodeStore(api, timeout=30, rpc_timeout=RPC_TIMEOUT, has_timeout=1.0)
    with backend:
        yield backend
