"""``session.access``: logged reads (the access is recorded on-chain before anything is fetched)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from medledger import codes
from medledger.chain.types import AccessRequest, Record
from medledger.client._base import Namespace, record_cid
from medledger.client._inputs import record_id
from medledger.client.types import AccessResult
from medledger.codes import Category, Outcome, Purpose
from medledger.crypto import KeySet, open_record, read_header
from medledger.errors import (
    AccessDenied,
    BlockNotFound,
    ConsentExpired,
    DecryptionFailed,
    InvalidInput,
    KeyNotAvailable,
)
from medledger.storage import CID


class AccessNamespace(Namespace):
    #: gas of the last ``recordAccess`` this session sent (for reports and the demo)
    last_gas = 0

    def log(
        self,
        record: bytes | str | CID,
        purpose: str | int | Purpose,
        *,
        patient_id: int | None = None,
    ) -> AccessResult:
        """Record an access attempt on-chain (consent checked by the contract); no fetch.

        Only registered providers and the patient's own controller may log (others get
        :class:`~medledger.errors.NotAuthorized`, nothing is logged)."""
        return self._log(record_id(record), purpose, patient_id)[0]

    def _log(
        self, rid: bytes, purpose: str | int | Purpose, patient_id: int | None
    ) -> tuple[AccessResult, Record]:
        purp = codes.purpose(purpose)
        rec = self._record(rid, patient_id)
        tx = self._contract.record_access(rec.patient_id, rid, int(purp))
        self.last_gas = tx.gas_used
        ev = tx.events_named("AccessRecorded")[-1].args
        result = AccessResult(rid, rec.patient_id, Outcome(int(ev["outcome"])), int(ev["seq"]), tx)
        return result, rec

    def read(
        self,
        record: bytes | str | CID,
        purpose: str | int | Purpose,
        *,
        patient_id: int | None = None,
    ) -> bytes:
        """Log the access on-chain first, then fetch, verify and decrypt the record.

        A denial (logged too) raises :class:`AccessDenied` (:class:`ConsentExpired` when the
        grant ran out) and fetches nothing.
        """
        result, rec = self._log(record_id(record), purpose, patient_id)
        raise_if_denied(result)
        return self._open(rec, result.record_id, result.outcome)

    def read_many(
        self,
        records: Sequence[bytes | str | CID],
        purpose: str | int | Purpose,
        *,
        patient_id: int | None = None,
    ) -> list[bytes | AccessDenied]:
        """Log up to 256 accesses in one transaction, then fetch the allowed ones."""
        if not records:
            raise InvalidInput("no record ids given")
        purp = codes.purpose(purpose)
        rids = [record_id(r) for r in records]
        recs = [self._record(r, patient_id) for r in rids]
        tx = self._contract.record_access_batch(
            [
                AccessRequest(rec.patient_id, rid, int(purp))
                for rid, rec in zip(rids, recs, strict=True)
            ]
        )
        events = tx.events_named("AccessRecorded")
        out: list[bytes | AccessDenied] = []
        for rid, rec, ev in zip(rids, recs, events, strict=True):
            outcome = Outcome(int(ev.args["outcome"]))
            result = AccessResult(rid, rec.patient_id, outcome, int(ev.args["seq"]), tx)
            try:
                raise_if_denied(result)
                out.append(self._open(rec, rid, outcome))
            except AccessDenied as exc:
                out.append(exc)
        return out

    def _open(self, rec: Record, rid: bytes, outcome: Outcome) -> bytes:
        blob = self._store.get(record_cid(rid, rec))
        keys: Any
        if outcome is Outcome.ALLOWED_PATIENT:
            keys = self._keys.keyring(self._patient_id())
        elif outcome is Outcome.ALLOWED_EMERGENCY:
            keys = self._keys.emergency_keys(rec.patient_id)
        else:
            keys = self._keys.latest_bundle(rec.patient_id)
        opened = open_record(blob, keys)
        opened.header.expect(patient_id=rec.patient_id, category=rec.category, author=rec.author)
        return opened.plaintext

    def open_offline(self, record: bytes | str | CID, *, patient_id: int | None = None) -> bytes:
        """Try to decrypt a record with every key this party was ever given, without logging.

        This is what a former grantee could attempt with the public ciphertext; it exists to
        demonstrate (and test) that records added after their access ended stay unreadable:
        raises :class:`KeyNotAvailable` when no held key fits.
        """
        rid = record_id(record)
        rec = self._record(rid, patient_id)
        blob = self._sealed(rid, rec.patient_id)
        header = read_header(blob)
        held: list[KeySet] = []
        # bundles come with grants and with the refreshes of an atomic revoke-and-rekey
        filters = {"patientId": rec.patient_id, "grantee": self._address}
        for e in [
            *self._contract.get_events("ConsentGranted", argument_filters=filters),
            *self._contract.get_events("KeyBundleRefreshed", argument_filters=filters),
        ]:
            try:
                held.append(self._keys.bundle(rec.patient_id, bytes(e.args["keyBundle"])))
            except (DecryptionFailed, BlockNotFound):
                continue
        for keyset in held:
            try:
                keyset.private_key(rec.patient_id, header.category, header.epoch)
            except KeyNotAvailable:
                continue
            opened = open_record(blob, keyset)
            opened.header.expect(
                patient_id=rec.patient_id, category=rec.category, author=rec.author
            )
            return opened.plaintext
        raise KeyNotAvailable(
            f"none of the {sum(len(k) for k in held)} keys {self._address} ever received opens "
            f"record 0x{rid.hex()} (category {Category(header.category).name.lower()}, "
            f"epoch {header.epoch})"
        )


def raise_if_denied(result: AccessResult) -> None:
    if result.allowed:
        return
    what = result.outcome.name.lower().replace("_", " ")
    msg = f"access to record 0x{result.record_id.hex()} denied ({what}); the denial was logged"
    if result.outcome is Outcome.DENIED_EXPIRED:
        raise ConsentExpired(
            msg,
            outcome=int(result.outcome),
            tx_hash=result.tx.tx_hash,
            hint="ask the patient for a new grant",
        )
    raise AccessDenied(
        msg,
        outcome=int(result.outcome),
        tx_hash=result.tx.tx_hash,
        hint="ask the patient for consent covering this category and purpose",
    )
