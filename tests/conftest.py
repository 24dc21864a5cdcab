"""Fixtures shared by every test directory (pure-pytest runs; tests/contracts runs under ape).

The node fixtures (Anvil, Hardhat 2, the js-ipfs daemon) live in tests/helpers/ and are
session-scoped: defined once here, so one node of each kind serves the whole run, started on first
use and stopped at the end.
"""

from __future__ import annotations

from helpers.chains import anvil_node, anvil_url, embedded_chain, hardhat_node, hardhat_url
from helpers.ipfs_daemon import ipfs_api, ipfs_daemon
from medledger.crypto.keystore import weak_kdf_for_tests

# Tests create keystores with ScryptParams.LIGHT (milliseconds, not a second, per unlock); the
# keystore refuses n < 2**17 everywhere else. tests/crypto/test_crypto_keystore.py checks the floor.
weak_kdf_for_tests(True)

__all__ = [
    "anvil_node",
    "anvil_url",
    "embedded_chain",
    "hardhat_node",
    "hardhat_url",
    "ipfs_api",
    "ipfs_daemon",
]
