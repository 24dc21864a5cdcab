"""`audit sync|verify` (the persistent archive) and `anchor add|prove|verify` against a real Anvil.

One deployment for the module (the session's Anvil, attached like test_flows.py). The archive is
tampered with through sqlite3 directly, as an attacker with file access would, and `audit verify`
must find and name the entry; proofs are edited by hand and `anchor verify` must say which check
failed.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from helpers.cli import create_key, invoke, ok

pytestmark = pytest.mark.anvil


def new_actor(name: str, *, patient: bool = False, provider: str | None = None) -> dict[str, Any]:
    key = create_key(name)
    ok(["fund", name])
    if provider is not None:
        ok(["register", "provider", name, "--name", provider, "--as", "dev:0"])
    if patient:
        key["patient_id"] = ok(["register", "patient", "--as", name])["patient_id"]
    return key


def grant_clinic(patient: str) -> None:
    ok(
        [
            *("grant", "clinic", "--as", patient, "-c", "labs,vitals"),
            *("-p", "treatment", "-a", "read,write", "--for", "365d"),
        ]
    )


@pytest.fixture(scope="module")
def stack(module_env: Path, anvil_url: str) -> dict[str, Any]:
    node = ok(["node", "start", "--attach", anvil_url])
    actors = {
        "clinic": new_actor("clinic", provider="Riverside Clinic"),
        "spec": new_actor("spec", provider="Dr. Okafor"),
        "alice": new_actor("alice", patient=True),
    }
    grant_clinic("alice")
    profile = json.loads((module_env / "profiles" / "local.json").read_text())
    manifest = json.loads(Path(profile["manifest"]).read_text())
    medledger = manifest["contracts"]["MedLedger"]["address"]
    archive = module_env / "audit" / f"{manifest['chainId']}-{medledger}.sqlite"
    return {"home": module_env, "node": node, "manifest": manifest, "archive": archive, **actors}


def add_record(tmp_path: Path, patient_id: int, content: bytes) -> str:
    path = tmp_path / "labs.json"
    path.write_bytes(content)
    rec = ok(
        [
            *("record", "add", str(path), "--as", "clinic"),
            "--patient",
            str(patient_id),
            "-c",
            "labs",
        ]
    )
    return str(rec["record_id"])


def sql(archive: Path, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with sqlite3.connect(archive) as conn:
        rows = conn.execute(statement, params).fetchall()
    conn.close()
    return rows


# --- audit sync -------------------------------------------------------------------------------


def test_sync_builds_a_persistent_archive_and_resumes(
    stack: dict[str, Any], tmp_path: Path
) -> None:
    first = ok(["audit", "sync"])
    archive = stack["archive"]
    assert first["archive"] == str(archive)
    assert archive.is_file()
    assert first["from_block"] == stack["manifest"]["deployBlock"]
    assert first["events"] > 0  # registrations, the grant
    assert first["total_events"] == sql(archive, "SELECT COUNT(*) FROM events")[0][0]

    again = ok(["audit", "sync"])
    assert again["from_block"] == first["to_block"] + 1  # resumed, not restarted
    assert again["events"] == 0
    assert again["total_events"] == first["total_events"]

    rid = add_record(tmp_path, stack["alice"]["patient_id"], b'{"a1c": 6.1}')
    assert invoke(["record", "get", rid, "--as", "clinic"]).exit_code == 0
    third = ok(["audit", "sync"])
    assert third["from_block"] == again["last_block"] + 1
    assert third["events"] >= 2  # RecordAdded + AccessRecorded
    assert third["total_events"] == first["total_events"] + third["events"]
    logged = sql(
        archive,
        "SELECT subject FROM chain_log WHERE patient_id = ? AND event_name = 'AccessRecorded'",
        (stack["alice"]["patient_id"],),
    )
    assert (rid,) in logged

    human = invoke(["audit", "sync"])
    assert human.exit_code == 0, human.stderr
    assert "up to date" in human.stdout


# --- audit verify -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def erin_actor(stack: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A patient with five reads (allowed and denied) among eight chain entries to tamper with."""
    actor = new_actor("erin", patient=True)
    grant_clinic("erin")
    rid = add_record(tmp_path_factory.mktemp("erin"), actor["patient_id"], b'{"ldl": 2.4}')
    for who in ("clinic", "spec", "clinic", "spec", "clinic"):
        invoke(["record", "get", rid, "--as", who])  # spec has no consent: denied, logged
    return actor


@pytest.fixture
def erin(erin_actor: dict[str, Any]) -> dict[str, Any]:
    """``erin_actor``, with the archive rebuilt: each test starts from an untampered archive."""
    ok(["audit", "sync", "--rebuild"])
    return erin_actor


def test_verify_passes_on_an_untouched_archive(stack: dict[str, Any], erin: dict[str, Any]) -> None:
    result = ok(["audit", "verify", "--patient", str(erin["patient_id"])])
    assert result["verified"] is True
    assert result["problem"] is None
    (report,) = result["patients"]
    assert report["verified"] is True
    # v2 chains every operation: registration, the grant, the record, then the five reads
    assert report["count_archived"] == report["count_onchain"] == 8
    reads = sql(
        stack["archive"],
        "SELECT COUNT(*) FROM chain_log WHERE patient_id = ? AND event_name = 'AccessRecorded'",
        (erin["patient_id"],),
    )
    assert reads == [(5,)]
    assert report["head_recomputed"] == report["head_onchain"]
    # --as: the account's own patient id; --all: every patient the archive knows
    own = ok(["audit", "verify", "--as", "erin", "--no-sync"])
    assert [p["patient_id"] for p in own["patients"]] == [erin["patient_id"]]
    every = ok(["audit", "verify", "--all"])
    assert {p["patient_id"] for p in every["patients"]} >= {
        erin["patient_id"],
        stack["alice"]["patient_id"],
    }


def test_verify_names_an_altered_outcome(stack: dict[str, Any], erin: dict[str, Any]) -> None:
    pid = erin["patient_id"]
    archive = stack["archive"]
    ((seq, outcome),) = sql(
        archive,
        "SELECT seq, outcome FROM chain_log WHERE patient_id = ? AND event_name = 'AccessRecorded'"
        " ORDER BY seq LIMIT 1 OFFSET 1",
        (pid,),
    )
    assert outcome == 16  # the second read is spec's, denied (no consent): make it look allowed
    sql(archive, "UPDATE chain_log SET outcome = 0 WHERE patient_id = ? AND seq = ?", (pid, seq))

    run = invoke(["audit", "verify", "--patient", str(pid)])
    assert run.exit_code == 1
    errors = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1  # one error line (after the sync's status line)
    assert (
        "patient " + str(pid) + f": entry seq {seq} altered (outcome: archived 0, on chain 16)"
        in errors[0]
    )
    assert "hint:" in errors[0]
    assert "NOT verified" in run.stdout

    data = invoke(["audit", "verify", "--patient", str(pid), "--no-sync", "--json"])
    assert data.exit_code == 1
    result = data.json()  # one JSON document: the report, with the error in it
    assert result["verified"] is False
    assert result["patients"][0]["first_bad_seq"] == seq
    assert result["error"]["exit_code"] == 1
    assert f"entry seq {seq} altered" in result["problem"]

    # the accounting is never built from an archive that disagrees with the chain
    csv_file = stack["home"] / "erin.csv"
    refused = invoke(["audit", "--as", "erin", "--csv", str(csv_file)])
    assert refused.exit_code == 1
    assert f"entry seq {seq} altered" in refused.stderr
    assert not csv_file.exists()

    # another patient's log in the same archive is unaffected
    assert ok(["audit", "verify", "--patient", str(stack["alice"]["patient_id"])])["verified"]
    # --rebuild re-indexes from the chain: verified again, and the accounting is written
    rebuilt = ok(["audit", "sync", "--rebuild"])
    assert rebuilt["rebuilt"] is True
    assert ok(["audit", "verify", "--patient", str(pid)])["verified"] is True
    assert invoke(["audit", "--as", "erin", "--csv", str(csv_file)]).exit_code == 0
    assert csv_file.read_text().count("\n") >= 6  # header + five entries


def test_verify_names_a_deleted_entry(stack: dict[str, Any], erin: dict[str, Any]) -> None:
    pid = erin["patient_id"]
    sql(stack["archive"], "DELETE FROM chain_log WHERE patient_id = ? AND seq = 3", (pid,))
    run = invoke(["audit", "verify", "--patient", str(pid), "--json"])
    assert run.exit_code == 1
    assert "missing entry seq 3" in run.stderr
    result = run.json()
    assert result["patients"][0]["count_archived"] == 7
    assert result["patients"][0]["count_onchain"] == 8
    # a sync resumes after the last block: it does not paper over the hole
    assert invoke(["audit", "verify", "--patient", str(pid)]).exit_code == 1


def test_verify_bad_input(stack: dict[str, Any], erin: dict[str, Any]) -> None:
    assert invoke(["audit", "verify", "--patient", "999"]).exit_code == 2
    assert invoke(["audit", "verify", "--patient", "1", "--all"]).exit_code == 2
    wrong_place = invoke(["audit", "--patient", "1", "verify"])
    assert wrong_place.exit_code == 2
    assert "after `audit verify`" in wrong_place.stderr
    # --no-sync never creates an archive
    for suffix in ("", "-wal", "-shm"):
        Path(f"{stack['archive']}{suffix}").unlink(missing_ok=True)
    missing = invoke(["audit", "verify", "--patient", str(erin["patient_id"]), "--no-sync"])
    assert missing.exit_code == 2
    assert "no audit archive yet" in missing.stderr
    assert not stack["archive"].exists()


# --- anchor -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def batch(stack: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Four readings anchored as files, with their proofs written by `anchor add`."""
    work = tmp_path_factory.mktemp("readings")
    files = []
    for i, hr in enumerate((71, 74, 69, 80)):
        f = work / f"reading-{i}.json"
        f.write_text(json.dumps({"hr": hr, "t": 1000 + i}))
        files.append(f)
    proofs = work / "proofs"
    pid = str(stack["alice"]["patient_id"])
    added = ok(
        [
            *("anchor", "add", "--as", "clinic", "--patient", pid, "--stream", "hr-watch-7"),
            *("--proofs-dir", str(proofs), *map(str, files)),
        ]
    )
    return {"added": added, "files": files, "proofs": proofs, "work": work}


def test_anchor_add_prints_the_batch_and_writes_proofs(
    stack: dict[str, Any], batch: dict[str, Any]
) -> None:
    added = batch["added"]
    assert added["count"] == 4
    assert added["category"] == "vitals"
    written = sorted(p.name for p in batch["proofs"].iterdir())
    assert written == [f"000{i}-reading-{i}.json.proof.json" for i in range(4)]
    for i, name in enumerate(written):
        proof = json.loads((batch["proofs"] / name).read_text())
        assert proof["index"] == i
        assert proof["root"] == added["root"]
        assert proof["streamId"] == added["stream_id"]
    # the stored batch is an ordinary (encrypted) record of the patient, and the anchor event
    # reaches the audit archive
    listed = ok(["record", "list", "--as", "alice"])
    assert {"record_id": added["record_id"], "category": "vitals"}.items() <= next(
        r for r in listed if r["record_id"] == added["record_id"]
    ).items()
    ok(["audit", "sync"])
    anchored = sql(stack["archive"], "SELECT stream_id, root, item_count FROM anchors")
    assert (added["stream_id"], added["root"], 4) in anchored


def test_prove_then_verify(stack: dict[str, Any], batch: dict[str, Any], tmp_path: Path) -> None:
    rid = batch["added"]["record_id"]
    run = invoke(
        [
            *("anchor", "prove", "--as", "alice", "--record", rid, "-p", "patient_request"),
            *("--item-file", str(batch["files"][2])),
        ]
    )
    assert run.exit_code == 0, run.stderr
    proof = json.loads(run.stdout)
    assert proof == json.loads((batch["proofs"] / "0002-reading-2.json.proof.json").read_text())
    path = tmp_path / "r2.proof.json"
    path.write_text(run.stdout)

    result = ok(["anchor", "verify", str(path), "--item-file", str(batch["files"][2])])
    assert result["valid"] is True
    assert [c["check"] for c in result["checks"]] == ["item", "merkle", "anchored", "onchain"]
    assert all(c["ok"] for c in result["checks"])
    human = invoke(["anchor", "verify", str(path)])
    assert human.exit_code == 0
    assert "valid" in human.stdout
    offline = ok(["anchor", "verify", str(path), "--offline"])
    assert [c["check"] for c in offline["checks"]] == ["merkle"]

    # the read of the batch was logged like any record read
    trail = ok(["audit", "--as", "alice"])["entries"]
    assert (trail[-1]["record_id"], trail[-1]["purpose"]) == (rid, "patient_request")

    # --out writes the same proof
    out = tmp_path / "again.json"
    wrote = ok(
        [
            "anchor",
            "prove",
            "--as",
            "clinic",
            "--record",
            rid,
            "--item-file",
            str(batch["files"][2]),
            "--out",
            str(out),
        ]
    )
    assert wrote["index"] == 2
    assert json.loads(out.read_text()) == proof


def edited(proof: dict[str, Any], field: str, index: int | None = None) -> dict[str, Any]:
    """The proof with one hex digit of ``field`` (or of ``field[index]``) changed."""
    copy = json.loads(json.dumps(proof))
    value = copy[field] if index is None else copy[field][index]
    flipped = value[:-1] + ("0" if value[-1] != "0" else "1")
    if index is None:
        copy[field] = flipped
    else:
        copy[field][index] = flipped
    return copy


@pytest.mark.parametrize(
    ("field", "index", "failed"),
    [
        ("proof", 0, "merkle"),
        ("item", None, "merkle"),
        ("root", None, "merkle"),
        ("streamId", None, "anchored"),
    ],
)
def test_an_edited_proof_fails_and_says_which_check(
    batch: dict[str, Any], tmp_path: Path, field: str, index: int | None, failed: str
) -> None:
    proof = json.loads((batch["proofs"] / "0001-reading-1.json.proof.json").read_text())
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(edited(proof, field, index)))
    run = invoke(["anchor", "verify", str(path), "--json"])
    assert run.exit_code == 1
    result = run.json()
    assert result["valid"] is False
    assert result["failed"] == failed
    assert result["error"]["exit_code"] == 1
    assert run.stderr.startswith("error: proof invalid: ")
    assert len(run.stderr.strip().splitlines()) == 1
    # the chain's own verifyItem agrees that it is invalid
    assert [c["ok"] for c in result["checks"] if c["check"] == "onchain"] == [False]


def test_a_valid_tree_that_was_never_anchored_fails_online_only(tmp_path: Path) -> None:
    from medledger.anchoring import Batch
    from medledger.client import prove_item, stream_id_of

    items = [b"forged-1", b"forged-2", b"forged-3"]
    forged = prove_item(Batch.from_items(stream_id_of("hr-watch-7"), items), items[1])
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(forged.to_json()))
    assert invoke(["anchor", "verify", str(path), "--offline"]).exit_code == 0
    run = invoke(["anchor", "verify", str(path)])
    assert run.exit_code == 1
    assert "is not anchored in stream" in run.stderr


def test_the_wrong_item_fails_the_item_check(batch: dict[str, Any]) -> None:
    proof = batch["proofs"] / "0000-reading-0.json.proof.json"
    run = invoke(["anchor", "verify", str(proof), "--item-file", str(batch["files"][3]), "--json"])
    assert run.exit_code == 1
    assert run.json()["failed"] == "item"


def test_lines_from_stdin(stack: dict[str, Any], tmp_path: Path) -> None:
    pid = str(stack["alice"]["patient_id"])
    added = ok(
        ["anchor", "add", "--as", "clinic", "--patient", pid, "--stream", "spo2", "--lines", "-"],
        input='{"spo2": 97}\n{"spo2": 95}\r\n\n{"spo2": 98}\n',
    )
    assert added["count"] == 3  # the empty line is not an item
    run = invoke(
        [
            "anchor",
            "prove",
            "--as",
            "clinic",
            "--record",
            added["record_id"],
            "--item",
            '{"spo2": 98}',
        ]
    )
    assert run.exit_code == 0, run.stderr
    proof = json.loads(run.stdout)
    assert proof["index"] == 2
    path = tmp_path / "spo2.json"
    path.write_text(run.stdout)
    assert ok(["anchor", "verify", str(path), "--item", '{"spo2": 98}'])["valid"] is True
    absent = invoke(
        [
            "anchor",
            "prove",
            "--as",
            "clinic",
            "--record",
            added["record_id"],
            "--item",
            '{"spo2": 50}',
        ]
    )
    assert absent.exit_code == 2
    assert "not in this batch" in absent.stderr


def test_prove_is_a_consent_checked_read(batch: dict[str, Any]) -> None:
    run = invoke(
        [
            "anchor",
            "prove",
            "--as",
            "spec",
            "--record",
            batch["added"]["record_id"],
            "--item-file",
            str(batch["files"][0]),
        ]
    )
    assert run.exit_code == 3
    assert run.stdout == ""


def test_anchor_bad_input_sends_nothing(stack: dict[str, Any], batch: dict[str, Any]) -> None:
    pid = str(stack["alice"]["patient_id"])
    base = ["anchor", "add", "--as", "clinic", "--patient", pid, "--stream", "hr-watch-7"]
    a_file = str(batch["files"][0])
    before = len(ok(["record", "list", "--as", "alice"]))
    cases = [
        [*base, a_file, "--lines", a_file],  # both sources
        base,  # no items
        [*base, "-c", "bones", a_file],  # unknown category
        [*base, str(batch["work"] / "nope.json")],  # missing file
        [*base, "--proofs-dir", str(batch["proofs"]), a_file],  # would overwrite proof 0000
        ["anchor", "add", "--as", "clinic", "--patient", pid, "--stream", " ", a_file],
    ]
    for args in cases:
        run = invoke(args)
        assert run.exit_code == 2, (args, run.stderr)
        assert run.stderr.startswith("error: ")
    assert len(ok(["record", "list", "--as", "alice"])) == before
    garbage = batch["work"] / "garbage.json"
    garbage.write_text("{not json")
    assert invoke(["anchor", "verify", str(garbage), "--offline"]).exit_code == 2
    garbage.write_text('{"root": "0x12"}')
    assert invoke(["anchor", "verify", str(garbage), "--offline"]).exit_code == 2
