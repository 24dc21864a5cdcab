"""Storing and registering a batch of sealed records: the one path ``records.add_batch`` and
its custodian-mode variant (:mod:`medledger.client.custodial_batch`) share.

The CIDs go to ``before_store`` first (an importer journals them, so that after a kill it can
tell a registered record from an orphaned pin); the blobs are stored with one ``put_many``;
one ``addRecordBatch`` registers them. Inside the same ``pinned`` block, so that a failure
unpins exactly what the chain does not reference: ``after_added`` (the custodial capsules'
registration), then the refusal of any write the contract refused and logged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from medledger.chain.suite import write_denial
from medledger.chain.types import TxResult
from medledger.client._base import Namespace
from medledger.client.documents import pinned
from medledger.codes import Category
from medledger.errors import AccessDenied
from medledger.storage import CID
from medledger.storage.cid import DAG_PB

#: a sealed record ready to store: its bytes, category and CID
Sealed = tuple[bytes, Category, CID]


def store_and_register(
    ns: Namespace,
    patient_id: int,
    keyring: bytes,
    sealed: Sequence[Sealed],
    before_store: Callable[[Sequence[CID]], None] | None,
    after_added: Callable[[set[bytes]], None] | None = None,
) -> TxResult:
    """Store ``sealed`` and register it in one ``addRecordBatch`` (sealed to ``keyring``).

    ``after_added`` receives the record ids the transaction registered. If the contract refused
    (and logged) some writes, :class:`AccessDenied` says how many; the refused ones are unpinned,
    the registered ones stay."""
    cids = [cid for _, _, cid in sealed]
    if before_store is not None:
        before_store(cids)

    def on_chain(candidates: Sequence[CID]) -> set[CID]:
        return {
            c
            for c in candidates
            if ns._contract.get_record(patient_id, c.digest).patient_id == patient_id
        }

    with pinned(ns._store, on_chain=on_chain) as pins:
        # one batched put: the blocks, then one pin-set update for the whole batch (the CIDs
        # were journaled by before_store, so a kill leaves nothing untracked)
        for stored in ns._store.put_many([blob for blob, _, _ in sealed]):
            pins.add(stored)
        rows = [(c.digest, int(cat), 0x70 if c.codec == DAG_PB else 0x55) for _, cat, c in sealed]
        tx = ns._contract.add_record_batch(patient_id, keyring, rows)
        added = {bytes(e.args["recordId"]) for e in tx.events_named("RecordAdded")}
        pins.referenced(*(c for c in cids if c.digest in added))
        if after_added is not None:
            after_added(added)
        if len(added) < len(cids):
            raise AccessDenied(
                f"{len(cids) - len(added)} of {len(cids)} writes to patient {patient_id} were "
                f"refused and logged; the other {len(added)} were stored",
                outcome=write_denial(tx),
                tx_hash=tx.tx_hash,
                hint="the patient must grant actions=['write'] for these categories",
            )
    return tx
