"""Fixtures for the storage tests: one ``store`` fixture per backend, for the contract suite."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from medledger.storage import BlockStore, EmbeddedStore
from medledger.storage.ipfs_node import IpfsNodeStore

# The daemon fixture is shared with other test folders. It is loaded by file path under one fixed
# module name: a stray top-level `tests` package (from pymultihash) shadows `tests.fixtures`.
_MODULE = "medledger_test_fixtures_ipfs_daemon"
if _MODULE not in sys.modules:
    _path = Path(__file__).resolve().parents[1] / "fixtures" / "ipfs_daemon.py"
    _spec = importlib.util.spec_from_file_location(_MODULE, _path)
    assert _spec is not None
    assert _spec.loader is not None
    sys.modules[_MODULE] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules[_MODULE])
ipfs_daemon = sys.modules[_MODULE].ipfs_daemon
ipfs_api = sys.modules[_MODULE].ipfs_api

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
