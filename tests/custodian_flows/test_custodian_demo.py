"""`medledger demo --custodians`: the custodian act as a newcomer runs it (its own Anvil)."""

from __future__ import annotations

import json
from pathlib import Path

from helpers.cli import run_subprocess


def test_demo_custodian_act(tmp_path: Path) -> None:
    run = run_subprocess(
        ["demo", "--custodians", "--json"], {"MEDLEDGER_HOME": str(tmp_path)}, timeout=300
    )
    assert run.exit_code == 0, run.stderr[-3000:]
    summary = json.loads(run.stdout)
    assert summary["ok"] is True
    act = summary["custodian_act"]
    assert [s["title"] for s in act] == [
        "Custodian mode",
        "ER reads through the custodians",
        "25 h later the ER has nothing",
        "Erasure with custodian receipts",
    ]
    assert all(s["ok"] for s in act)
    assert act[1]["details"]["outcome"] == "ALLOWED_EMERGENCY"
    refusals = act[2]["details"]["custodian_refusals"]
    assert len(refusals) == 3
    assert set(refusals.values()) <= {"stale_access", "window_closed"}
    erasure = act[3]["details"]
    assert erasure["receipts"] == 3
    assert len(erasure["could_still_decrypt"]) == 2  # the patient and the ER that read it
