"""Fixtures shared by every test directory (pure-pytest runs; tests/contracts runs under ape).

The node fixtures (Anvil, Hardhat 2, the js-ipfs daemon) live in tests/fixtures/ and are
session-scoped: defined once here, so one node of each kind serves the whole run, started on first
use and stopped at the end. They are loaded by file path under fixed module names because a stray
top-level ``tests`` package (installed by pymultihash) shadows ``tests.fixtures`` on sys.path.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

_HERE = Path(__file__).resolve().parent


def _load(module: str, filename: str) -> ModuleType:
    if module not in sys.modules:
        spec = importlib.util.spec_from_file_location(module, _HERE / "fixtures" / filename)
        assert spec is not None
        assert spec.loader is not None
        sys.modules[module] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[module])
    return sys.modules[module]


_chains = _load("medledger_test_fixtures_chains", "chains.py")
_ipfs = _load("medledger_test_fixtures_ipfs_daemon", "ipfs_daemon.py")

anvil_node = _chains.anvil_node
anvil_url = _chains.anvil_url
hardhat_node = _chains.hardhat_node
hardhat_url = _chains.hardhat_url
embedded_chain = _chains.embedded_chain
ipfs_daemon = _ipfs.ipfs_daemon
ipfs_api = _ipfs.ipfs_api
