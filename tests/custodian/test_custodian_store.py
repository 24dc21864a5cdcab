"""The custodian store, the same tests on SQLite (WAL) and on a real PostgreSQL 15 server."""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
from pathlib import Path

import pytest
from eth_account import Account

from helpers.postgres import custodian_store
from medledger.custodian.store import (
    CapsuleConflict,
    Decision,
    KfragRow,
    Replayed,
    Store,
    StoreChanged,
)

__all__ = ["custodian_store"]  # the fixture (as "store"), used here


def _decision(outcome: str = "stored", action: str = "delegation") -> Decision:
    return Decision(1_000, action, 7, "0x" + "ab" * 32, Account.create().address, outcome, "")


def _row(grantee: str, kind: int = 0, nonce: int | None = None) -> KfragRow:
    return KfragRow(
        7, grantee, kind, secrets.token_bytes(358), b"\x02" * 33, b"\x03" * 33, b"\x02" * 33,
        nonce if nonce is not None else secrets.randbits(256), 1_000,
    )  # fmt: skip


def test_delegation_replace_revoke_and_replay(store: Store) -> None:
    controller, grantee = Account.create().address, Account.create().address
    first = _row(grantee)
    assert store.put_delegation(first, controller, _decision()) == 0
    newer = _row(grantee)
    # a newer delegation for the same (patient, grantee, kind) replaces the old one
    assert store.put_delegation(newer, controller, _decision()) == 1
    emergency = _row(grantee, kind=1)
    assert store.put_delegation(emergency, controller, _decision()) == 0
    rows = store.delegations(7, grantee)
    assert [(r.kind, r.sealed_kfrag) for r in rows] == [
        (0, newer.sealed_kfrag),
        (1, emergency.sealed_kfrag),
    ]
    assert rows[0].nonce == newer.nonce
    assert rows[0].verifying_pk == b"\x02" * 33
    # the same (signer, nonce) again is a replay, and the failed step changes nothing
    before = store.counts()
    with pytest.raises(Replayed):
        store.put_delegation(_row(grantee, nonce=newer.nonce), controller, _decision())
    assert store.counts() == before
    assert store.revoke(7, grantee, controller, secrets.randbits(256), _decision("deleted")) == 2
    assert store.delegations(7, grantee) == []
    assert store.revoke(7, grantee, controller, secrets.randbits(256), _decision("deleted")) == 0


def test_serve_is_exactly_once_under_concurrency(store: Store) -> None:
    reader, nonce = Account.create().address, secrets.randbits(256)
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def attempt() -> None:
        barrier.wait()
        try:
            store.serve(reader, nonce, _decision("served", "reencryption"))
            outcomes.append("served")
        except Replayed:
            outcomes.append("replayed")

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["replayed"] * 7 + ["served"]
    assert store.seen(reader, nonce)
    # the same nonce from another signer is another request
    store.serve(Account.create().address, nonce, _decision("served", "reencryption"))
    assert store.counts()["requests"] == 2
    assert [d.outcome for d in store.decisions()] == ["served", "served"]


def test_capsules_are_write_once_and_erasure_is_forever(store: Store) -> None:
    author = Account.create().address
    rid, digest = secrets.token_bytes(32), secrets.token_bytes(32)
    assert store.register_capsule(7, rid, digest, author, 1, _decision(action="capsule"))
    # the same digest again: accepted, nothing new
    assert not store.register_capsule(7, rid, digest, author, 2, _decision(action="capsule"))
    before = store.counts()
    with pytest.raises(CapsuleConflict):
        store.register_capsule(7, rid, secrets.token_bytes(32), author, 3, _decision())
    assert store.counts() == before
    assert store.capsule(7, rid) == digest
    assert store.capsule(8, rid) is None
    assert store.erase(7, rid, author, 4, _decision("deleted", "erasure")) == 1
    assert store.is_erased(7, rid)
    assert not store.is_erased(8, rid)
    assert store.capsule(7, rid) is None
    # erasing again (a new request) deletes nothing more and keeps the tombstone
    assert store.erase(7, rid, author, 5, _decision("deleted", "erasure")) == 0
    assert store.is_erased(7, rid)


def test_decisions_are_append_only_and_filtered(store: Store) -> None:
    store.record_refusal(Decision(10, "reencryption", 7, "0x01", "0xab", "refused", "replayed"))
    store.record_refusal(Decision(20, "reencryption", 8, "0x02", "0xab", "refused", "erased"))
    assert [d.reason for d in store.decisions()] == ["replayed", "erased"]
    assert [d.reason for d in store.decisions(patient_id=8)] == ["erased"]
    assert [d.at for d in store.decisions(since=15)] == [20]
    # the database itself refuses to rewrite history, whatever the client
    for statement in ("UPDATE decisions SET outcome = 'served'", "DELETE FROM decisions"):
        with pytest.raises(Exception, match="append-only"), store._tx() as execute:
            execute(statement)
    assert [d.outcome for d in store.decisions()] == ["refused", "refused"]


def test_sqlite_file_is_private_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "c.db"
    Store.open(f"sqlite:{path}").close()
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_unknown_database_url_is_invalid_input() -> None:
    from medledger.errors import InvalidInput

    with pytest.raises(InvalidInput, match="unsupported"):
        Store.open("mysql://x")


def test_serve_rechecks_erasure_and_revocation_in_its_transaction(store: Store) -> None:
    """A request checked just before an erasure or a revocation commits is not served."""
    controller, reader = Account.create().address, Account.create().address
    row = _row(reader)
    store.put_delegation(row, controller, _decision())
    rid = secrets.token_bytes(32)
    served = Decision(1, "reencryption", 7, "0x" + rid.hex(), reader, "served", "")
    store.serve(reader, 1, served, row=row)
    store.erase(7, rid, controller, 2, _decision("deleted", "erasure"))
    before = store.counts()
    with pytest.raises(StoreChanged) as erased:
        store.serve(reader, 3, served, row=row)
    assert erased.value.code == "erased"
    other = Decision(
        1, "reencryption", 7, "0x" + secrets.token_bytes(32).hex(), reader, "served", ""
    )
    store.revoke(7, reader, controller, 4, _decision("deleted", "revocation"))
    with pytest.raises(StoreChanged) as revoked:
        store.serve(reader, 5, other, row=row)
    assert revoked.value.code == "no_delegation"
    # neither attempt left a served row or a used nonce behind
    assert store.counts()["requests"] == before["requests"] + 1  # only the revocation's
    assert not store.seen(reader, 3)
    assert not store.seen(reader, 5)
