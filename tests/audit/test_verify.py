"""Archive verification against the on-chain hash-chain head: a real chain, then a tampered
archive (rows deleted or altered directly in SQLite, as an attacker or a bad restore would).

v2 chains every patient-touching operation; alice's chain in the scenario (helpers/audit.py):
0 registered, 1-3 records added, 4-7 grants (7 replaces 6), 8 read allowed, 9 read denied
(category), 10 her own read, 11 read denied (purpose), 12 read allowed, 13 break-glass opened,
14 emergency read, 15 break-glass closed, 16 revoked, 17 read denied (no consent), 18 write
denied, 19 record erased. Bob: 0 registered, 1 record added, 2 own read, 3 controller changed,
4 record erased (by the new controller)."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from web3.logs import DISCARD

from helpers.audit import Scenario
from medledger.audit import Archive, AuditIndexer, verify_entries, verify_patient
from medledger.audit.archive import AccessEntry, ChainEntry, ChainLog, chain_entries_from_logs
from medledger.audit.events import CHAINED_EVENT_NAMES
from medledger.audit.hashchain import (
    ZERO_HEAD,
    check_entry_fields,
    next_head,
    next_head_reference,
)
from medledger.audit.verify import read_log_head
from medledger.errors import InvalidInput


@pytest.fixture
def synced(scenario: Scenario, tmp_path: Path) -> tuple[Archive, Path]:
    path = tmp_path / "a.sqlite"
    archive = Archive.open(path)
    AuditIndexer(
        scenario.w3, archive, scenario.medledger.address, start_block=scenario.start_block
    ).sync()
    return archive, path


def tamper(path: Path, sql: str, *params: object) -> None:
    with sqlite3.connect(path) as db:
        assert db.execute(sql, params).rowcount == 1


def test_untouched_archive_matches_the_chain(scenario: Scenario, synced: tuple[Archive, Path]):
    archive, _ = synced
    report = verify_patient(scenario.w3, archive, scenario.alice_id)
    head, count = read_log_head(scenario.w3, scenario.medledger.address, scenario.alice_id)
    assert report.ok
    assert report.problem is None
    assert report.first_bad_seq is None
    assert report.count_onchain == report.count_archived == count
    assert count == len(scenario.chain[scenario.alice_id]) == 20
    assert report.head_recomputed == report.head_onchain == "0x" + head.hex()
    assert verify_patient(scenario.w3, archive, scenario.bob_id).ok
    # every entry kind is in the archived chains, with the actor and outcome the contract chained
    for pid in (scenario.alice_id, scenario.bob_id):
        assert [(e.event, e.actor, e.outcome) for e in archive.chain_entries(pid)] == (
            scenario.chain[pid]
        )
    kinds = {e.event for pid in (1, 2) for e in archive.chain_entries(pid)}
    assert kinds == set(CHAINED_EVENT_NAMES)


def first_of_kind(scenario: Scenario, archive: Archive, kind: str) -> ChainEntry:
    for pid in (scenario.alice_id, scenario.bob_id):
        for e in archive.chain_entries(pid):
            if e.event == kind:
                return e
    raise AssertionError(f"the scenario has no {kind}")


@pytest.mark.parametrize("kind", CHAINED_EVENT_NAMES)
def test_dropping_any_kind_of_entry_is_named(
    scenario: Scenario, synced: tuple[Archive, Path], kind: str
) -> None:
    """Issue 12 point 8: an archive that drops a ConsentRevoked (or any entry) fails."""
    archive, path = synced
    e = first_of_kind(scenario, archive, kind)
    tamper(path, "DELETE FROM chain_log WHERE patient_id = ? AND seq = ?", e.patient_id, e.seq)
    report = verify_patient(scenario.w3, archive, e.patient_id)
    assert not report.ok
    assert (report.first_bad_seq, report.problem) == (e.seq, f"missing entry seq {e.seq}")


@pytest.mark.parametrize("kind", CHAINED_EVENT_NAMES)
def test_altering_any_kind_of_entry_is_named(
    scenario: Scenario, synced: tuple[Archive, Path], kind: str
) -> None:
    archive, path = synced
    e = first_of_kind(scenario, archive, kind)
    tamper(path, "UPDATE chain_log SET entry_time = entry_time + 60 WHERE patient_id = ? "
           "AND seq = ?", e.patient_id, e.seq)  # fmt: skip
    report = verify_patient(scenario.w3, archive, e.patient_id)
    assert report.first_bad_seq == e.seq
    t = e.timestamp
    assert (
        report.problem == f"entry seq {e.seq} altered (timestamp: archived {t + 60}, on chain {t})"
    )
    # and without the chain's logs (pruned), still caught at that entry
    blind = verify_patient(scenario.w3, archive, e.patient_id, localise_with_chain_logs=False)
    assert blind.first_bad_seq == e.seq
    assert blind.problem == f"entry seq {e.seq} altered (content does not match its recorded head)"


def test_an_altered_grant_or_erasure_actor_is_caught(
    scenario: Scenario, synced: tuple[Archive, Path]
) -> None:
    """Widening a grant (subject = the consent word) or blaming an erasure on someone else."""
    archive, path = synced
    grant = first_of_kind(scenario, archive, "ConsentGranted")
    wider = "0x" + (int(grant.subject, 16) | 0x3FF).to_bytes(32, "big").hex()
    tamper(path, "UPDATE chain_log SET subject = ? WHERE patient_id = ? AND seq = ?",
           wider, grant.patient_id, grant.seq)  # fmt: skip
    erased = next(e for e in archive.chain_entries(scenario.bob_id) if e.event == "RecordErased")
    assert erased.actor == scenario.bob_new  # the controller at the time, not the registrant
    tamper(path, "UPDATE chain_log SET actor = ? WHERE patient_id = ? AND seq = ?",
           scenario.bob, erased.patient_id, erased.seq)  # fmt: skip
    report = verify_patient(scenario.w3, archive, scenario.alice_id)
    assert report.problem == (
        f"entry seq {grant.seq} altered (subject: archived {wider}, on chain {grant.subject})"
    )
    bob = verify_patient(scenario.w3, archive, scenario.bob_id)
    assert bob.first_bad_seq == erased.seq
    assert (
        bob.problem == f"entry seq {erased.seq} altered (content does not match its recorded head)"
    )


def test_deleted_entry_is_named(scenario: Scenario, synced: tuple[Archive, Path]) -> None:
    archive, path = synced
    tamper(path, "DELETE FROM chain_log WHERE patient_id = ? AND seq = 3", scenario.alice_id)
    report = verify_patient(scenario.w3, archive, scenario.alice_id)
    assert not report.ok
    assert report.first_bad_seq == 3
    assert report.problem == "missing entry seq 3"
    assert report.count_archived == report.count_onchain - 1


def test_deleted_last_entry_is_named(scenario: Scenario, synced: tuple[Archive, Path]) -> None:
    archive, path = synced
    last = len(scenario.chain[scenario.alice_id]) - 1
    tamper(path, "DELETE FROM chain_log WHERE patient_id = ? AND seq = ?", scenario.alice_id, last)
    report = verify_patient(scenario.w3, archive, scenario.alice_id)
    assert (report.first_bad_seq, report.problem) == (last, f"missing entry seq {last}")


def test_altered_outcome_is_named_from_the_chain_logs(
    scenario: Scenario, synced: tuple[Archive, Path]
) -> None:
    archive, path = synced
    seq = 9  # City Labs' denied read: pretend it was allowed
    assert scenario.chain[scenario.alice_id][seq] == ("AccessRecorded", scenario.labs, 19)
    tamper(path, "UPDATE chain_log SET outcome = 0 WHERE patient_id = ? AND seq = ?",
           scenario.alice_id, seq)  # fmt: skip
    report = verify_patient(scenario.w3, archive, scenario.alice_id)
    assert report.first_bad_seq == seq
    assert report.problem == f"entry seq {seq} altered (outcome: archived 0, on chain 19)"
    assert len(report.problems) == 1  # the entries after it still chain correctly


def test_altered_outcome_is_named_without_the_chain_logs(
    scenario: Scenario, synced: tuple[Archive, Path]
) -> None:
    # EIP-4444: the node may have pruned the logs; the one-byte fields are found by search.
    archive, path = synced
    tamper(path, "UPDATE chain_log SET purpose = 2 WHERE patient_id = ? AND seq = 8",
           scenario.alice_id)  # fmt: skip
    report = verify_patient(scenario.w3, archive, scenario.alice_id, localise_with_chain_logs=False)
    assert report.problem == "entry seq 8 altered (purpose: archived 2, original 0)"


def test_altered_accessor_without_chain_logs(
    scenario: Scenario, synced: tuple[Archive, Path]
) -> None:
    archive, path = synced
    tamper(path, "UPDATE chain_log SET actor = ? WHERE patient_id = ? AND seq = 12",
           scenario.research, scenario.alice_id)  # fmt: skip
    report = verify_patient(scenario.w3, archive, scenario.alice_id, localise_with_chain_logs=False)
    assert report.first_bad_seq == 12
    assert report.problem == "entry seq 12 altered (content does not match its recorded head)"
    with_logs = verify_patient(scenario.w3, archive, scenario.alice_id)
    assert with_logs.problem is not None
    assert with_logs.problem.startswith("entry seq 12 altered (actor: archived ")


def test_altered_head_is_named(scenario: Scenario, synced: tuple[Archive, Path]) -> None:
    archive, path = synced
    tamper(path, "UPDATE chain_log SET head = ? WHERE patient_id = ? AND seq = 2",
           "0x" + "ab" * 24, scenario.alice_id)  # fmt: skip
    report = verify_patient(scenario.w3, archive, scenario.alice_id)
    assert report.first_bad_seq == 2
    assert report.problem is not None
    assert report.problem.startswith("entry seq 2 altered (head: archived 0x" + "ab" * 24)
    assert len(report.problems) == 1


def test_consistent_rewrite_is_caught(scenario: Scenario, synced: tuple[Archive, Path]) -> None:
    """Alter an entry and re-hash every later head: each row chains, only the on-chain head
    disagrees; the chain's own logs localise it."""
    archive, path = synced
    entries = archive.chain_entries(scenario.alice_id)
    forged = [replace(entries[0], timestamp=entries[0].timestamp - 3600), *entries[1:]]
    prev = ZERO_HEAD
    with sqlite3.connect(path) as db:
        for e in forged:
            accessor, record = bytes.fromhex(e.actor[2:]), bytes.fromhex(e.subject[2:])
            prev = next_head(
                prev, e.patient_id, e.seq, accessor, record, e.purpose, e.outcome, e.timestamp
            )
            db.execute(
                "UPDATE chain_log SET head = ?, entry_time = ? WHERE patient_id = ? AND seq = ?",
                ("0x" + prev.hex(), e.timestamp, e.patient_id, e.seq),
            )
    report = verify_patient(scenario.w3, archive, scenario.alice_id)
    assert report.first_bad_seq == 0
    assert report.problem is not None
    assert report.problem.startswith("entry seq 0 altered (")
    assert "timestamp: archived" in report.problem
    blind = verify_patient(scenario.w3, archive, scenario.alice_id, localise_with_chain_logs=False)
    assert not blind.ok
    assert blind.problems[0].kind == "diverged"


def test_archive_behind_the_chain_reports_the_missing_tail(
    scenario: Scenario, synced: tuple[Archive, Path]
) -> None:
    archive, _ = synced
    n = len(scenario.chain[scenario.alice_id])
    report = verify_patient(scenario.w3, archive, scenario.alice_id, block_identifier="latest")
    assert report.ok
    snap = scenario.w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    try:
        scenario.access(scenario.hospital, "labs-1", 0)
        scenario.access(scenario.hospital, "labs-1", 0)
        # read at the synced block (the default): the archive is complete for that block
        assert verify_patient(scenario.w3, archive, scenario.alice_id).ok
        behind = verify_patient(scenario.w3, archive, scenario.alice_id, block_identifier="latest")
        assert behind.problem == f"missing entry seqs {n}..{n + 1}"
    finally:
        scenario.w3.provider.make_request("evm_revert", [snap])  # type: ignore[arg-type]
        del scenario.chain[scenario.alice_id][n:]
        del scenario.access_outcomes[-2:]
        del scenario.receipts[-2:]


# --- pure verification and the hash formula ---------------------------------------------------


def chain_of(n: int, pid: int = 7) -> tuple[list[AccessEntry], bytes]:
    prev, out = ZERO_HEAD, []
    for seq in range(n):
        acc, rec = bytes([seq % 251 + 1]) * 20, seq.to_bytes(32, "big")
        prev = next_head(
            prev, pid, seq, acc, rec, seq % 8, 16 if seq % 5 == 0 else 0, 1_700_000_000 + seq
        )
        out.append(AccessEntry(pid, seq, "0x" + acc.hex(), "0x" + rec.hex(), seq % 8,
                               16 if seq % 5 == 0 else 0, 1_700_000_000 + seq, "0x" + prev.hex(),
                               seq, 0, "0x" + "00" * 32))  # fmt: skip
    return out, prev


def test_verify_entries_reports_every_gap() -> None:
    entries, head = chain_of(50)
    assert verify_entries(7, entries, head, 50).ok
    holes = [e for e in entries if e.seq not in (10, 11, 12, 30)]
    report = verify_entries(7, holes, head, 50)
    assert [p.detail for p in report.problems] == [
        "missing entry seqs 10..12",
        "missing entry seq 30",
    ]
    assert report.first_bad_seq == 10
    empty = verify_entries(7, [], head, 50)
    assert empty.problem == "missing entry seqs 0..49"
    assert verify_entries(7, [], ZERO_HEAD, 0).ok


def test_verify_entries_flags_extra_and_malformed_rows() -> None:
    entries, head = chain_of(5)
    extra = verify_entries(7, entries, bytes.fromhex(entries[3].head[2:]), 4)
    assert extra.problems[0].kind == "extra"
    bad = [*entries[:2], replace(entries[2], actor="0x1234"), *entries[3:]]
    report = verify_entries(7, bad, head, 5)
    assert report.problems[0].kind == "malformed"
    assert report.first_bad_seq == 2
    with pytest.raises(InvalidInput):
        verify_entries(7, entries, b"\0" * 32, 5)


_u = st.integers


@settings(max_examples=200, deadline=None)
@given(
    head=st.binary(min_size=24, max_size=24),
    pid=_u(0, 2**64 - 1),
    seq=_u(0, 2**64 - 1),
    accessor=st.binary(min_size=20, max_size=20),
    record=st.binary(min_size=32, max_size=32),
    purpose=_u(0, 255),
    outcome=_u(0, 255),
    ts=_u(0, 2**40 - 1),
)
def test_fast_head_equals_eth_abi_encode_formula(
    head: bytes, pid: int, seq: int, accessor: bytes, record: bytes, purpose: int, outcome: int,
    ts: int,
) -> None:  # fmt: skip
    args = (head, pid, seq, accessor, record, purpose, outcome, ts)
    check_entry_fields(*args)
    assert next_head(*args) == next_head_reference(*args)


def test_field_ranges_are_checked() -> None:
    ok = (ZERO_HEAD, 1, 0, b"\1" * 20, b"\2" * 32, 0, 0, 0)
    check_entry_fields(*ok)
    for i, bad in ((0, b"\0" * 32), (3, b"\1" * 19), (5, 256), (7, 2**40), (1, -1)):
        args = list(ok)
        args[i] = bad
        with pytest.raises(InvalidInput):
            check_entry_fields(*args)  # type: ignore[arg-type]


def test_entries_from_web3_logs_verify_without_an_archive(
    scenario: Scenario, synced: tuple[Archive, Path]
) -> None:
    """What the SDK's trail does: the chained events from web3, straight to verify_entries."""
    archive, _ = synced
    w3, med = scenario.w3, scenario.medledger
    logs: list[ChainLog] = []
    for r in scenario.receipts:
        block_time = int(w3.eth.get_block(r["blockNumber"])["timestamp"])
        for name in CHAINED_EVENT_NAMES:
            for ev in med.events[name]().process_receipt(r, errors=DISCARD):
                if int(ev["args"]["patientId"]) == scenario.alice_id:
                    tx = "0x" + bytes(ev["transactionHash"]).hex()
                    at = (ev["blockNumber"], ev["logIndex"], tx, block_time)
                    logs.append(ChainLog(name, ev["args"], *at))
    entries = chain_entries_from_logs(scenario.alice_id, logs)
    assert entries == archive.chain_entries(scenario.alice_id)
    head, count = read_log_head(w3, med.address, scenario.alice_id)
    assert verify_entries(scenario.alice_id, entries, head, count).ok
    without_revoke = [e for e in entries if e.event != "ConsentRevoked"]
    report = verify_entries(scenario.alice_id, without_revoke, head, count)
    assert report.problem == "missing entry seq 16"


def test_archive_started_late_syncs_and_reports_what_it_lacks(
    scenario: Scenario, tmp_path: Path
) -> None:
    """An archive synced from a later block still syncs; it cannot verify, and says why."""
    erase = scenario.receipts[-2]  # bob's erasure by his new controller
    late = Archive.open(tmp_path / "late.sqlite")
    AuditIndexer(
        scenario.w3, late, scenario.medledger.address, start_block=erase["blockNumber"]
    ).sync()
    [entry] = late.chain_entries(scenario.bob_id)
    assert (entry.event, entry.seq, entry.actor) == (
        "RecordErased",
        4,
        "",
    )  # erasing controller unknown
    report = verify_patient(scenario.w3, late, scenario.bob_id)
    assert not report.ok
    assert [p.kind for p in report.problems][:2] == ["malformed", "missing"]
    assert "missing entry seqs 0..4" in [p.detail for p in report.problems]
