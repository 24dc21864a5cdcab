"""``session.records``: add a record (sealed, stored, registered), the timeline, erasure."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import IO

from eth_utils.address import to_checksum_address

from medledger import codes
from medledger.audit.erasure import CANNOT_UNDO, ErasureReport, KeyHolder
from medledger.chain.suite import write_denial
from medledger.chain.types import ZERO32, Record
from medledger.client._base import Namespace, block_time, record_cid, retry_stale
from medledger.client._inputs import record_id
from medledger.client.documents import pinned
from medledger.client.record_batch import store_and_register
from medledger.client.types import RecordInfo
from medledger.codes import Category
from medledger.crypto import (
    Domain,
    PublicDirectory,
    emergency_kit_responders,
    seal_record,
    seal_stream,
)
from medledger.errors import (
    AccessDenied,
    InvalidInput,
    MedledgerError,
    NotAuthorized,
    NotRegistered,
    StorageError,
)
from medledger.storage import CID, cid_of_bytes
from medledger.storage.cid import DAG_PB


class RecordsNamespace(Namespace):
    def add(
        self,
        patient_id: int,
        data: bytes | bytearray | memoryview | IO[bytes],
        category: str | int | Category,
        *,
        progress: Callable[[int], None] | None = None,
    ) -> RecordInfo:
        """Encrypt ``data`` for the patient, store and pin it, and register it on-chain.

        The author is this party: the patient's controller, or a provider holding write consent
        for ``category``. The record is sealed to the keyring on-chain at sealing time and the
        transaction names it; if the keyring moved meanwhile (``StaleKeyring``) the record is
        sealed again to the new one, once. A write the contract refuses and logs (a provider
        without write consent) raises :class:`AccessDenied`. On any failure the stored record
        is unpinned.
        """
        if self.custodians is not None and self.custodians.covers_any(patient_id, [category]):
            # custodian mode (issue 16): a capsule for the patient's Umbral key, no epoch key
            # (the policy read fresh: sealed under a stale "no policy", grantees get a key)
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise InvalidInput("custodial records are sealed in memory: pass bytes")
            return self.custodians.add(patient_id, data, category)[0]
        # a stream cannot be read twice: sealed again only from bytes
        again = 2 if isinstance(data, (bytes, bytearray, memoryview)) else 1
        return retry_stale(lambda: self._add(patient_id, data, category, progress), again)

    def _add(
        self,
        patient_id: int,
        data: bytes | bytearray | memoryview | IO[bytes],
        category: str | int | Category,
        progress: Callable[[int], None] | None,
    ) -> RecordInfo:
        cat = codes.category(category)
        patient = self._require_patient(patient_id)
        if (
            patient.controller != self._address
            and self._contract.get_provider(self._address).status == 0
        ):
            raise NotAuthorized(
                f"{self._address} is neither patient {patient_id}'s controller nor a provider"
            )
        # A registered provider without write consent is not refused here: the contract logs
        # the denied write in the patient's hash chain (the patient sees the attempt) and
        # stores nothing; the receipt's outcome raises AccessDenied below.
        if patient.keyring == ZERO32:
            raise NotRegistered(f"patient {patient_id} has not published a keyring")
        directory = PublicDirectory.from_document(self._documents.get(patient.keyring))
        created_at = self._chain.now()
        # never seal to epochs a cut-off party still holds (a withheld or interrupted rotation)
        self.rotation.require_complete(patient_id, created_at)
        if isinstance(data, (bytes, bytearray, memoryview)):
            sealed = seal_record(
                data,
                directory,
                category=int(cat),
                author=self._address,
                created_at=created_at,
                domain=self._domain(),
            )
            size = len(data)
            cid = self._store.put(sealed)
        else:
            cid, size = self._seal_stream(data, directory, cat, created_at, progress)
        codec = 0x70 if cid.codec == DAG_PB else 0x55

        def on_chain(cids: Sequence[CID]) -> set[CID]:
            # the add may have landed although this side saw an error: keep what it references
            landed = self._contract.get_record(patient_id, cid.digest).patient_id == patient_id
            return set(cids) if landed else set()

        with pinned(self._store, cid, on_chain=on_chain):
            tx = self._contract.add_record(patient_id, cid.digest, int(cat), codec, patient.keyring)
            denied = write_denial(tx)
            if denied is not None:
                raise AccessDenied(
                    f"{self._address} may not write {cat.name.lower()} records of patient "
                    f"{patient_id} ({codes.Outcome(denied).name.lower()}); the denied write "
                    "was logged and nothing was stored",
                    outcome=denied,
                    tx_hash=tx.tx_hash,
                    hint="the patient must grant actions=['write'] for this category",
                )
        return RecordInfo(
            cid.digest, cid, patient_id, cat, self._address, created_at, False, size, tx
        )

    # --- batched registration (issue 17: FHIR import) -------------------------------------------

    def add_batch(
        self,
        patient_id: int,
        items: Sequence[tuple[bytes, str | int | Category]],
        *,
        before_store: Callable[[Sequence[CID]], None] | None = None,
    ) -> list[RecordInfo]:
        """:meth:`add` for up to 256 ``(data, category)`` records of one patient, registered by
        one ``addRecordBatch`` transaction (about half the gas of one ``addRecord`` each).

        ``before_store`` receives the records' CIDs after sealing and before anything is stored
        (an importer journals them there, so that after a kill it can tell a registered record
        from an orphaned pin). A batch the contract refuses as a whole (stale keyring) is sealed
        again once. If any write is refused and logged (no write consent for a category) the
        records it did store stay, the refused ones are unpinned and :class:`AccessDenied` says
        how many; on any other failure the CIDs the chain does not reference are unpinned.
        """
        if not 0 < len(items) <= 256:
            raise InvalidInput("a record batch holds 1 to 256 records")
        if self.custodians is not None and self.custodians.covers_any(
            patient_id, (c for _, c in items)
        ):
            # custodian mode (issue 16): covered records get capsules, never epoch keys
            return self.custodians.add_batch(patient_id, items, before_store=before_store)
        return retry_stale(lambda: self._add_batch(patient_id, items, before_store), 2)

    def _add_batch(
        self,
        patient_id: int,
        items: Sequence[tuple[bytes, str | int | Category]],
        before_store: Callable[[Sequence[CID]], None] | None,
    ) -> list[RecordInfo]:
        patient = self._require_patient(patient_id)
        if patient.keyring == ZERO32:
            raise NotRegistered(f"patient {patient_id} has not published a keyring")
        directory = PublicDirectory.from_document(self._documents.get(patient.keyring))
        created_at = self._chain.now()
        self.rotation.require_complete(patient_id, created_at)
        sealed: list[tuple[bytes, Category, CID]] = []
        for data, category in items:
            cat = codes.category(category)
            blob = seal_record(
                data, directory, category=int(cat), author=self._address,
                created_at=created_at, domain=self._domain(),
            )  # fmt: skip
            sealed.append((blob, cat, cid_of_bytes(blob)))
        tx = store_and_register(self, patient_id, patient.keyring, sealed, before_store)
        return [
            RecordInfo(c.digest, c, patient_id, cat, self._address, created_at, False, len(d), tx)
            for (_, cat, c), (d, _) in zip(sealed, items, strict=True)
        ]

    def _seal_stream(
        self,
        src: IO[bytes],
        directory: PublicDirectory,
        cat: Category,
        created_at: int,
        progress: Callable[[int], None] | None,
    ) -> tuple[CID, int]:
        counted = _CountingReader(src, progress)
        with tempfile.TemporaryFile(prefix="medledger-seal-") as tmp:
            seal_stream(
                counted, tmp, directory, category=int(cat), author=self._address,
                created_at=created_at, domain=self._domain(),
            )  # fmt: skip
            tmp.seek(0)
            cid = self._store.put_stream(tmp)
        return cid, counted.total

    def _domain(self) -> Domain:
        """The deployment a new record is bound to (format v2: chain id and contract)."""
        return Domain.of(self._chain.chain_id, self._contract.address)

    def timeline(self, patient_id: int | None = None) -> list[RecordInfo]:
        """The patient's longitudinal timeline (oldest first), from the record events."""
        pid = self._patient_id() if patient_id is None else patient_id
        self._require_patient(pid)
        added = self._contract.get_events("RecordAdded", argument_filters={"patientId": pid})
        erased = {
            bytes(e.args["recordId"])
            for e in self._contract.get_events("RecordErased", argument_filters={"patientId": pid})
        }
        out = []
        for e in added:
            rid = bytes(e.args["recordId"])
            rec = self._contract.get_record(pid, rid)
            out.append(
                RecordInfo(
                    rid,
                    record_cid(rid, rec),
                    pid,
                    Category(rec.category),
                    rec.author,
                    rec.created_at,
                    rid in erased or rec.erased,
                )
            )
        return out

    def get(self, record: bytes | str | CID, *, patient_id: int | None = None) -> Record:
        """The on-chain index entry of a record (``InvalidInput`` if unknown). Records are
        keyed by (patient, record id); ``patient_id`` defaults to the one patient that
        registered the id (this party's own patient if several did)."""
        return self._record(record, patient_id)

    def fetch_sealed(self, record: bytes | str | CID, *, patient_id: int | None = None) -> bytes:
        """The sealed (encrypted) record from the store, CID-verified, without logging.

        Ciphertext is public by design; this is what anyone can fetch.
        """
        return self._sealed(record, patient_id)

    def erase(self, record: bytes | str | CID) -> ErasureReport:
        """Tombstone one of this patient's records, unpin its blocks, and report what can and
        cannot be undone and who may hold its keys.

        No garbage collection runs here: on a shared IPFS node it would delete every user's
        unpinned blocks; the store's own collection removes the record's blocks later
        (``store.gc()`` on a store the SDK owns). Nobody is notified.
        """
        rid = record_id(record)
        pid = self._contract.patient_of(self._address)
        if pid == 0:
            raise NotAuthorized(f"{self._address} controls no patient")
        rec = self._contract.get_record(pid, rid)
        if rec.patient_id != pid:
            raise NotAuthorized(f"record 0x{rid.hex()} is not a record of patient {pid}")
        if rec.erased:
            raise InvalidInput(f"record 0x{rid.hex()} is already erased")
        tx = self._contract.erase_record(rid)
        if self.custodians is not None:  # custodian mode (issue 16): custodians refuse it too
            self.custodians.after_erase(pid, rid)
        cid = record_cid(rid, rec)
        unpinned: list[str] = []
        failures: list[str] = []
        try:
            if self._store.unpin(cid):
                unpinned.append(str(cid))
        except StorageError as exc:
            failures.append(f"{cid}: {exc}")
        holders = [
            *self._past_grantees(pid, Category(rec.category)),
            *self._kit_responders(pid, Category(rec.category)),
        ]
        return ErasureReport(
            patient_id=pid,
            record_id="0x" + rid.hex(),
            category=Category(rec.category),
            tombstone_tx=tx.tx_hash,
            erased_at=datetime.fromtimestamp(block_time(self._chain, tx.block_number), UTC),
            keys_destroyed=(),
            blocks_unpinned=tuple(unpinned),
            unpin_failures=tuple(failures),
            key_holders=tuple(holders),
            cannot_undo=_ERASURE_LIMITS,
        )

    def _kit_responders(self, pid: int, category: Category) -> list[KeyHolder]:
        """Responders of every emergency kit that held ``category``'s keys."""
        latest: dict[str, int] = {}
        events = self._contract.get_events(
            "EmergencyAccessConfigured", argument_filters={"patientId": pid}
        )
        for e in events:
            kit = bytes(e.args["emergencyKit"])
            if kit == ZERO32 or not int(e.args["categories"]) & (1 << category.value):
                continue
            try:
                _, responders = emergency_kit_responders(self._documents.get(kit))
            except MedledgerError:
                continue  # a kit that cannot be read any more is not listed
            for r in responders:
                latest[r] = e.block_number
        return [
            KeyHolder(a, self._directory.name(a), block_time(self._chain, b), role="responder")
            for a, b in sorted(latest.items())
        ]

    def _past_grantees(self, pid: int, category: Category) -> list[KeyHolder]:
        latest: dict[str, int] = {}
        for e in self._contract.get_events("ConsentGranted", argument_filters={"patientId": pid}):
            if int(e.args["categories"]) & (1 << category.value):
                latest[to_checksum_address(e.args["grantee"])] = e.block_number
        return [
            KeyHolder(addr, self._directory.name(addr), block_time(self._chain, block))
            for addr, block in sorted(latest.items())
        ]


class _CountingReader:
    """Wraps a binary stream, counting bytes and reporting progress."""

    def __init__(self, src: IO[bytes], progress: Callable[[int], None] | None) -> None:
        self._src = src
        self._progress = progress
        self.total = 0

    def readinto(self, buffer: memoryview, /) -> int | None:
        readinto = getattr(self._src, "readinto", None)
        if readinto is not None:
            n: int | None = readinto(buffer)
        else:
            chunk = self._src.read(len(buffer))
            n = len(chunk)
            buffer[:n] = chunk
        if n:
            self.total += n
            if self._progress is not None:
                self._progress(n)
        return n


#: What erasure cannot undo, stated for medledger's key design (see docs/crypto.md).
_ERASURE_LIMITS: tuple[str, ...] = (
    CANNOT_UNDO[0],
    CANNOT_UNDO[1],
    "No key is destroyed: the record's data key is wrapped, inside the sealed record, to its "
    "category's key epoch, which also protects the patient's other records of that category and "
    "epoch. Whoever kept the ciphertext and holds that epoch key (the patient, grantees of the "
    "category in that epoch, responders holding the emergency kit) can still decrypt it.",
    "Unpinning lets the store this SDK uses delete the ciphertext at its next garbage "
    "collection (none is run here: on a shared IPFS node it would collect every user's unpinned "
    "blocks); other IPFS nodes that fetched it may keep the encrypted blocks.",
    CANNOT_UNDO[3],
)
