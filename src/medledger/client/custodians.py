"""``session.custodians``: custodian mode (issue 16; docs/crypto.md section 12).

In custodian mode a record's data key is an Umbral capsule for the patient's key (see
:mod:`medledger.crypto.pre`); grantees and responders hold no key for it. The patient delegates
to each grantee through the ``n`` custodians of its on-chain policy (one signed, HPKE-sealed key
fragment each, threshold ``k``); a reader logs the access on-chain first, then asks the custodians
to re-encrypt that one record's capsule, each checking the logged access against its own node.
Every fan-out here (delegation, revocation, erasure, capsule registration) goes to every
custodian in parallel and verifies the signed receipt each returns; a read asks all ``n`` and
opens the record with ``k`` verified capsule fragments, naming any custodian that returned a
forged one. The shared machinery is :mod:`medledger.client.custodian_fanout`, the custodians'
side of a read :mod:`medledger.client.custodial_read`, batched writes
:mod:`medledger.client.custodial_batch`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from eth_utils.address import to_checksum_address

from medledger import codes
from medledger.chain.custodians import (
    CustodianPolicy,
    CustodianRegistryContract,
)
from medledger.chain.suite import write_denial
from medledger.chain.types import ZERO32, Record
from medledger.client import custodial_batch, custodial_read
from medledger.client._base import Context, record_cid
from medledger.client._inputs import record_id
from medledger.client.access import AccessNamespace, raise_if_denied
from medledger.client.custodial_types import CustodialErasure, CustodialRead, CustodianReceipts
from medledger.client.custodian_fanout import (
    CustodianFanout,
)
from medledger.client.documents import pinned
from medledger.client.identity_rotation import adopt_legacy_umbral_seed
from medledger.client.types import AccessResult, RecordInfo
from medledger.codes import Category, Outcome, Purpose
from medledger.crypto.pre import (
    PatientUmbralKeys,
    open_custodial_original,
    read_custodial_header,
    receiving_key,
    seal_custodial,
)
from medledger.custodian import protocol as p
from medledger.custodian.client import CustodianClient
from medledger.errors import (
    AccessDenied,
    CustodiansUnavailable,
    InvalidInput,
    KeyMismatch,
    NotAuthorized,
    NotRegistered,
)
from medledger.hashing import keccak
from medledger.storage import CID


class CustodiansNamespace(CustodianFanout):
    """Custodian mode for the session's party (patient, writer or reader)."""

    def __init__(
        self,
        ctx: Context,
        registry: CustodianRegistryContract | None,
        access: AccessNamespace,
    ) -> None:
        super().__init__(ctx, registry)
        self._access = access
        self.last_receipts = {}

    def _umbral_keys(self, pid: int) -> PatientUmbralKeys:
        # from the keyring's seed, which rotation and recovery carry over; a keyring of before
        # seeds has none, and its keys are the ones derived from the identity key
        seed = self._keys.keyring(pid).umbral_seed
        if seed is None:
            return PatientUmbralKeys.derive(self._party.identity, self._domain(), pid)
        return PatientUmbralKeys.from_seed(seed)

    def _patient_keys(self, pid: int) -> PatientUmbralKeys:
        keys = self._umbral_keys(pid)
        policy = self._hook_policy(pid)
        if policy is not None and policy.umbral_keys != keys.public_keys():
            raise KeyMismatch(
                "this patient's Umbral keys are not the ones its custodian policy names (an "
                "identity rotated before Umbral seeds were kept in the keyring)",
                hint="custodians.configure(...) again publishes the current keys; records "
                "encapsulated to the old ones stay closed (docs/crypto.md section 12)",
            )
        return keys

    # --- the patient's policy -------------------------------------------------------------------

    def configure(
        self,
        custodians: Sequence[str],
        threshold: int,
        categories: Sequence[str | int | Category] | int,
    ) -> CustodianPolicy:
        """Put ``categories`` of this patient in custodian mode with ``threshold`` of
        ``custodians`` (registered custodian addresses) needed for every read."""
        pid = self._patient_id()
        mask = (
            categories
            if isinstance(categories, int)
            else codes.mask(int(codes.category(c)) for c in categories)
        )
        adopt_legacy_umbral_seed(self._ctx, pid)  # an older keyring: keep its keys from now on
        keys = self._umbral_keys(pid)
        self.registry.set_policy(pid, custodians, threshold, mask, keys.public_keys())
        self._cache.clear()
        return self.policy(pid)

    def clear(self) -> None:
        """Leave custodian mode for new records (existing custodial records stay custodial)."""
        self.registry.clear_policy(self._patient_id())
        self._cache.clear()

    def policy(self, patient_id: int | None = None) -> CustodianPolicy:
        """The patient's custodian policy (threshold 0 = none)."""
        pid = self._patient_id() if patient_id is None else patient_id
        return self._cached(("policy", pid), lambda: self.registry.get_policy(pid))

    def covers(self, patient_id: int, category: str | int | Category) -> bool:
        """True when new records of ``category`` go in custodian mode for ``patient_id``."""
        if self._registry_contract is None:
            return False
        return self.policy(patient_id).covers(int(codes.category(category)))

    def covers_any(self, patient_id: int, categories: Iterable[str | int | Category]) -> bool:
        """True when any of ``categories`` goes in custodian mode for ``patient_id`` by the
        policy on-chain now. For writes: they skip the read cache, since a write sealed under a
        stale "no policy" would give every grantee an offline key to it."""
        if self._registry_contract is None:
            return False
        self._cache.pop(("policy", patient_id), None)
        policy = self.policy(patient_id)
        return any(policy.covers(int(codes.category(c))) for c in categories)

    # --- hooks called by the consent, emergency and records namespaces (issue 16) -----------------

    #: receipts of the last fan-out a hook sent (grant, revoke, emergency set-up, erase)
    last_receipts: dict[str, CustodianReceipts]
    #: the custodians' side of the last erasure a hook sent
    last_erasure: CustodialErasure | None = None

    def _hook_policy(self, pid: int) -> CustodianPolicy | None:
        if self._registry_contract is None:
            return None
        policy = self.policy(pid)
        return policy if policy.active else None

    def after_grant(self, pid: int, grantee: str, categories: int) -> None:
        """A grant landed: delegate through the custodians when it covers custodial categories."""
        policy = self._hook_policy(pid)
        if policy is not None and categories & policy.categories:
            self.last_receipts = {grantee: self.delegate(grantee)}

    def after_revoke(self, pid: int, grantee: str) -> None:
        """A revocation landed: have every custodian delete the grantee's fragments."""
        if self._hook_policy(pid) is not None:
            self.last_receipts = {grantee: self.revoke(grantee)}

    def after_emergency(self, pid: int, responders: Sequence[str]) -> None:
        """Emergency settings landed: pre-delegate to the responder organisations (served only
        inside an open break-glass window)."""
        if self._hook_policy(pid) is not None:
            self.last_receipts = {r: self.delegate(r, emergency=True) for r in responders}

    def after_erase(self, pid: int, rid: bytes) -> None:
        """An erasure landed: have every custodian refuse the record for good."""
        if self._hook_policy(pid) is not None:
            self.last_erasure = self.erase(rid)

    # --- delegation and revocation (patient) ----------------------------------------------------

    def delegate(self, grantee: str, *, emergency: bool = False) -> CustodianReceipts:
        """Send ``grantee`` (a provider, or a responder organisation when ``emergency``) one
        key fragment through each custodian; CustodiansUnavailable if fewer than the
        threshold stored theirs."""
        pid = self._patient_id()
        policy = self._require_policy(pid)
        who = to_checksum_address(grantee)
        provider = self._contract.get_provider(who)
        if provider.status == 0:
            raise NotRegistered(f"{who} is not a registered provider")
        keys = self._patient_keys(pid)
        rk = receiving_key(
            self._party.identity, provider.encryption_key, self._domain(), pid, who
        ).public_key()
        kind = p.KIND_EMERGENCY if emergency else p.KIND_GRANT
        kfrags = keys.kfrags(rk, policy.threshold, len(policy.custodians))
        frags = dict(zip(policy.custodians, kfrags, strict=True))
        dpk, vpk = policy.delegating_key, policy.verifying_key
        rpk = bytes(rk.to_compressed_bytes())

        def send(addr: str, client: CustodianClient) -> p.SignedReceipt:
            entry = self._entry(addr)
            sealed = p.seal_kfrag(
                entry.encryption_key, frags[addr], chain_id=self._chain.chain_id,
                medledger=self._contract.address, custodian=addr, patient_id=pid,
                grantee=who, kind=kind,
            )  # fmt: skip
            d = p.Delegation(pid, who, kind, keccak(sealed), p.key_digest(dpk),
                             p.key_digest(rpk), p.new_nonce(), self._deadline())  # fmt: skip
            signed = client.delegate(d, sealed, dpk, rpk, vpk, self._sign(d))
            return self._verified(addr, signed, d, p.ACTION_DELEGATED)

        return self._quorum(
            "delegation", policy, send,
            lambda n: f"only {n} of {len(policy.custodians)} custodians stored the delegation "
            f"to {who}; {policy.threshold} are needed",
        )  # fmt: skip

    def revoke(self, grantee: str) -> CustodianReceipts:
        """Ask every custodian to delete ``grantee``'s fragments (signed receipts). Reads stop
        at the on-chain revocation already: each custodian checks the grant is live."""
        pid = self._patient_id()
        policy = self._require_policy(pid)
        who = to_checksum_address(grantee)

        def send(addr: str, client: CustodianClient) -> p.SignedReceipt:
            r = p.Revocation(pid, who, p.new_nonce(), self._deadline())
            return self._verified(addr, client.revoke(r, self._sign(r)), r, p.ACTION_REVOKED)

        receipts, failed = self._fanout(policy.custodians, send)
        return CustodianReceipts("revocation", receipts, failed)

    def erase(self, record: bytes | str | CID) -> CustodialErasure:
        """Ask every custodian to refuse ``record`` for good and delete what it holds for it
        (call after the on-chain erasure: ``session.records.erase`` does both)."""
        rid = record_id(record)
        pid = self._patient_id()
        policy = self._require_policy(pid)

        def send(addr: str, client: CustodianClient) -> p.SignedReceipt:
            e = p.Erasure(pid, rid, p.new_nonce(), self._deadline())
            return self._verified(addr, client.erase(e, self._sign(e)), e, p.ACTION_ERASED)

        receipts, failed = self._fanout(policy.custodians, send)
        holders = {self._address: "the patient: own Umbral key and any copy of the ciphertext"}
        for reader, outcome in self._past_readers(pid, rid).items():
            if reader != self._address:
                holders[reader] = f"read it before the erasure ({outcome}): a plaintext copy"
        return CustodialErasure(
            "0x" + rid.hex(), CustodianReceipts("erasure", receipts, failed), holders
        )

    def _past_readers(self, pid: int, rid: bytes) -> dict[str, str]:
        """Accessors with an allowed logged access to ``rid`` (custodians serve nobody else)."""
        allowed = {int(Outcome.ALLOWED_CONSENT), int(Outcome.ALLOWED_EMERGENCY)}
        out: dict[str, str] = {}
        for e in self._contract.get_events(
            "AccessRecorded", argument_filters={"patientId": pid, "recordId": rid}
        ):
            if int(e.args["outcome"]) in allowed:
                out[to_checksum_address(e.args["accessor"])] = Outcome(
                    int(e.args["outcome"])
                ).name.lower()
        return out

    def _require_policy(self, pid: int) -> CustodianPolicy:
        policy = self.policy(pid)
        if not policy.active:
            raise InvalidInput(
                f"patient {pid} has no custodian policy",
                hint="session.custodians.configure(custodians, threshold, categories) first",
            )
        return policy

    # --- writing (patient or provider with write consent) ---------------------------------------

    def add(
        self, patient_id: int, data: bytes | bytearray | memoryview, category: str | int | Category
    ) -> tuple[RecordInfo, CustodianReceipts]:
        """Seal ``data`` in custodian mode, store and register it, then register its capsule
        with every custodian (write-once: the record id names this capsule for good)."""
        cat = codes.category(category)
        policy = self._require_policy(patient_id)
        if not policy.covers(int(cat)):
            raise InvalidInput(f"{cat.name.lower()} is not in custodian mode for {patient_id}")
        patient = self._require_patient(patient_id)
        if (
            patient.controller != self._address
            and self._contract.get_provider(self._address).status == 0
        ):
            raise NotAuthorized(f"{self._address} is neither the controller nor a provider")
        if patient.keyring == ZERO32:
            raise NotRegistered(f"patient {patient_id} has not published a keyring")
        created_at = self._chain.now()
        sealed = seal_custodial(
            data, policy.delegating_key, category=int(cat), patient_id=patient_id,
            author=self._address, created_at=created_at, domain=self._domain(),
        )  # fmt: skip
        cid = self._store.put(sealed)

        def on_chain(cids: Sequence[CID]) -> set[CID]:
            landed = self._contract.get_record(patient_id, cid.digest).patient_id == patient_id
            return set(cids) if landed else set()

        with pinned(self._store, cid, on_chain=on_chain):
            tx = self._contract.add_record(patient_id, cid.digest, int(cat), 0x55, patient.keyring)
            denied = write_denial(tx)
            if denied is not None:
                raise AccessDenied(
                    f"{self._address} may not write {cat.name.lower()} records of patient "
                    f"{patient_id}; the denied write was logged and nothing was stored",
                    outcome=denied,
                    tx_hash=tx.tx_hash,
                )
        capsule = read_custodial_header(sealed).capsule_bytes
        try:
            receipts = self.register_capsule(patient_id, cid.digest, capsule, policy)
        except CustodiansUnavailable as exc:
            # The record is on-chain (the custodians check that before registering), so this
            # cannot be rolled back: say so, and how to finish (registration is idempotent).
            raise CustodiansUnavailable(
                f"record 0x{cid.digest.hex()} is registered on-chain but {exc}",
                unavailable=exc.unavailable,
                hint="when the custodians are back: session.custodians.register_capsule("
                "patient_id, record_id, capsule) with the capsule of the stored record",
            ) from None
        info = RecordInfo(
            cid.digest, cid, patient_id, cat, self._address, created_at, False, len(data), tx
        )
        return info, receipts

    def register_capsule(
        self,
        patient_id: int,
        rid: bytes,
        capsule: bytes,
        policy: CustodianPolicy | None = None,
    ) -> CustodianReceipts:
        """Tell every custodian which capsule belongs to record ``rid`` (author or controller)."""
        policy = policy or self._require_policy(patient_id)
        digest = p.capsule_digest(capsule)

        def send(addr: str, client: CustodianClient) -> p.SignedReceipt:
            c = p.CapsuleRegistration(patient_id, rid, digest, p.new_nonce(), self._deadline())
            signed = client.register_capsule(c, self._sign(c))
            return self._verified(addr, signed, c, p.ACTION_CAPSULE_REGISTERED)

        return self._quorum(
            "capsule", policy, send,
            lambda n: f"only {n} custodians registered the capsule of record 0x{rid.hex()}; "
            f"{policy.threshold} are needed to read it",
        )  # fmt: skip

    # --- batched writes (the FHIR import; logic in client/custodial_batch.py) -----------------

    def add_batch(
        self,
        patient_id: int,
        items: Sequence[tuple[bytes, str | int | Category]],
        *,
        before_store: Callable[[Sequence[CID]], None] | None = None,
    ) -> list[RecordInfo]:
        """``session.records.add_batch`` for a patient in custodian mode: records of covered
        categories sealed as in :meth:`add`, the others as direct records, all registered by one
        ``addRecordBatch`` transaction; then the custodial ones' capsules registered with every
        custodian in one request each. Custodians unavailable after the transaction:
        ``CustodiansUnavailable`` (the records stay on-chain; :meth:`complete_registration`
        finishes)."""
        return custodial_batch.add_batch(self, patient_id, items, before_store)

    def register_capsules(
        self,
        patient_id: int,
        capsules: Sequence[tuple[bytes, bytes]],
        policy: CustodianPolicy | None = None,
    ) -> list[CustodianReceipts]:
        """Register ``(record id, capsule)`` pairs with every custodian, 256 per request
        (author or controller; idempotent)."""
        return custodial_batch.register_capsules(self, patient_id, capsules, policy)

    def complete_registration(self, records: Iterable[tuple[int, bytes | str | CID]]) -> int:
        """Finish the custodian registration of ``(patient id, record)`` pairs: the capsules of
        the custodial ones on-chain are (re-)registered (idempotent); returns how many."""
        return custodial_batch.complete_registration(self, records)

    # --- reading (the custodians' side in client/custodial_read.py) ---------------------------

    def read(
        self,
        record: bytes | str | CID,
        purpose: str | int | Purpose,
        *,
        patient_id: int | None = None,
    ) -> CustodialRead:
        """Log the access on-chain, then open the record: the patient directly with its own
        key, anyone else through ``k`` custodians (each re-checks the logged access)."""
        result, rec = self._access._log(record_id(record), purpose, patient_id)
        raise_if_denied(result)
        blob = self._store.get(record_cid(result.record_id, rec))
        return self.open_logged(result, rec, blob, fresh=True)

    def open_logged(
        self, result: AccessResult, rec: Record, blob: bytes, *, fresh: bool = False
    ) -> CustodialRead:
        """Open a custodial record after its allowed access ``result`` was logged (``fresh``:
        just now, so its block's time stands for the chain's; else the node is asked)."""
        if result.outcome is Outcome.ALLOWED_PATIENT:
            return CustodialRead(self.open_own(rec, blob), result, (), {}, {})
        header = custodial_read.checked_header(self, rec, blob)
        return custodial_read.through_custodians(self, blob, result, header.capsule_bytes, fresh)

    def open_own(self, rec: Record, blob: bytes) -> bytes:
        """The patient's own path to its custodial record: its Umbral key opens the capsule
        locally, no custodian asked (``session.access.open_own``; the header checked first)."""
        custodial_read.checked_header(self, rec, blob)
        return open_custodial_original(blob, self._patient_keys(rec.patient_id))
