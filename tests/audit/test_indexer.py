"""Archive sync against a real Anvil chain: completeness, resume, paging, reorgs, atomicity."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3

from helpers.audit import Scenario, build_scenario, send
from medledger.audit import Archive, AuditIndexer
from medledger.audit.db import SQLiteDatabase
from medledger.audit.events import EVENT_SPECS
from medledger.audit.verify import verify_patient
from medledger.errors import IntegrityError, InvalidInput, StorageError

_BY_TOPIC = {s.topic0: s.name for s in EVENT_SPECS.values()}


def emitted(s: Scenario) -> Counter[str]:
    """Event names the scenario's transactions actually emitted (from their receipts)."""
    c: Counter[str] = Counter()
    for r in s.receipts:
        for log in r["logs"]:
            name = _BY_TOPIC.get(bytes(log["topics"][0]))
            if name is not None:
                c[name] += 1
    return c


def indexer(s: Scenario, archive: Archive, **kw: Any) -> AuditIndexer:
    return AuditIndexer(
        s.w3, archive, s.medledger.address, s.anchors.address, start_block=s.start_block, **kw
    )


def snapshot_rows(archive: Archive) -> list[tuple[Any, ...]]:
    return [
        (e.name, e.block_number, e.log_index, e.block_hash, dict(e.args)) for e in archive.events()
    ]


def test_archive_filters_return_exactly_the_matching_rows(
    scenario: Scenario, tmp_path: Path
) -> None:
    archive = Archive.open(tmp_path / "a.sqlite")
    indexer(scenario, archive).sync()
    providers = archive.provider_events()
    assert len({p.provider for p in providers}) > 1
    for who in {p.provider for p in providers}:
        # any spelling of the address selects that provider's events, in chain order
        assert archive.provider_events(who.lower()) == [p for p in providers if p.provider == who]
    anchors = archive.anchors()
    for stream in {a.stream_id for a in anchors}:
        assert archive.anchors(stream.upper().replace("0X", "0x")) == [
            a for a in anchors if a.stream_id == stream
        ]
    assert archive.anchors("0x" + "ee" * 32) == []
    stored = archive.events()
    for name, pid in (("ConsentGranted", None), (None, scenario.bob_id),
                      ("AccessRecorded", scenario.alice_id)):  # fmt: skip
        assert archive.events(name, pid) == [
            e for e in stored
            if (name is None or e.name == name) and (pid is None or e.patient_id == pid)
        ]  # fmt: skip
    assert archive.events("ConsentGranted", scenario.alice_id)


def test_sync_archives_every_event_the_chain_emitted(scenario: Scenario, tmp_path: Path) -> None:
    archive = Archive.open(tmp_path / "a.sqlite")
    result = indexer(scenario, archive).sync()
    got = Counter(e.name for e in archive.events())
    assert got == emitted(scenario)
    # the scenario covers every kind the typed tables hold
    for name in ("AccessRecorded", "ConsentGranted", "ConsentRevoked", "BreakGlassOpened",
                 "BreakGlassClosed", "RecordAdded", "RecordErased", "ProviderRegistered",
                 "ProviderUpdated", "PatientRegistered", "ControllerProposed",
                 "ControllerChanged", "BatchAnchored"):  # fmt: skip
        assert got[name] > 0, name
    assert result.events == sum(got.values())
    assert archive.last_block == scenario.w3.eth.block_number
    # every chained event is a chain entry, in seq order, as the scenario expects
    for pid in (scenario.alice_id, scenario.bob_id):
        entries = archive.chain_entries(pid)
        assert [e.seq for e in entries] == list(range(len(entries)))
        assert [(e.event, e.actor, e.outcome) for e in entries] == scenario.chain[pid]
    reads = archive.access_entries(scenario.alice_id)
    assert [(e.accessor, e.outcome) for e in reads if e.is_access] == [
        (who, outcome) for who, _rec, outcome in scenario.access_outcomes
    ]
    grants = [c for c in archive.consent_events(scenario.alice_id) if c.kind == "grant"]
    assert [c.replaced for c in grants] == [False, False, False, True]
    assert archive.anchors()[0].count == 3
    assert [r.erased_time is not None for r in archive.records(scenario.alice_id)] == [
        False, True, False,
    ]  # fmt: skip


def test_second_sync_resumes_after_the_last_block(scenario: Scenario, tmp_path: Path) -> None:
    w3 = scenario.w3
    archive = Archive.open(tmp_path / "a.sqlite")
    first = indexer(scenario, archive).sync()
    again = indexer(scenario, archive).sync()  # a new indexer: state comes from the archive
    assert again.from_block == first.to_block + 1
    assert again.events == 0
    before = archive.count_events()
    snap = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    try:
        scenario.access(scenario.hospital, "labs-1", 0)
        third = indexer(scenario, archive).sync()
        assert third.from_block == first.to_block + 1
        assert third.events == 1
        assert archive.count_events() == before + 1
    finally:
        w3.provider.make_request("evm_revert", [snap])  # type: ignore[arg-type]
        scenario.access_outcomes.pop()
        scenario.chain[scenario.alice_id].pop()
        scenario.receipts.pop()


def test_page_size_does_not_change_the_archive(scenario: Scenario, tmp_path: Path) -> None:
    one = Archive.open(tmp_path / "one.sqlite")
    big = Archive.open(tmp_path / "big.sqlite")
    r1 = indexer(scenario, one, page_size=3).sync()
    r2 = indexer(scenario, big, page_size=10_000).sync()
    assert r1.pages > 1
    assert r2.pages == 1
    assert snapshot_rows(one) == snapshot_rows(big)


def test_reorg_rolls_back_and_resyncs(w3: Web3, tmp_path: Path) -> None:
    s = build_scenario(w3)
    archive = Archive.open(tmp_path / "a.sqlite")
    idx = indexer(s, archive, reorg_window=16)
    idx.sync()
    fork_base = w3.eth.block_number
    snap = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    # the branch that will be orphaned: two accesses and a grant
    s.access(s.hospital, "labs-1", 0)
    s.access(s.research, "labs-1", 4)
    send(w3, s.medledger.functions.grant(s.labs, 8, 1, 1, 0, s.now() + 999, b"\0" * 32), s.alice)
    idx.sync()
    orphaned = {e.tx_hash for e in archive.events() if e.block_number > fork_base}
    assert len(orphaned) == 3
    w3.provider.make_request("evm_revert", [snap])  # type: ignore[arg-type]
    # the canonical branch: a different access, then more blocks than the orphaned branch had
    s.access(s.labs, "labs-1", 0)
    for _ in range(4):
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    result = idx.sync()
    assert result.reorg is not None
    assert result.reorg.common_ancestor == fork_base
    assert result.reorg.events_removed == 3  # two AccessRecorded and one ConsentGranted
    assert not orphaned & {e.tx_hash for e in archive.events()}
    # identical to an archive synced from scratch on the canonical chain
    fresh = Archive.open(tmp_path / "fresh.sqlite")
    indexer(s, fresh).sync()
    assert snapshot_rows(archive) == snapshot_rows(fresh)
    assert verify_patient(w3, archive, s.alice_id).ok


def test_reorg_deeper_than_the_window_is_refused(w3: Web3, tmp_path: Path) -> None:
    s = build_scenario(w3)
    snap = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    for _ in range(5):
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    archive = Archive.open(tmp_path / "a.sqlite")
    idx = indexer(s, archive, reorg_window=3)
    idx.sync()
    w3.provider.make_request("evm_revert", [snap])  # type: ignore[arg-type]
    # a transaction makes the new branch differ (identical empty blocks would hash the same)
    s.access(s.hospital, "labs-1", 0)
    for _ in range(8):
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    with pytest.raises(IntegrityError, match="deeper than the 3-block window"):
        idx.sync()


def test_archive_refuses_another_deployment(scenario: Scenario, tmp_path: Path) -> None:
    archive = Archive.open(tmp_path / "a.sqlite")
    indexer(scenario, archive).sync()
    with pytest.raises(InvalidInput, match="belongs to medledger"):
        AuditIndexer(scenario.w3, archive, scenario.anchors.address)


class _FailingDB(SQLiteDatabase):
    """Fails the first insert into the chain log, like a full disk in the middle of a page."""

    def execute(self, sql: str, params: Any = ()) -> None:
        if sql.startswith("INSERT INTO chain_log"):
            raise StorageError("disk full")
        super().execute(sql, params)


def test_a_failed_page_leaves_nothing_half_written(scenario: Scenario, tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite"
    archive = Archive(_FailingDB(path))
    with pytest.raises(StorageError, match="disk full"):
        indexer(scenario, archive).sync()
    archive.close()
    reopened = Archive.open(path)
    assert reopened.last_block is None
    assert reopened.count_events() == 0
    assert reopened.synced_blocks() == []
    # and a healthy retry archives everything
    indexer(scenario, reopened).sync()
    assert reopened.count_events() == sum(emitted(scenario).values())


class _FailsLater(SQLiteDatabase):
    """Fails the fifth chain-log insert: a crash after some pages were committed."""

    inserts = 0

    def execute(self, sql: str, params: Any = ()) -> None:
        if sql.startswith("INSERT INTO chain_log"):
            self.inserts += 1
            if self.inserts == 5:
                raise StorageError("killed")
        super().execute(sql, params)


def test_interrupted_sync_resumes_from_the_last_complete_page(
    scenario: Scenario, tmp_path: Path
) -> None:
    path = tmp_path / "a.sqlite"
    crashing = Archive(_FailsLater(path))
    with pytest.raises(StorageError, match="killed"):
        indexer(scenario, crashing, page_size=2).sync()
    crashing.close()
    archive = Archive.open(path)
    stopped_at = archive.last_block
    assert stopped_at is not None
    assert stopped_at < scenario.w3.eth.block_number
    # committed pages are complete: nothing archived beyond the resume point
    assert max(e.block_number for e in archive.events()) <= stopped_at
    result = indexer(scenario, archive, page_size=2).sync()
    assert result.reorg is None  # no needless rollback
    assert result.from_block == stopped_at + 1
    fresh = Archive.open(tmp_path / "fresh.sqlite")
    indexer(scenario, fresh).sync()
    assert snapshot_rows(archive) == snapshot_rows(fresh)


def test_bad_arguments_are_rejected(scenario: Scenario, tmp_path: Path) -> None:
    archive = Archive.open(tmp_path / "a.sqlite")
    with pytest.raises(InvalidInput):
        AuditIndexer(scenario.w3, archive, "0x1234")
    with pytest.raises(InvalidInput):
        indexer(scenario, archive, page_size=0)
    with pytest.raises(InvalidInput):
        indexer(scenario, archive).sync(to_block=-1)
