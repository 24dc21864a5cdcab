"""The CLI walks a person through a recovery: setup with a paper guardian, the keystore deleted,
a new device that requests, guardians that approve and reshare, the paper words typed in, the
records readable again, then ``keys rotate``. On Anvil (the CLI's dev chain)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from helpers.cli import create_key, invoke, isolate_home, ok

pytestmark = pytest.mark.anvil

LAB = b'{"resourceType":"Observation","code":{"text":"HbA1c"}}'


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, anvil_url: str) -> Path:
    path = isolate_home(monkeypatch, tmp_path / "mlhome")
    ok(["node", "start", "--attach", anvil_url])
    return path


def actor(name: str, *, patient: bool = False) -> dict[str, Any]:
    key = create_key(name)
    ok(["fund", name])
    if patient:
        key["patient_id"] = ok(["register", "patient", "--as", name])["patient_id"]
    return key


def test_cli_recovery_walkthrough(home: Path, tmp_path: Path) -> None:
    alice = actor("alice", patient=True)
    pid = str(alice["patient_id"])
    g1, g2 = actor("g1", patient=True), actor("g2", patient=True)  # sealed shares
    g3 = actor("g3")  # paper share
    lab = tmp_path / "lab.json"
    lab.write_bytes(LAB)
    rec = ok(["record", "add", str(lab), "--as", "alice", "--patient", pid, "-c", "labs"])
    setup = ok(
        ["recovery", "setup", "--as", "alice", "--guardians", "g1,g2,g3", "--threshold", "2",
         "--paper", "g3", "--delay", "1d"]
    )  # fmt: skip
    assert setup["guardians"] == [g1["address"], g2["address"], g3["address"]]
    paper = setup["paper_shares"][g3["address"]]
    assert len(paper.split()) == 20
    shares = ok(["recovery", "shares", pid, "--as", "g1"])
    assert shares["shares"][g1["address"]] == "sealed"
    assert shares["shares"][g3["address"]] == "paper"

    (home / "keys" / "alice.json").unlink()  # the phone is gone
    actor("alice-phone")
    first = invoke(["recovery", "complete", pid, "--as", "alice-phone", "--json"])
    assert first.exit_code != 0
    assert "2 missing" in first.stderr
    match = re.search(r"recovery request: (0x[0-9a-f]{64})", first.stderr)
    assert match is not None
    req = match.group(1)
    ok(["recovery", "approve", "--request", req, "--as", "g1"])
    ok(["recovery", "reshare", "--request", req, "--as", "g1"])
    ok(["recovery", "approve", "--request", req, "--as", "g3"])
    status = ok(["recovery", "status", pid])
    assert status["shares_posted"] == [g1["address"]]
    assert status["key_shares"] == setup["shares_document"]
    early = invoke(
        ["recovery", "complete", pid, "--as", "alice-phone", "--paper", "1", "--json"],
        input=paper + "\n",
    )
    assert early.exit_code != 0
    assert "delay" in early.stderr
    assert paper.split()[0] + " " + paper.split()[1] not in early.stderr + early.stdout
    ok(["time", "advance", "1d1h"])
    done = ok(
        ["recovery", "complete", pid, "--as", "alice-phone", "--paper", "1"], input=paper + "\n"
    )
    assert done["controller"] != alice["address"]
    new_paper = done["paper_shares"][g3["address"]]
    assert new_paper != paper
    got = invoke(["record", "get", rec["record_id"], "--as", "alice-phone"])
    assert got.exit_code == 0, got.stderr
    assert got.stdout.encode() == LAB
    # a lost paper share: re-issue every share, print the paper one (the previous one is dead)
    reissued = ok(["recovery", "shares", "--paper", "--as", "alice-phone"])
    assert set(reissued["paper_shares"]) == {g3["address"]}
    assert reissued["paper_shares"][g3["address"]] != new_paper
    human = invoke(["recovery", "shares", "--paper", "--as", "alice-phone"])
    assert human.exit_code == 0, human.stderr
    assert "printed this once" in human.stdout
    # the plain rotation, for a key that still works but may have leaked
    rotated = ok(["keys", "rotate", "alice-phone"])
    assert rotated["rotated_categories"]
    assert g3["address"] in rotated["paper_shares"]
    assert not (home / "keys" / "alice-phone.json.rotating").exists()
    got = invoke(["record", "get", rec["record_id"], "--as", "alice-phone"])
    assert got.exit_code == 0, got.stderr
    assert got.stdout.encode() == LAB
