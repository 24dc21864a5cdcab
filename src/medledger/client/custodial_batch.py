"""Custodian mode for batched writes (issue 16 meets the FHIR import of issue 17).

``session.records.add_batch`` hands a batch here when the patient's custodian policy covers any
of its categories. Covered records are sealed with :func:`seal_custodial` (their data key is an
Umbral capsule for the patient's key: no epoch key, so no grantee's key bundle opens them), the
others with :func:`seal_record` as usual, and all of them are registered by the same
``addRecordBatch`` transaction. The capsules of the custodial records that landed are then
registered with every custodian of the policy in one signed request per custodian
(``CapsuleRegistrationBatch``, docs/custodians.md) instead of one per record.

Failure semantics are those of ``session.custodians.add``: the chain cannot be rolled back, so
records registered on-chain whose capsules fewer than ``k`` custodians stored raise
``CustodiansUnavailable`` with a hint; registration is idempotent, and
:func:`complete_registration` (which the importer runs on every resume) finishes it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from medledger import codes
from medledger.chain.custodians import CustodianPolicy
from medledger.chain.types import ZERO32
from medledger.client._base import record_cid, retry_stale
from medledger.client._inputs import record_id
from medledger.client.record_batch import store_and_register
from medledger.client.types import RecordInfo
from medledger.codes import Category
from medledger.crypto import PublicDirectory, seal_record
from medledger.crypto.pre import is_custodial, read_custodial_header, seal_custodial
from medledger.custodian import protocol as p
from medledger.custodian.client import CustodianClient
from medledger.errors import (
    CustodiansUnavailable,
    NotRegistered,
)
from medledger.storage import CID, cid_of_bytes

if TYPE_CHECKING:
    from medledger.client.custodial_types import CustodianReceipts
    from medledger.client.custodians import CustodiansNamespace

Items = Sequence[tuple[bytes, str | int | Category]]

#: what a caller can do when the custodians did not all answer (registration is idempotent)
RESUME_HINT = (
    "when the custodians are back, re-run the import (it finishes the registration first), or "
    "call session.custodians.complete_registration([(patient_id, record_id), ...])"
)


#: extra HTTP timeout per record of a batched capsule registration: each custodian checks every
#: record on its node (256 records: 0.7 s with batched calls, 3 s with one call each, on this
#: project's loaded 2-core test machine; a single request's timeout is 3 s)
TIMEOUT_PER_RECORD = 0.05


@dataclass(frozen=True)
class _Sealed:
    blob: bytes
    category: Category
    cid: CID
    size: int
    capsule: bytes | None  # custodial records only


def add_batch(
    ns: CustodiansNamespace,
    patient_id: int,
    items: Items,
    before_store: Callable[[Sequence[CID]], None] | None,
) -> list[RecordInfo]:
    """See :meth:`CustodiansNamespace.add_batch`."""
    # the keyring moved while sealing: the batch stored nothing, seal again
    return retry_stale(lambda: _add_batch(ns, patient_id, items, before_store), 2)


def _add_batch(
    ns: CustodiansNamespace,
    patient_id: int,
    items: Items,
    before_store: Callable[[Sequence[CID]], None] | None,
) -> list[RecordInfo]:
    ns._cache.pop(("policy", patient_id), None)  # writes read the policy fresh (covers_any)
    policy = ns._require_policy(patient_id)
    patient = ns._require_patient(patient_id)
    if patient.keyring == ZERO32:
        raise NotRegistered(f"patient {patient_id} has not published a keyring")
    created_at = ns._chain.now()
    domain = ns._domain()
    cats = [codes.category(c) for _, c in items]
    directory: PublicDirectory | None = None
    if not all(policy.covers(int(c)) for c in cats):
        directory = PublicDirectory.from_document(ns._documents.get(patient.keyring))
        # never seal to epochs a cut-off party still holds (as records.add_batch)
        ns.rotation.require_complete(patient_id, created_at)
    sealed: list[_Sealed] = []
    for (data, _), cat in zip(items, cats, strict=True):
        if directory is None or policy.covers(int(cat)):
            blob = seal_custodial(
                data, policy.delegating_key, category=int(cat), patient_id=patient_id,
                author=ns._address, created_at=created_at, domain=domain,
            )  # fmt: skip
            capsule: bytes | None = read_custodial_header(blob).capsule_bytes
        else:
            blob = seal_record(
                data, directory, category=int(cat), author=ns._address,
                created_at=created_at, domain=domain,
            )  # fmt: skip
            capsule = None
        sealed.append(_Sealed(blob, cat, cid_of_bytes(blob), len(data), capsule))

    def register_capsules_of(added: set[bytes]) -> None:
        capsules = [
            (s.cid.digest, s.capsule)
            for s in sealed
            if s.capsule is not None and s.cid.digest in added
        ]
        if not capsules:
            return
        try:
            register_capsules(ns, patient_id, capsules, policy)
        except CustodiansUnavailable as exc:
            # on-chain already (the custodians check that): no rollback, say how to finish
            raise CustodiansUnavailable(
                f"{len(capsules)} custodial records of patient {patient_id} are registered "
                f"on-chain but {exc}",
                unavailable=exc.unavailable,
                hint=RESUME_HINT,
            ) from None

    rows = [(s.blob, s.category, s.cid) for s in sealed]
    tx = store_and_register(
        ns, patient_id, patient.keyring, rows, before_store, after_added=register_capsules_of
    )
    return [
        RecordInfo(
            s.cid.digest, s.cid, patient_id, s.category, ns._address, created_at, False, s.size, tx
        )
        for s in sealed
    ]


def register_capsules(
    ns: CustodiansNamespace,
    patient_id: int,
    capsules: Sequence[tuple[bytes, bytes]],
    policy: CustodianPolicy | None = None,
) -> list[CustodianReceipts]:
    """Register ``(record id, capsule)`` pairs with every custodian of the patient's policy,
    up to 256 records per signed request; one ``CustodianReceipts`` per request.
    ``CustodiansUnavailable`` when fewer than ``k`` custodians stored a chunk."""
    policy = policy or ns._require_policy(patient_id)
    step = p.MAX_CAPSULE_BATCH
    return [
        _register_chunk(ns, patient_id, capsules[i : i + step], policy)
        for i in range(0, len(capsules), step)
    ]


def _register_chunk(
    ns: CustodiansNamespace,
    patient_id: int,
    chunk: Sequence[tuple[bytes, bytes]],
    policy: CustodianPolicy,
) -> CustodianReceipts:
    entries = [(rid, p.capsule_digest(capsule)) for rid, capsule in chunk]
    digest = p.capsule_entries_digest(entries)

    def send(addr: str, client: CustodianClient) -> p.SignedReceipt:
        b = p.CapsuleRegistrationBatch(
            patient_id, len(entries), digest, p.new_nonce(), ns._deadline()
        )
        timeout = ns.timeout + TIMEOUT_PER_RECORD * len(entries)
        signed = client.register_capsules(b, entries, ns._sign(b), timeout=timeout)
        return ns._verified(addr, signed, b, p.ACTION_CAPSULES_REGISTERED)

    def shortfall(n: int) -> str:
        return (
            f"only {n} custodians registered the capsules of {len(entries)} records; "
            f"{policy.threshold} are needed to read them"
        )

    return ns._quorum("capsules", policy, send, shortfall)


def complete_registration(
    ns: CustodiansNamespace, records: Iterable[tuple[int, bytes | str | CID]]
) -> int:
    """Register with the custodians the capsule of every custodial record among ``records``
    (``(patient id, record)`` pairs) that is on-chain and not erased; others are skipped, as are
    patients without a custodian policy. Idempotent. Returns how many capsules were sent."""
    if ns._registry_contract is None:
        return 0
    by_patient: dict[int, list[bytes]] = {}
    for pid, record in records:
        by_patient.setdefault(pid, []).append(record_id(record))
    sent = 0
    for pid, rids in by_patient.items():
        policy = ns._hook_policy(pid)
        if policy is None:
            continue
        capsules = []
        for rid in dict.fromkeys(rids):
            rec = ns._contract.get_record(pid, rid)
            if rec.patient_id != pid or rec.erased:
                continue  # never landed (the importer unpins it), or erased since
            blob = ns._store.get(record_cid(rid, rec))
            if is_custodial(blob):
                capsules.append((rid, read_custodial_header(blob).capsule_bytes))
        if capsules:
            register_capsules(ns, pid, capsules, policy)
            sent += len(capsules)
    return sent
