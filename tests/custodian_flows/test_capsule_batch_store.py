"""A custodian's store for batched capsule registration, on SQLite (WAL) and on a real
PostgreSQL 15 server: all or nothing, write-once per record, idempotent, replay-proof."""

from __future__ import annotations

import secrets

import pytest
from eth_account import Account

from helpers.postgres import custodian_store, postgres_server
from medledger.custodian.store import CapsuleConflict, Decision, Replayed, Store, StoreChanged

__all__ = ["custodian_store", "postgres_server"]  # the fixtures, used here


def _entries(n: int) -> list[tuple[bytes, bytes]]:
    return [(secrets.token_bytes(32), secrets.token_bytes(32)) for _ in range(n)]


def _decisions(entries: list[tuple[bytes, bytes]]) -> list[Decision]:
    return [
        Decision(1_000, "capsule", 7, "0x" + rid.hex(), "0xab", "stored", "") for rid, _ in entries
    ]


def test_batched_registration_is_all_or_nothing(store: Store) -> None:
    author = Account.create().address
    first = _entries(3)
    assert store.register_capsules(7, first, author, 1, _decisions(first)) == 3
    assert [store.capsule(7, rid) for rid, _ in first] == [d for _, d in first]
    after = store.counts()
    assert (after["capsules"], after["requests"], after["decisions"]) == (3, 1, 3)

    # the same capsules again (a resumed import): accepted, nothing new
    assert store.register_capsules(7, first, author, 2, _decisions(first)) == 0
    assert store.counts()["capsules"] == 3
    # the same request again: a replay
    with pytest.raises(Replayed):
        store.register_capsules(7, first, author, 2, _decisions(first))

    before = store.counts()
    # another capsule for one record refuses the batch, naming it; the new record is not kept
    new = _entries(1)
    other = [new[0], (first[1][0], secrets.token_bytes(32))]
    with pytest.raises(CapsuleConflict) as exc:
        store.register_capsules(7, other, author, 3, _decisions(other))
    assert exc.value.record_id == "0x" + first[1][0].hex()
    assert store.counts() == before
    assert store.capsule(7, new[0][0]) is None

    # an erased record refuses the batch too, and the erasure is not undone
    assert store.erase(7, first[2][0], author, 4, _decisions(first)[0]) == 1
    before = store.counts()
    with pytest.raises(StoreChanged):
        store.register_capsules(7, [new[0], first[2]], author, 5, _decisions([new[0], first[2]]))
    assert store.counts() == before
    assert store.capsule(7, first[2][0]) is None
    # the nonce of a refused batch was not spent: it can carry the good part
    assert store.register_capsules(7, new, author, 5, _decisions(new)) == 1
