"""The custodian's decisions, independent of HTTP: parse a signed request, check it (signature,
deadline, replay, then the chain), act on the store, sign a receipt.

The custodian never holds a data key: it keeps each kfrag HPKE-sealed as it arrived, opens it for
the one re-encryption it serves, and returns only the cfrag. Logs carry ids, addresses, codes and
timings, never a kfrag, a capsule, a cfrag or a key (tests/custodian greps for them).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import umbral_pre as umbral
from eth_keys.datatypes import PrivateKey as EthPrivateKey

from medledger.custodian import protocol as p
from medledger.custodian.checks import ChainView, Head, Refusal, Timer, check_access
from medledger.custodian.config import CustodianConfig
from medledger.custodian.kfrags import VerifiedKfrags
from medledger.custodian.memo import BoundedMemo
from medledger.custodian.store import (
    CapsuleConflict,
    Decision,
    KfragRow,
    Replayed,
    Store,
    StoreChanged,
)
from medledger.errors import InvalidInput
from medledger.hashing import keccak

log = logging.getLogger("medledger.custodian")

#: Largest sealed kfrag / capsule accepted (a kfrag is 310 bytes + 48 of HPKE, a capsule 98).
_MAX_KFRAG = 1024
_MAX_CAPSULE = 512
#: Record categories kept in memory (each ~200 bytes with its key).
_KNOWN_CATEGORIES = 100_000


def log_event(event: str, **fields: Any) -> None:
    """One structured JSON log line (callers pass only non-secret fields)."""
    record = {"ts": round(time.time(), 3), "logger": "medledger.custodian", "event": event}
    log.info(json.dumps({**record, **fields}, default=str))


@dataclass(frozen=True)
class Served:
    """A served re-encryption: the cfrag, its receipt and where the time went."""

    cfrag: bytes
    receipt: p.SignedReceipt
    chain_seconds: float
    total_seconds: float
    #: CPU time of the handling thread outside chain calls
    handler_cpu_seconds: float = 0.0


class TokenBuckets:
    """Per-reader token buckets (``rate`` tokens/s, at most ``burst``)."""

    def __init__(self, rate: float, burst: int, *, max_readers: int = 100_000) -> None:
        self.rate, self.burst, self._max = rate, float(burst), max_readers
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, who: str) -> bool:
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(who, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if len(self._buckets) >= self._max and who not in self._buckets:
                # bounded memory: forget full buckets (they would be full again anyway)
                self._buckets = {k: v for k, v in self._buckets.items() if v[0] < self.burst}
            if tokens < 1.0:
                self._buckets[who] = (tokens, now)
                return False
            self._buckets[who] = (tokens - 1.0, now)
            return True


def _field(body: Any, name: str) -> Any:
    if not isinstance(body, dict) or name not in body:
        raise InvalidInput(f"request body needs a {name!r} field")
    return body[name]


class Custodian:
    """One custodian: its keys, its store, its chain node and its policy."""

    def __init__(self, config: CustodianConfig, store: Store, view: ChainView) -> None:
        self.config = config
        self.store = store
        self.view = view
        self.keys = config.keys
        self.address = config.keys.address
        self.chain_id = view.chain_id
        self.medledger = view.address
        self.limiter = TokenBuckets(config.rate, config.burst)
        self._head_lock = threading.Lock()
        # secp256k1 key object built once (deriving its public key costs ~1 ms a request)
        self._signing_key = EthPrivateKey(bytes(config.keys.account.key))
        self.kfrags = VerifiedKfrags(
            config.keys.encryption, self.chain_id, self.medledger, self.address
        )
        self._head_number, self._head_seen = -1, 0.0
        # (patient, record) -> category of the records this custodian registered or served: a
        # record's category never changes on-chain, so a read of a known record asks the
        # reader's hasAccess in the snapshot batch (one round trip to the node, not two)
        self._categories: BoundedMemo[tuple[int, bytes], int] = BoundedMemo(_KNOWN_CATEGORIES)

    # --- common steps --------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "encryptionKey": p.to_hex(self.keys.encryption_key),
            "chainId": self.chain_id,
            "medledger": self.medledger,
            "finality": self.config.finality,
            "maxAge": self.config.max_age,
            "version": p.PROTOCOL_VERSION,
        }

    def fresh_head(self, timer: Timer | None = None, head: Head | None = None) -> Head:
        """The node's latest block (``head`` when just read); 503 ``chain_behind`` when it is
        older than ``max_lag``."""
        head = self.view.head(timer) if head is None else head
        now = time.time()
        with self._head_lock:
            if head.number != self._head_number:
                self._head_number, self._head_seen = head.number, now
            seen = self._head_seen
        # behind = its newest block is old by its own timestamp, or the node has not moved to
        # a new block for that long (catches a stuck node on a chain whose clock runs ahead)
        lag = max(now - head.timestamp, now - seen)
        if self.config.max_lag and lag > self.config.max_lag:
            raise Refusal(
                "chain_behind",
                f"the custodian's chain node is {int(lag)} s behind"
                f" (limit {self.config.max_lag} s)",
                status=503,
            )
        return head

    def _recover(self, msg: Any, signature: Any) -> tuple[str, bytes]:
        """The signer and the request digest. Done before any chain call, so unsigned junk
        costs the custodian no RPC."""
        sig = p.parse_hex(signature, "signature", 65)
        digest = msg.digest(self.chain_id, self.medledger)
        try:
            signer = p.recover_digest(digest, sig)
        except InvalidInput as exc:
            raise Refusal("bad_signature", f"the signature is not valid: {exc}") from None
        return signer, digest

    @staticmethod
    def _check_deadline(msg: Any, head: Head) -> None:
        if msg.deadline < head.timestamp:
            raise Refusal("expired_request", "the request's deadline has passed")
        if msg.deadline > max(head.timestamp, int(time.time())) + p.MAX_DEADLINE_AHEAD:
            raise Refusal(
                "expired_request",
                f"the request's deadline is more than {p.MAX_DEADLINE_AHEAD} s ahead",
            )

    def _signed(self, msg: Any, signature: Any) -> tuple[str, bytes]:
        """Signer, digest, then the node's head (not behind) and the deadline."""
        signer, digest = self._recover(msg, signature)
        self._check_deadline(msg, self.fresh_head())
        return signer, digest

    def _controller_signed(self, msg: Any, signature: Any) -> tuple[str, bytes]:
        signer, digest = self._signed(msg, signature)
        controller = self.view.controller(msg.patient_id)
        if int(controller, 16) == 0:
            raise Refusal("unknown_patient", f"patient {msg.patient_id} is not registered")
        if signer != controller:
            raise Refusal("bad_signature", "the request is not signed by the patient's controller")
        return signer, digest

    def _receipt(
        self, action: int, digest: bytes, patient_id: int, subject: bytes, deleted: int
    ) -> p.SignedReceipt:
        receipt = p.Receipt(
            self.address, action, digest, patient_id, subject, deleted, int(time.time())
        )
        digest = receipt.digest(self.chain_id, self.medledger)
        v, r, s = self._signing_key.sign_msg_hash(digest).vrs
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v + 27])
        return p.SignedReceipt(receipt, signature)

    def _decision(
        self, action: str, patient_id: int, subject: bytes, reader: str, outcome: str, reason: str
    ) -> Decision:
        return Decision(
            int(time.time()), action, patient_id, p.to_hex(subject), reader, outcome, reason
        )

    def _refused(
        self, action: str, patient_id: int, subject: bytes, reader: str, refusal: Refusal
    ) -> Refusal:
        """Log an authenticated refusal in the decision log; return it for raising."""
        if refusal.status < 500:
            self.store.record_refusal(
                self._decision(action, patient_id, subject, reader, "refused", refusal.code)
            )
        return refusal

    # --- endpoints -----------------------------------------------------------------------------

    def delegate(self, body: Any) -> p.SignedReceipt:
        d = p.Delegation.from_json(_field(body, "delegation"))
        sealed = p.parse_hex(_field(body, "kfrag"), "kfrag", max_len=_MAX_KFRAG)
        pks = {
            name: p.parse_hex(_field(body, name), name, 33)
            for name in ("delegatingPk", "receivingPk", "verifyingPk")
        }
        if d.kind not in (p.KIND_GRANT, p.KIND_EMERGENCY):
            raise InvalidInput(f"unknown delegation kind {d.kind}")
        signer, digest = self._controller_signed(d, _field(body, "signature"))
        subject = p.subject_of_address(d.grantee)
        row = KfragRow(
            d.patient_id,
            d.grantee,
            d.kind,
            sealed,
            pks["delegatingPk"],
            pks["receivingPk"],
            pks["verifyingPk"],
            d.nonce,
            int(time.time()),
        )
        try:
            if keccak(sealed) != d.kfrag_digest:
                raise Refusal("bad_kfrag", "keccak(kfrag) differs from the signed kfragDigest")
            if (
                keccak(row.delegating_pk) != d.delegating_key
                or keccak(row.receiving_pk) != d.receiving_key
            ):
                raise Refusal("bad_keys", "the public keys differ from the signed key digests")
            try:
                self.kfrags.open(row)
            except Exception as exc:  # DecryptionFailed, ValueError, umbral's VerificationError
                raise Refusal(
                    "bad_kfrag", f"the key fragment does not open or verify ({type(exc).__name__})"
                ) from None
        except Refusal as refusal:
            raise self._refused("delegation", d.patient_id, subject, signer, refusal) from None
        decision = self._decision("delegation", d.patient_id, subject, signer, "stored", "")
        try:
            replaced = self.store.put_delegation(row, signer, decision)
        except Replayed:
            raise Refusal("replayed", "this delegation was already received") from None
        self.kfrags.forget(d.patient_id, d.grantee)
        log_event(
            "delegation_stored",
            patientId=d.patient_id,
            grantee=d.grantee,
            kind=d.kind,
            replaced=replaced,
        )
        return self._receipt(p.ACTION_DELEGATED, digest, d.patient_id, subject, replaced)

    def revoke(self, body: Any) -> p.SignedReceipt:
        r = p.Revocation.from_json(_field(body, "revocation"))
        signer, digest = self._controller_signed(r, _field(body, "signature"))
        subject = p.subject_of_address(r.grantee)
        decision = self._decision("revocation", r.patient_id, subject, signer, "deleted", "")
        try:
            deleted = self.store.revoke(r.patient_id, r.grantee, signer, r.nonce, decision)
        except Replayed:
            raise Refusal("replayed", "this revocation was already received") from None
        self.kfrags.forget(r.patient_id, r.grantee)
        log_event("revoked", patientId=r.patient_id, grantee=r.grantee, deleted=deleted)
        return self._receipt(p.ACTION_REVOKED, digest, r.patient_id, subject, deleted)

    def erase(self, body: Any) -> p.SignedReceipt:
        e = p.Erasure.from_json(_field(body, "erasure"))
        signer, digest = self._controller_signed(e, _field(body, "signature"))
        decision = self._decision("erasure", e.patient_id, e.record_id, signer, "deleted", "")
        try:
            deleted = self.store.erase(e.patient_id, e.record_id, signer, e.nonce, decision)
        except Replayed:
            raise Refusal("replayed", "this erasure was already received") from None
        log_event("erased", patientId=e.patient_id, recordId=p.to_hex(e.record_id), deleted=deleted)
        return self._receipt(p.ACTION_ERASED, digest, e.patient_id, e.record_id, deleted)

    def register_capsule(self, body: Any) -> tuple[p.SignedReceipt, bool]:
        """Returns the receipt and whether the registration is new."""
        c = p.CapsuleRegistration.from_json(_field(body, "registration"))
        signer, digest = self._signed(c, _field(body, "signature"))
        record = self.view.record(c.patient_id, c.record_id)
        if int(record.author, 16) == 0:
            raise Refusal("unknown_record", "no such record on this custodian's chain")
        self._categories.put((c.patient_id, c.record_id), record.category)
        if signer not in (record.author, self.view.controller(c.patient_id)):
            raise Refusal(
                "not_author", "only the record's author or the patient's controller registers it"
            )
        try:
            if record.erased or self.store.is_erased(c.patient_id, c.record_id):
                raise Refusal("erased", "the record was erased")
        except Refusal as refusal:
            raise self._refused("capsule", c.patient_id, c.record_id, signer, refusal) from None
        decision = self._decision("capsule", c.patient_id, c.record_id, signer, "stored", "")
        try:
            new = self.store.register_capsule(
                c.patient_id, c.record_id, c.capsule_digest, signer, c.nonce, decision
            )
        except Replayed:
            raise Refusal("replayed", "this registration was already received") from None
        except CapsuleConflict:
            conflict = Refusal(
                "capsule_conflict", "another capsule is registered for this record", status=409
            )
            raise self._refused("capsule", c.patient_id, c.record_id, signer, conflict) from None
        log_event("capsule_registered", patientId=c.patient_id, recordId=p.to_hex(c.record_id))
        receipt = self._receipt(p.ACTION_CAPSULE_REGISTERED, digest, c.patient_id, c.record_id, 0)
        return receipt, new

    def register_capsules(self, body: Any) -> tuple[p.SignedReceipt, int]:
        """A batched registration (``CapsuleRegistrationBatch``): the receipt and how many
        capsules were newly stored. Every record gets the single registration's checks; one
        failing refuses the batch and stores nothing."""
        b = p.CapsuleRegistrationBatch.from_json(_field(body, "registration"))
        entries = p.capsule_entries_from_json(_field(body, "entries"))
        if len(entries) != b.count:
            raise InvalidInput(f"the batch signs {b.count} entries, the body holds {len(entries)}")
        signer, digest = self._recover(b, _field(body, "signature"))
        if p.capsule_entries_digest(entries) != b.entries_digest:
            raise Refusal("bad_entries", "keccak(entries) differs from the signed entriesDigest")
        self._check_deadline(b, self.fresh_head())
        try:
            controller = self.view.controller(b.patient_id)
            records = self.view.records(b.patient_id, [rid for rid, _ in entries])
            for (rid, _), record in zip(entries, records, strict=True):
                if int(record.author, 16) == 0:
                    raise Refusal(
                        "unknown_record", f"record {p.to_hex(rid)} is not on this custodian's chain"
                    )
                if signer not in (record.author, controller):
                    raise Refusal(
                        "not_author",
                        f"only the author of record {p.to_hex(rid)} or the patient's controller "
                        "registers it",
                    )
                if record.erased:
                    raise Refusal("erased", f"record {p.to_hex(rid)} was erased")
                self._categories.put((b.patient_id, rid), record.category)
        except Refusal as refusal:
            raise self._refused(
                "capsule", b.patient_id, b.entries_digest, signer, refusal
            ) from None
        decisions = [
            self._decision("capsule", b.patient_id, rid, signer, "stored", "") for rid, _ in entries
        ]
        try:
            new = self.store.register_capsules(b.patient_id, entries, signer, b.nonce, decisions)
        except Replayed:
            raise Refusal("replayed", "this registration was already received") from None
        except (CapsuleConflict, StoreChanged) as exc:
            status = 409 if isinstance(exc, CapsuleConflict) else 403
            refused = Refusal(exc.code or "capsule_conflict", str(exc), status=status)
            raise self._refused(
                "capsule", b.patient_id, b.entries_digest, signer, refused
            ) from None
        log_event("capsules_registered", patientId=b.patient_id, count=b.count, new=new)
        receipt = self._receipt(
            p.ACTION_CAPSULES_REGISTERED, digest, b.patient_id, b.entries_digest, 0
        )
        return receipt, new

    def reencrypt(self, body: Any) -> Served:
        timer = Timer()
        req = p.Reencryption.from_json(_field(body, "request"))
        capsule_bytes = p.parse_hex(_field(body, "capsule"), "capsule", max_len=_MAX_CAPSULE)
        # 1. signature, rate, deadline, replay (the first two before any chain call)
        signer, digest = self._recover(req, _field(body, "signature"))
        if signer != req.reader:
            raise Refusal("bad_signature", "the request is not signed by its reader")
        if not self.limiter.take(signer):
            raise Refusal("rate_limited", "too many requests from this reader", status=429)
        key = (req.patient_id, req.record_id)
        known = self._categories.get(key)
        head, access_receipt, record, live = self.view.snapshot(
            req.access_tx, req.patient_id, req.record_id, timer,
            grant=None if known is None else (signer, known),
        )  # fmt: skip
        if int(record.author, 16) != 0:
            self._categories.put(key, record.category)
        head = self.fresh_head(timer, head)
        self._check_deadline(req, head)
        try:
            seen, delegations, erased, registered = self.store.lookup(
                signer, req.nonce, req.patient_id, req.record_id
            )
            if seen:
                raise Refusal("replayed", "this request was already served")
            # 2-7. the chain, asked by this custodian alone
            evidence = check_access(
                self.view,
                req,
                head,
                delegations,
                finality=self.config.finality,
                max_age=self.config.max_age,
                erased_locally=erased,
                timer=timer,
                receipt=access_receipt,
                record=record,
                grant_live=live if known == record.category else None,
            )
            # 8. the capsule is the one registered for this record
            try:
                capsule = umbral.Capsule.from_bytes(capsule_bytes)
            except ValueError:
                raise Refusal("bad_capsule", "the capsule does not parse") from None
            if keccak(capsule_bytes) != req.capsule_digest:
                raise Refusal("bad_capsule", "keccak(capsule) differs from the signed digest")
            if registered is None:
                raise Refusal("unknown_capsule", "no capsule is registered for this record")
            if registered != req.capsule_digest:
                raise Refusal("bad_capsule", "this is not the capsule registered for the record")
        except Refusal as refusal:
            raise self._refused(
                "reencryption", req.patient_id, req.record_id, signer, refusal
            ) from None
        cfrag = bytes(umbral.reencrypt(capsule=capsule, kfrag=self.kfrags.get(evidence.delegation)))
        decision = self._decision(
            "reencryption", req.patient_id, req.record_id, signer, "served", ""
        )
        receipt = self._receipt(p.ACTION_SERVED, digest, req.patient_id, req.record_id, 0)
        try:
            self.store.serve(signer, req.nonce, decision, row=evidence.delegation)
        except Replayed:
            # a concurrent twin won the race: this one is refused, its cfrag never leaves
            raise Refusal("replayed", "this request was already served") from None
        except StoreChanged as exc:
            changed = Refusal(exc.code, str(exc))
            raise self._refused(
                "reencryption", req.patient_id, req.record_id, signer, changed
            ) from None
        total = timer.elapsed()
        handler_cpu = timer.cpu() - timer.chain_cpu
        log_event(
            "served",
            patientId=req.patient_id,
            recordId=p.to_hex(req.record_id),
            reader=signer,
            outcome=evidence.outcome,
            kind=evidence.delegation.kind,
            chainMs=round(timer.chain * 1000, 3),
            handlerMs=round((total - timer.chain) * 1000, 3),
        )
        return Served(cfrag, receipt, timer.chain, total, handler_cpu)
