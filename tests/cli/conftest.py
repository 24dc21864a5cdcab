"""Fixtures for the CLI tests: an isolated $MEDLEDGER_HOME per test or per module.

Keys are created with the keystore's light scrypt parameters (the hidden
``--insecure-light-kdf`` flag) so that a test pays milliseconds, not a second, per unlock.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.cli import PASSWORD

ENV_VARS = (
    "MEDLEDGER_PROFILE",
    "MEDLEDGER_ACCOUNT",
    "MEDLEDGER_RPC",
    "MEDLEDGER_IPFS_API",
    "MEDLEDGER_STORE",
    "MEDLEDGER_MANIFEST",
    "MEDLEDGER_DEBUG",
)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty MEDLEDGER_HOME with no connection settings leaking in from outside."""
    path = tmp_path / "mlhome"
    monkeypatch.setenv("MEDLEDGER_HOME", str(path))
    monkeypatch.setenv("MEDLEDGER_PASSWORD", PASSWORD)
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    return path


@pytest.fixture(scope="module")
def module_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Module-wide MEDLEDGER_HOME (for fixtures that deploy once per module)."""
    path = tmp_path_factory.mktemp("mlhome")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MEDLEDGER_HOME", str(path))
        mp.setenv("MEDLEDGER_PASSWORD", PASSWORD)
        for var in ENV_VARS:
            mp.delenv(var, raising=False)
        yield path
