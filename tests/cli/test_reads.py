"""Issue 13.16: reads that need no key do not unlock one; `record get` streams.

Before, `record list`, `audit`, `audit verify` and `recovery shares` unlocked the keystore (a
password prompt, ~1 s and 256 MB of scrypt) to read public chain data, and `record get --json`
held the record three times over in memory (a 200 MB record peaked at 1.9 GB).
"""

from __future__ import annotations

import json
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.cli import create_key, invoke, ok, patient_and_clinic
from helpers.crypto import count_scrypt_passes
from medledger.cli.main import cli

pytestmark = pytest.mark.anvil

MB = 1 << 20


@pytest.fixture(scope="module")
def stack(module_env: Path, anvil_url: str) -> Iterator[dict[str, Any]]:
    ok(["node", "start", "--attach", anvil_url])
    pid = patient_and_clinic()
    return {"home": module_env, "pid": pid}


def _add(home: Path, name: str, content: bytes) -> str:
    path = home / name
    path.write_bytes(content)
    rec = ok(["record", "add", "--as", "clinic", "--patient", "1", "-c", "labs", str(path)])
    return str(rec["record_id"])


@pytest.mark.parametrize(
    "args",
    [
        ["record", "list", "--as", "alice"],
        ["audit", "--as", "alice"],
        ["audit", "verify", "--as", "alice"],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_reads_of_public_data_unlock_no_key(
    stack: dict[str, Any], args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No password in the environment and nothing to type: the read still works (before:
    "no password given"); a wrong password is never even tried."""
    _add(stack["home"], "r.json", b'{"resourceType": "Observation"}')
    monkeypatch.delenv("MEDLEDGER_PASSWORD")
    run = invoke([*args, "--json"], input="")
    assert run.exit_code == 0, run.stderr
    monkeypatch.setenv("MEDLEDGER_PASSWORD", "not the password")
    again = invoke([*args, "--json"])
    assert again.exit_code == 0, again.stderr
    assert again.json() == run.json() or args[1] == "verify"


def test_record_list_still_names_an_unregistered_account(stack: dict[str, Any]) -> None:
    create_key("nobody")
    run = invoke(["record", "list", "--as", "nobody"])
    assert run.exit_code != 0
    assert "does not control a patient" in run.stderr


def test_reads_that_decrypt_still_need_the_key(
    stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    rid = _add(stack["home"], "s.json", b"secret")
    monkeypatch.setenv("MEDLEDGER_PASSWORD", "not the password")
    run = invoke(["record", "get", rid, "--as", "alice", "--json"])
    assert run.exit_code != 0
    assert "wrong password" in run.stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            '{"text": "caf\u00e9 \u2603 \U0001f600"}'.encode(),
            '{"text": "caf\u00e9 \u2603 \U0001f600"}',
        ),
        (b"\xff\x00binary", "0xff0062696e617279"),
    ],
    ids=["utf8", "binary"],
)
def test_record_get_json_output_is_unchanged(
    stack: dict[str, Any], content: bytes, expected: str
) -> None:
    rid = _add(stack["home"], "t.bin", content)
    got = ok(["record", "get", rid, "--as", "alice"])
    assert got == {"record_id": rid, "bytes": len(content), "data": expected}


def test_record_get_json_streams_in_constant_memory(stack: dict[str, Any], tmp_path: Path) -> None:
    """A 32 MB record printed as JSON: the process's Python allocations peak far below the
    record's size (before: the plaintext, its text and the JSON text, over 96 MB)."""
    size = 32 * MB
    line = b'{"resourceType": "Observation", "valueString": "' + b"x" * 200 + b'"}\n'
    content = (line * (size // len(line) + 1))[:size]
    rid = _add(stack["home"], "big.json", content)
    out_path = tmp_path / "out.json"
    saved = sys.stdout
    with out_path.open("w") as out:
        sys.stdout = out
        tracemalloc.start()
        try:
            cli.main(["record", "get", rid, "--as", "alice", "--json"], standalone_mode=False)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
            sys.stdout = saved
    doc = json.loads(out_path.read_text())
    assert doc["bytes"] == size
    assert doc["data"].encode() == content
    assert peak < 12 * MB, f"peak {peak / MB:.1f} MB for a {size / MB:.0f} MB record"


def test_a_signing_command_stretches_the_password_once(
    stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """13.17: one keystore unlock per command and one scrypt pass per unlock (before: two)."""
    passes = count_scrypt_passes(monkeypatch)
    rid = _add(stack["home"], "u.json", b'{"resourceType": "Observation"}')  # signs + seals
    assert passes == ["medledger"]
    passes.clear()
    got = invoke(["record", "get", rid, "--as", "alice", "--out", str(stack["home"] / "u.out")])
    assert got.exit_code == 0, got.stderr  # logs the read (signs) and decrypts
    assert passes == ["medledger"]
