"""Every SDK flow through the CLI against a real Anvil (one deployment for the module).

The stack: `node start --attach ANVIL` writes the profile and deploys fresh contracts; keys are
created with light scrypt parameters and funded with `fund`; providers are registered by the
consortium owner (dev account 0). Tests create their own patients when they change state that
others rely on.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.cli import PASSWORD, create_key, invoke, ok

pytestmark = pytest.mark.anvil


def new_actor(
    name: str, *, patient: bool = False, provider: str | None = None, emergency: bool = False
) -> dict[str, Any]:
    key = create_key(name)
    ok(["fund", name])
    if provider is not None:
        cmd = ["register", "provider", name, "--name", provider, "--as", "dev:0"]
        ok([*cmd, "--emergency-responder"] if emergency else cmd)
    if patient:
        key["patient_id"] = ok(["register", "patient", "--as", name])["patient_id"]
    return key


@pytest.fixture(scope="module")
def stack(module_env: Path, anvil_url: str) -> Iterator[dict[str, Any]]:
    started = ok(["node", "start", "--attach", anvil_url])
    assert started["managed"] is False
    actors = {
        "alice": new_actor("alice", patient=True),
        "clinic": new_actor("clinic", provider="Riverside Clinic"),
        "spec": new_actor("spec", provider="Dr. Okafor"),
        "er": new_actor("er", provider="City ER", emergency=True),
    }
    ok(
        [
            "grant",
            "clinic",
            "--as",
            "alice",
            "-c",
            "labs,allergies",
            "-p",
            "treatment",
            "-a",
            "read",
            "-a",
            "write",
            "--for",
            "365d",
        ]
    )
    return {"home": module_env, "node": started, **actors}


def add_record(
    tmp_path: Path, patient_id: int, category: str, content: bytes, author: str = "clinic"
) -> dict[str, Any]:
    path = tmp_path / f"{category}.json"
    path.write_bytes(content)
    return ok(
        ["record", "add", str(path), "--as", author, "--patient", str(patient_id), "-c", category]
    )  # type: ignore[no-any-return]


def audit(as_: str) -> dict[str, Any]:
    return ok(["audit", "--as", as_])  # type: ignore[no-any-return]


# --- identity ---------------------------------------------------------------------------------


def test_node_attach_wrote_a_profile_and_manifest(stack: dict[str, Any]) -> None:
    profile = json.loads((stack["home"] / "profiles" / "local.json").read_text())
    assert profile["rpc"] == stack["node"]["rpc"]
    manifest = json.loads(Path(profile["manifest"]).read_text())
    assert manifest["contracts"]["MedLedger"]["address"] == stack["node"]["contracts"]["MedLedger"]
    # attaching again reuses the deployment instead of deploying a second one
    again = ok(["node", "start", "--attach", stack["node"]["rpc"]])
    assert again["contracts"] == stack["node"]["contracts"]


def test_deploy_writes_a_manifest_once(stack: dict[str, Any], tmp_path: Path) -> None:
    manifest = tmp_path / "deployments" / "dev.json"
    first = ok(["deploy", "--manifest", str(manifest)])
    assert first["deployed"] is True
    assert first["chain_id"] == 31337
    on_disk = json.loads(manifest.read_text())
    assert on_disk["contracts"]["MedLedger"]["address"] == first["contracts"]["MedLedger"]
    assert first["contracts"] != stack["node"]["contracts"]  # a second, independent suite
    again = ok(["deploy", "--manifest", str(manifest)])
    assert again["deployed"] is False
    assert again["contracts"] == first["contracts"]


def test_register_patient_twice_is_invalid_input(stack: dict[str, Any]) -> None:
    run = invoke(["register", "patient", "--as", "alice"])
    assert run.exit_code == 2
    assert "already controls a patient" in run.stderr


def test_only_the_consortium_owner_registers_providers(stack: dict[str, Any]) -> None:
    create_key("mallory")
    run = invoke(["register", "provider", "mallory", "--name", "Fake Clinic", "--as", "alice"])
    assert run.exit_code == 3
    assert "not the consortium owner" in run.stderr


# --- records and consent ----------------------------------------------------------------------


def test_record_add_list_get_round_trip(stack: dict[str, Any], tmp_path: Path) -> None:
    pid = stack["alice"]["patient_id"]
    content = b'{"resourceType": "Observation", "valueQuantity": {"value": 6.1}}'
    rec = add_record(tmp_path, pid, "labs", content)
    assert rec["category"] == "labs"
    assert rec["author"] == stack["clinic"]["address"]
    # the store holds ciphertext: its CID is not the plaintext file's CID
    assert rec["cid"] != invoke(["cid", str(tmp_path / "labs.json")]).stdout.strip()

    listed = ok(["record", "list", "--as", "alice"])
    assert rec["record_id"] in [r["record_id"] for r in listed]

    out = tmp_path / "copy.json"
    got = ok(["record", "get", rec["record_id"], "--as", "clinic", "--out", str(out)])
    assert got["bytes"] == len(content)
    assert out.read_bytes() == content
    raw = invoke(["record", "get", rec["record_id"], "--as", "alice", "-p", "patient_request"])
    assert raw.exit_code == 0
    assert raw.stdout.encode() == content


def test_record_add_from_stdin(stack: dict[str, Any]) -> None:
    pid = stack["alice"]["patient_id"]
    content = '{"resourceType": "AllergyIntolerance", "code": {"text": "penicillin"}}'
    rec = ok(
        ["record", "add", "-", "--as", "clinic", "--patient", str(pid), "-c", "allergies"],
        input=content,
    )
    got = invoke(["record", "get", rec["record_id"], "--as", "clinic"])
    assert got.stdout == content


def test_denied_read_exits_3_and_is_logged(stack: dict[str, Any], tmp_path: Path) -> None:
    rec = add_record(tmp_path, stack["alice"]["patient_id"], "labs", b"{}")
    out = tmp_path / "never.json"
    run = invoke(["record", "get", rec["record_id"], "--as", "spec", "--out", str(out)])
    assert run.exit_code == 3
    assert "denied" in run.stderr
    assert "hint:" in run.stderr
    assert not out.exists()  # nothing half-written
    entries = audit("alice")["entries"]
    last = entries[-1]
    assert (last["accessor"], last["record_id"], last["outcome"]) == (
        stack["spec"]["address"],
        rec["record_id"],
        "denied_no_consent",
    )


def test_grant_read_revoke(stack: dict[str, Any], tmp_path: Path) -> None:
    rec = add_record(tmp_path, stack["alice"]["patient_id"], "labs", b'{"a1c": 6.1}')
    granted = ok(
        ["grant", "spec", "--as", "alice", "-c", "labs", "-p", "treatment", "--for", "30d"]
    )
    assert granted["categories"] == ["labs"]
    assert granted["purposes"] == ["treatment"]
    assert granted["valid_until"] - granted["valid_from"] == 30 * 86400
    assert invoke(["record", "get", rec["record_id"], "--as", "spec"]).stdout == '{"a1c": 6.1}'
    # wrong purpose: denied by the contract
    assert (
        invoke(["record", "get", rec["record_id"], "--as", "spec", "-p", "research"]).exit_code == 3
    )
    ok(["revoke", "spec", "--as", "alice"])
    assert invoke(["record", "get", rec["record_id"], "--as", "spec"]).exit_code == 3
    # v2: the revocation itself is an entry of the chain, between the reads
    outcomes = [e["outcome"] for e in audit("alice")["entries"][-4:]]
    assert outcomes == ["allowed_consent", "denied_purpose", "consent_revoked", "denied_no_consent"]


def test_signed_consent_relayed_by_someone_else(stack: dict[str, Any]) -> None:
    bob = new_actor("bob", patient=True)
    granted = ok(
        ["grant", "clinic", "--as", "bob", "-c", "labs", "-p", "treatment", "--for", "10d"]
    )
    # a second grant ending at an existing epoch boundary can be signed off-line and relayed
    signed = invoke(
        [
            "grant",
            "spec",
            "--as",
            "bob",
            "-c",
            "labs",
            "-p",
            "treatment",
            "--until",
            str(granted["valid_until"]),
            "--sign-only",
        ]
    )
    assert signed.exit_code == 0, signed.stderr
    doc = json.loads(signed.stdout)
    assert doc["kind"] == "grant"
    assert doc["patientId"] == bob["patient_id"]
    path = stack["home"] / "signed.json"
    path.write_text(signed.stdout)
    relayed = ok(["relay", str(path), "--as", "clinic"])
    assert relayed["relayed"] == "grant"
    # the same signature cannot be replayed (nonce used)
    assert invoke(["relay", str(path), "--as", "clinic"]).exit_code != 0

    revoke = invoke(["revoke", "spec", "--as", "bob", "--sign-only"])
    assert json.loads(revoke.stdout)["kind"] == "revoke"
    assert ok(["relay", "-", "--as", "clinic"], input=revoke.stdout)["relayed"] == "revoke"
    garbage = invoke(["relay", "-", "--as", "clinic"], input="not json")
    assert garbage.exit_code == 2


def test_break_glass_expires_and_the_denial_is_logged(
    stack: dict[str, Any], tmp_path: Path
) -> None:
    carol = new_actor("carol", patient=True)
    pid = carol["patient_id"]
    ok(["emergency", "--as", "carol", "--responder", "er"])
    ok(
        [
            "grant",
            "clinic",
            "--as",
            "carol",
            "-c",
            "allergies",
            "-p",
            "treatment",
            "-a",
            "read,write",
            "--for",
            "1y",
        ]
    )
    rec = add_record(tmp_path, pid, "allergies", b'{"latex": true}')
    assert (
        invoke(["record", "get", rec["record_id"], "--as", "er", "-p", "emergency"]).exit_code == 3
    )
    opened = ok(
        [
            "break-glass",
            str(pid),
            "--as",
            "er",
            "--reason",
            "unconscious_patient",
            "--for",
            "2h",
            "--justification",
            "unresponsive",
        ]
    )
    assert opened["reason"] == "unconscious_patient"
    assert (
        invoke(["record", "get", rec["record_id"], "--as", "er", "-p", "emergency"]).stdout
        == '{"latex": true}'
    )
    moved = ok(["time", "advance", "3h"])
    assert moved["advanced"] >= 3 * 3600
    assert (
        invoke(["record", "get", rec["record_id"], "--as", "er", "-p", "emergency"]).exit_code == 3
    )
    trail = audit("carol")
    assert trail["verified"] is True
    # v2: the chain also holds carol's registration, the grant and the record added
    operations = {"patient_registered", "consent_granted", "record_added"}
    entries = [e for e in trail["entries"] if e["outcome"] not in operations]
    assert [e["outcome"] for e in entries] == [
        "denied_no_consent",
        "break_glass_opened",
        "allowed_emergency",
        "denied_no_consent",
    ]
    assert {e["accessor_name"] for e in entries} == {"City ER"}
    assert [e["outcome"] for e in trail["entries"][:2]] == ["patient_registered", "consent_granted"]
    too_long = invoke(["break-glass", str(pid), "--as", "er", "--reason", "other", "--for", "25h"])
    assert too_long.exit_code == 2


# --- audit, export, erase ---------------------------------------------------------------------


def test_audit_table_csv_html(stack: dict[str, Any], tmp_path: Path) -> None:
    add = add_record(tmp_path, stack["alice"]["patient_id"], "labs", b"{}")
    invoke(["record", "get", add["record_id"], "--as", "clinic"])
    csv_file, html_file = tmp_path / "trail.csv", tmp_path / "trail.html"
    table = invoke(["audit", "--as", "alice", "--csv", str(csv_file), "--html", str(html_file)])
    assert table.exit_code == 0, table.stderr
    assert "hash chain verified" in table.stdout
    assert "Riverside Clinic" in table.stdout
    trail = audit("alice")
    rows = list(csv.DictReader(io.StringIO(csv_file.read_text())))
    # the accounting lists every read, allowed or denied (the patient's own flagged as such); the
    # v2 operation entries (registration, grants, records) are in the trail but are not reads
    reads = [e["seq"] for e in trail["entries"] if e["outcome"].startswith(("allowed_", "denied_"))]
    assert len(rows) == len(reads) >= 1
    assert [int(r["seq"]) for r in rows] == reads
    assert rows[-1]["recipient"] == "Riverside Clinic"
    html = html_file.read_text()
    assert html.lstrip().lower().startswith("<!doctype html")
    assert add["record_id"] in html


def test_export_fhir_bundle(stack: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "bundle.json"
    pid = stack["alice"]["patient_id"]
    result = ok(["export", "fhir", "--patient", str(pid), "--out", str(out)])
    bundle = json.loads(out.read_text())
    assert bundle["resourceType"] == "Bundle"
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds.count("AuditEvent") == len(audit("alice")["entries"])
    assert kinds.count("Consent") >= 1
    assert result["resources"]["AuditEvent"] == kinds.count("AuditEvent")


def test_erase(stack: dict[str, Any], tmp_path: Path) -> None:
    rec = add_record(tmp_path, stack["alice"]["patient_id"], "labs", b'{"to": "erase"}')
    report = ok(["erase", rec["record_id"], "--as", "alice", "--yes"])
    assert report["complete"] is True
    assert report["record_id"] == rec["record_id"]
    listed = {r["record_id"]: r for r in ok(["record", "list", "--as", "alice"])}
    assert listed[rec["record_id"]]["erased"] is True
    assert invoke(["record", "get", rec["record_id"], "--as", "clinic"]).exit_code == 3
    not_owner = invoke(["erase", rec["record_id"], "--as", "clinic", "--yes"])
    assert not_owner.exit_code == 3


# --- guardian recovery ------------------------------------------------------------------------


def test_guardian_recovery(stack: dict[str, Any]) -> None:
    dave = new_actor("dave", patient=True)
    pid = str(dave["patient_id"])
    g1, g2, fresh = create_key("g1"), create_key("g2"), create_key("dave-new")
    ok(["fund", "g1"])
    ok(["fund", "g2"])
    ok(["fund", "dave-new"])  # v2: the candidate sends the accepting transaction
    ok(
        [
            "recovery",
            "set-guardians",
            "g1",
            "g2",
            "--threshold",
            "2",
            "--delay",
            "2d",
            "--as",
            "dave",
        ]
    )
    ok(["recovery", "approve", pid, "dave-new", "--as", "g1"])
    status = ok(["recovery", "status", pid])
    assert status["guardians"] == [g1["address"], g2["address"]]
    assert status["pending"]
    assert status["approvals"] == 1
    assert status["executable_at"] is None
    ok(["recovery", "approve", pid, "dave-new", "--as", "g2"])
    assert invoke(["recovery", "accept", pid, "--as", "dave-new"]).exit_code == 1  # too early
    ok(["time", "advance", "2d1h"])
    # v2: only the candidate completes the recovery
    assert invoke(["recovery", "accept", pid, "--as", "g1"]).exit_code != 0
    ok(["recovery", "accept", pid, "--as", "dave-new"])
    assert ok(["recovery", "status", pid])["controller"] == fresh["address"]
    bad = invoke(
        ["recovery", "set-guardians", "g1", "--threshold", "2", "--delay", "1d", "--as", "dave-new"]
    )
    assert bad.exit_code == 2


# --- accounts, dev helpers, bad input ---------------------------------------------------------


def test_fund_and_time(stack: dict[str, Any]) -> None:
    before = ok(["time", "now"])["now"]
    funded = ok(["fund", stack["alice"]["address"], "--amount", "0.5eth"])
    assert funded["funded_wei"] == 5 * 10**17
    assert ok(["time", "now"])["now"] >= before
    assert invoke(["fund", "alice", "--amount", "lots"]).exit_code == 2
    assert invoke(["fund", "not-a-key"]).exit_code == 2


@pytest.mark.parametrize(
    "args",
    [
        ["grant", "spec", "-c", "bones", "-p", "treatment", "--for", "1d"],
        ["grant", "spec", "-c", "labs", "-p", "vanity", "--for", "1d"],
        ["grant", "spec", "-c", "labs", "-p", "treatment"],
        ["grant", "spec", "-c", "labs", "-p", "treatment", "--for", "1d", "--until", "2030-01-01"],
        ["grant", "0x1234", "-c", "labs", "-p", "treatment", "--for", "1d"],
        ["record", "get", "0xabc"],
        ["record", "add", "-", "--patient", "1", "-c", "bones"],
    ],
)
def test_bad_input_exits_2_and_sends_nothing(stack: dict[str, Any], args: list[str]) -> None:
    before = ok(["audit", "--as", "alice"])["entries"]
    run = invoke([*args, "--as", "alice"], input="{}")
    assert run.exit_code == 2, run.stderr
    assert run.stderr.startswith("error: ")
    assert len(run.stderr.strip().splitlines()) == 1
    assert ok(["audit", "--as", "alice"])["entries"] == before


def test_wrong_password_and_unknown_account(
    stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDLEDGER_PASSWORD", PASSWORD + "x")
    run = invoke(["rotate", "--as", "alice"])  # signs: unlocks (a read like `record list` does not)
    assert run.exit_code == 1
    assert "wrong password" in run.stderr
    monkeypatch.setenv("MEDLEDGER_PASSWORD", PASSWORD)
    run = invoke(["record", "list", "--as", "nobody"])
    assert run.exit_code == 1
    assert "no key named 'nobody'" in run.stderr
    monkeypatch.setenv("MEDLEDGER_ACCOUNT", "alice")
    assert invoke(["record", "list"]).exit_code == 0
