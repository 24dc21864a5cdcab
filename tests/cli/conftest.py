"""Fixtures for the CLI tests: an isolated $MEDLEDGER_HOME per test or per module.

Keys are created with the keystore's light scrypt parameters (the hidden
``--insecure-light-kdf`` flag) so that a test pays milliseconds, not a second, per unlock.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.cli import isolate_home


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty MEDLEDGER_HOME with no connection settings leaking in from outside."""
    return isolate_home(monkeypatch, tmp_path / "mlhome")


@pytest.fixture(scope="module")
def module_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Module-wide MEDLEDGER_HOME (for fixtures that deploy once per module)."""
    path = tmp_path_factory.mktemp("mlhome")
    with pytest.MonkeyPatch.context() as mp:
        yield isolate_home(mp, path)
