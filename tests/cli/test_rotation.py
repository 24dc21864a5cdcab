"""`medledger revoke` finishes an interrupted revocation, `medledger rotate` has nothing left to do
after it (issue 13 point 2, issue 14 point 2). Against a real Anvil, like the other CLI flows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from helpers.cli import create_key, invoke, ok

pytestmark = pytest.mark.anvil


def _actor(name: str, provider: str) -> None:
    create_key(name)
    ok(["fund", name])
    ok(["register", "provider", name, "--name", provider, "--as", "dev:0"])


def _add(tmp_path: Path, pid: int) -> Any:
    path = tmp_path / "lab.json"
    path.write_bytes(b'{"a1c": 6.4}')
    return invoke(
        ["record", "add", str(path), "--as", "clinic", "--patient", str(pid), "-c", "labs"]
    )


def test_revoke_again_completes_an_interrupted_revocation(
    home: Path, anvil_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Old code: the second `revoke` failed with "holds no consent" and the revoked provider
    kept the keys of later records; the clinic's write went through meanwhile."""
    ok(["node", "start", "--attach", anvil_url])
    create_key("alice")
    ok(["fund", "alice"])
    pid = ok(["register", "patient", "--as", "alice"])["patient_id"]
    _actor("clinic", "Clinic")
    _actor("spec", "Specialist")
    grant = ["-p", "treatment", "--for", "30d", "--as", "alice"]
    ok(["grant", "clinic", "-c", "labs", "-a", "read", "-a", "write", *grant])
    ok(["grant", "spec", "-c", "labs", *grant])
    # the revocation lands without its key rotation (an interrupted older client)
    import medledger.client.planner as planner

    with monkeypatch.context() as m:
        m.setattr(planner, "rotate_from", lambda keyring, cats, t: (keyring, []))
        ok(["revoke", "spec", "--as", "alice"])
    refused = _add(tmp_path, pid)
    assert refused.exit_code == 1
    assert "pending key rotation" in refused.stderr
    again = ok(["revoke", "spec", "--as", "alice"])
    assert again["rotation_completed"] is True
    assert _add(tmp_path, pid).exit_code == 0
    assert ok(["rotate", "--as", "alice"])["completed"] is False  # nothing left
