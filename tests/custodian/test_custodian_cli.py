"""``medledger custodian init|serve`` key handling, in-process (no chain needed)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from helpers.cli import invoke, isolate_home
from medledger.cli.commands.custodian import _load_keys
from medledger.crypto.keys import Suite
from medledger.custodian.config import CustodianKeys
from medledger.errors import KeystoreError


def test_init_creates_an_x25519_custodian_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    isolate_home(monkeypatch, tmp_path)
    run = invoke(["custodian", "init", "hospital-a", "--insecure-light-kdf", "--json"])
    assert run.exit_code == 0, run.stderr
    shown = json.loads(run.stdout)
    assert shown["suite"] == "x25519"
    keys = _load_keys("hospital-a")
    assert keys.address == shown["address"]
    assert keys.encryption.suite is Suite.X25519
    assert "0x" + keys.encryption_key.hex() == shown["encryption_key"]
    # never overwritten
    again = invoke(["custodian", "init", "hospital-a", "--insecure-light-kdf"])
    assert again.exit_code != 0
    assert "already exists" in again.stderr


def test_key_file_must_be_private(tmp_path: Path) -> None:
    keys = CustodianKeys.generate()
    path = tmp_path / "custodian.key"
    keys.write_key_file(path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    loaded = _load_keys(str(path))
    assert (loaded.address, loaded.encryption_key) == (keys.address, keys.encryption_key)
    assert "privateKey" not in repr(loaded)
    os.chmod(path, 0o644)
    with pytest.raises(KeystoreError, match="readable by others"):
        _load_keys(str(path))
    with pytest.raises(FileExistsError):
        keys.write_key_file(path)


def test_serve_needs_a_chain(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_home(monkeypatch, tmp_path)
    key = tmp_path / "c.key"
    CustodianKeys.generate().write_key_file(key)
    run = invoke(["custodian", "serve", "--key", str(key)])
    assert run.exit_code != 0
    assert "no chain configured" in run.stderr
