"""`medledger demo`: the reference scenario on the embedded default, as a newcomer runs it."""

from __future__ import annotations

import json
from pathlib import Path

from helpers.cli import invoke, run_subprocess


def test_demo_json_summary(home: Path) -> None:
    run = run_subprocess(["demo", "--json"], {"MEDLEDGER_HOME": str(home)})
    assert run.exit_code == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["ok"] is True
    assert len(summary["steps"]) == 9
    assert all(s["ok"] for s in summary["steps"])
    roles = {e["accessor_role"] for e in summary["audit"]["entries"]}
    outcomes = [(e["accessor_role"], e["outcome"]) for e in summary["audit"]["entries"]]
    assert summary["audit"]["verified"] is True
    # v2: every operation is an entry of the hash chain, not only the accesses
    operations = {"patient_registered", "consent_granted", "consent_replaced", "record_added"}
    accesses = [(r, o) for r, o in outcomes if o not in operations | {"consent_revoked"}]
    assert accesses == [
        ("specialist", "allowed_consent"),
        ("er", "break_glass_opened"),
        ("er", "allowed_emergency"),
        ("er", "denied_no_consent"),
        ("specialist", "denied_no_consent"),
    ]
    assert outcomes[0] == ("patient", "patient_registered")
    assert outcomes.count(("clinic", "record_added")) == 3
    assert ("specialist", "consent_revoked") in outcomes
    assert roles == {"patient", "clinic", "specialist", "er"}
    assert [e["seq"] for e in summary["audit"]["entries"]] == list(range(len(outcomes)))
    for op in (
        "registerPatient",
        "grant",
        "addRecord",
        "recordAccess",
        "openBreakGlass",
        "revokeAndRekey",
    ):
        gas = summary["gas"][op]
        assert 21_000 < gas["min"] <= gas["avg"] <= gas["max"] < 1_000_000, op
    # nothing was written to MEDLEDGER_HOME: the demo uses temporary state only
    assert not home.exists() or not any(home.iterdir())


def test_demo_narrative(home: Path) -> None:
    run = invoke(["demo"])
    assert run.exit_code == 0, run.stderr
    out = run.stdout
    for phrase in (
        "1. Consortium registers providers",
        "25 hours later the ER read is denied",
        "Audit trail of patient #1",
        "Hash chain verified",
        "Gas used per operation",
        "All 9 steps passed",
    ):
        assert phrase in out, phrase
    assert out.index("Audit trail") < out.index("Gas used per operation")
