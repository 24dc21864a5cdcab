"""``session.access``: logged reads (the access is recorded on-chain before anything is fetched).

Before a record is decrypted a reader checks (docs/crypto.md, "What a reader checks"):

- the fetch: the size its verified root declares is at most ``max_size`` (``ContentTooLarge``);
- the keys: every key from a bundle or kit is the one the patient published in the keyring
  document the chain references (``KeyMismatch``); a v2 record's key commitment (in crypto);
- the header: patient, category and author as registered on-chain; a v2 record's deployment;
  ``created_at`` inside its epoch's published window and within
  [``registered - MAX_SEAL_DELAY``, ``registered + MAX_CLOCK_SKEW``] of the block time the
  record was registered at (``RecordTimeMismatch``).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

from medledger import codes
from medledger.chain.types import AccessRequest, Record
from medledger.client._base import Namespace, record_cid
from medledger.client._inputs import record_id
from medledger.client.types import AccessResult
from medledger.codes import Category, Outcome, Purpose
from medledger.crypto import (
    Domain,
    KeySet,
    PublicDirectory,
    RecordHeader,
    open_record,
    open_stream,
    read_header,
)
from medledger.crypto.pre import is_custodial
from medledger.errors import (
    AccessDenied,
    BlockNotFound,
    ConsentExpired,
    DecryptionFailed,
    InvalidInput,
    KeyNotAvailable,
    RecordTimeMismatch,
)
from medledger.storage import CID

#: (patient id, outcome whose keys are used: the patient's, emergency, or None for a grant's
#: bundle) -> (keys, the published directory they were checked against); one read_many call
_KeyCache = dict[tuple[int, Outcome | None], tuple[Any, PublicDirectory]]

#: chain lookups read_many runs at once
_LOOKUPS = 4

#: the largest sealed record :meth:`AccessNamespace.read` fetches into memory by default;
#: :meth:`AccessNamespace.read_into` streams larger ones through a 0600 temporary file
DEFAULT_MAX_RECORD = 256 << 20
#: a record may be sealed at most this long before the block that registers it (sealing and
#: uploading a large record takes time); older claims are back-dating
MAX_SEAL_DELAY = 3600
#: and at most this far after it (the writer seals at the latest block's time; block
#: timestamps may lag wall clocks a little)
MAX_CLOCK_SKEW = 300


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
        max_size: int | None = DEFAULT_MAX_RECORD,
    ) -> bytes:
        """Log the access on-chain first, then fetch, verify and decrypt the record.

        A denial (logged too) raises :class:`AccessDenied` (:class:`ConsentExpired` when the
        grant ran out) and fetches nothing. A sealed record above ``max_size`` bytes is refused
        before it is read (:class:`~medledger.errors.ContentTooLarge`); use :meth:`read_into`
        for large records.
        """
        result, rec = self._log(record_id(record), purpose, patient_id)
        raise_if_denied(result)
        return self._open(rec, result.record_id, result.outcome, max_size, result)

    def read_into(
        self,
        record: bytes | str | CID,
        purpose: str | int | Purpose,
        dst: IO[bytes],
        *,
        patient_id: int | None = None,
        max_size: int | None = None,
    ) -> RecordHeader:
        """:meth:`read` for records of any size: the sealed record streams into an anonymous
        0600 temporary file (deleted on close), is verified against its CID and checked, then
        decrypted segment by segment into ``dst`` in constant memory. Returns the header.

        Only authenticated segments reach ``dst``, but on an exception part of the plaintext
        may already be there: discard ``dst`` then (the CLI writes to a 0600 temp file and
        renames it only on success)."""
        result, rec = self._log(record_id(record), purpose, patient_id)
        raise_if_denied(result)
        keys, directory = self._keys_for(rec, result.outcome, head=result.tx.block_number)
        with self._store.get_temp(record_cid(result.record_id, rec), max_size=max_size) as tmp:
            head = tmp.read(1 << 16)  # any header fits (a hybrid one is about 1.3 KB)
            self._check_header(read_header(head), rec, directory)
            tmp.seek(0)
            return open_stream(tmp, dst, keys)

    def read_many(
        self,
        records: Sequence[bytes | str | CID],
        purpose: str | int | Purpose,
        *,
        patient_id: int | None = None,
    ) -> list[bytes | AccessDenied]:
        """Log up to 256 accesses in one transaction, then fetch the allowed ones.

        Each record is checked as :meth:`read` checks it (its header against its chain entry,
        its CID, its ``created_at`` window); what is the same for all of them is looked up once
        per call: each patient's published keyring directory, and the keys this party may use
        for it (checked against that directory once)."""
        if not records:
            raise InvalidInput("no record ids given")
        purp = codes.purpose(purpose)
        rids = [record_id(r) for r in records]
        # independent view calls: a few at once (a node answers them in parallel; each record
        # is still looked up, since its chain entry is what its header is checked against)
        with ThreadPoolExecutor(_LOOKUPS, thread_name_prefix="medledger-records") as pool:
            recs = list(pool.map(lambda r: self._record(r, patient_id), rids))
        tx = self._contract.record_access_batch(
            [
                AccessRequest(rec.patient_id, rid, int(purp))
                for rid, rec in zip(rids, recs, strict=True)
            ]
        )
        events = tx.events_named("AccessRecorded")
        out: list[bytes | AccessDenied] = []
        keys: _KeyCache = {}
        for rid, rec, ev in zip(rids, recs, events, strict=True):
            outcome = Outcome(int(ev.args["outcome"]))
            result = AccessResult(rid, rec.patient_id, outcome, int(ev.args["seq"]), tx)
            try:
                raise_if_denied(result)
                out.append(self._open(rec, rid, outcome, DEFAULT_MAX_RECORD, result, keys))
            except AccessDenied as exc:
                out.append(exc)
        return out

    def _open(
        self,
        rec: Record,
        rid: bytes,
        outcome: Outcome,
        max_size: int | None,
        result: AccessResult | None = None,
        cache: _KeyCache | None = None,
    ) -> bytes:
        blob = self._store.get(record_cid(rid, rec), max_size=max_size)
        if is_custodial(blob):
            # custodian mode (issue 16): no epoch key opens it; k custodians re-encrypt its
            # capsule for a reader, the patient opens it with its own Umbral key
            if self.custodians is None:
                raise KeyNotAvailable("custodial record: this session has no custodian support")
            if result is None:  # open_own: the patient, locally
                return self.custodians.open_own(rec, blob)
            return self.custodians.open_logged(result, rec, blob, fresh=True).plaintext
        head = result.tx.block_number if result is not None else None
        keys, directory = self._keys_for(rec, outcome, cache, head=head)
        self._check_header(read_header(blob), rec, directory)
        return open_record(blob, keys).plaintext  # authenticates the header just checked

    def _keys_for(
        self,
        rec: Record,
        outcome: Outcome,
        cache: _KeyCache | None = None,
        *,
        head: int | None = None,
    ) -> tuple[Any, PublicDirectory]:
        """The keys this read may use, and the patient's published directory they were checked
        against (bundles and kits: every key; the patient's own keyring is its source). A
        grant's bundle is the newest up to block ``head`` (the logged access's block).

        ``cache`` (one :meth:`read_many` call) keeps the pair per patient and kind of key, so
        the directory is fetched and the keys checked against it once per call, not per record.
        """
        kind = outcome if outcome in (Outcome.ALLOWED_PATIENT, Outcome.ALLOWED_EMERGENCY) else None
        if cache is not None:
            known = cache.get((rec.patient_id, kind))
            if known is not None:
                return known
        found = self._load_keys(rec, outcome, head)
        if cache is not None:
            cache[(rec.patient_id, kind)] = found
        return found

    def _load_keys(
        self, rec: Record, outcome: Outcome, head: int | None = None
    ) -> tuple[Any, PublicDirectory]:
        patient = self._contract.get_patient(rec.patient_id)
        directory = PublicDirectory.from_document(self._documents.get(patient.keyring))
        keys: Any
        if outcome is Outcome.ALLOWED_PATIENT:
            keys = self._keys.keyring(self._patient_id())
        elif outcome is Outcome.ALLOWED_EMERGENCY:
            keys = self._keys.emergency_keys(rec.patient_id)
            directory.check_keys(keys)
        else:
            keys = self._keys.latest_bundle(rec.patient_id, head=head)
            directory.check_keys(keys)
        return keys, directory

    def _domain(self) -> Domain:
        return Domain.of(self._chain.chain_id, self._contract.address)

    def _check_header(self, header: RecordHeader, rec: Record, directory: PublicDirectory) -> None:
        """What the chain and the published keyring say about this record, checked against
        its header before anything is decrypted."""
        header.expect(
            patient_id=rec.patient_id,
            category=rec.category,
            author=rec.author,
            domain=self._domain(),
        )
        directory.check_created_at(header.category, header.epoch, header.created_at)
        if not (
            rec.created_at - MAX_SEAL_DELAY <= header.created_at <= rec.created_at + MAX_CLOCK_SKEW
        ):
            raise RecordTimeMismatch(
                f"record claims creation at {header.created_at} but was registered at "
                f"{rec.created_at} (allowed: {MAX_SEAL_DELAY} s before to {MAX_CLOCK_SKEW} s "
                "after): back-dated or stale"
            )

    def open_own(
        self, record: bytes | str | CID, *, max_size: int | None = DEFAULT_MAX_RECORD
    ) -> bytes:
        """The patient (its controller) decrypts one of its own records with its keyring,
        locally and without an on-chain log entry: a patient's own reads are not disclosures.
        The header is checked as in :meth:`read`."""
        pid = self._patient_id()
        rid = record_id(record)
        rec = self._record(rid, pid)
        return self._open(rec, rid, Outcome.ALLOWED_PATIENT, max_size)

    def open_offline(self, record: bytes | str | CID, *, patient_id: int | None = None) -> bytes:
        """Try to decrypt a record with every key this party was ever given, without logging.

        This is what a former grantee could attempt with the public ciphertext; it exists to
        demonstrate (and test) that records added after their access ended stay unreadable:
        raises :class:`KeyNotAvailable` when no held key fits.
        """
        rid = record_id(record)
        rec = self._record(rid, patient_id)
        blob = self._sealed(rid, rec.patient_id)
        if is_custodial(blob):  # custodian mode (issue 16): no key anyone holds opens it
            raise KeyNotAvailable(
                f"record 0x{rid.hex()} is in custodian mode: only k custodians' re-encryption "
                "after a logged, allowed access opens it (or the patient's own key)"
            )
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
                patient_id=rec.patient_id,
                category=rec.category,
                author=rec.author,
                domain=self._domain(),
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
