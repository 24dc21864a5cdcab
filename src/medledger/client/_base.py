"""What every namespace of a :class:`~medledger.client.session.Session` shares: its
:class:`Context` (the party, the bound contracts and the shared internals) and a few reads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from medledger.chain.connection import Chain
from medledger.chain.suite import AnchorRegistryContract, MedLedgerContract
from medledger.chain.types import Record
from medledger.client._inputs import record_id
from medledger.client.directory import ProviderDirectory
from medledger.client.documents import DocumentStore
from medledger.client.keys import KeyManager
from medledger.client.rotation import RotationCheck
from medledger.client.types import Party
from medledger.errors import InvalidInput, NotRegistered, StaleKeyring
from medledger.storage import CID, BlockStore, cid_from_digest
from medledger.storage.cid import DAG_PB, RAW

if TYPE_CHECKING:
    from medledger.client.custodians import CustodiansNamespace


@dataclass(frozen=True)
class Context:
    """One party's view of a deployment, shared by its session's namespaces."""

    chain: Chain
    store: BlockStore
    documents: DocumentStore
    directory: ProviderDirectory
    contract: MedLedgerContract
    anchor_registry: AnchorRegistryContract
    keys: KeyManager
    party: Party
    #: the id of the patient this party controls (``NotRegistered`` if none)
    patient_id: Callable[[], int]
    #: record id -> its one registering patient, filled by lookups (saves an event scan a read)
    record_patients: dict[bytes, int] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return self.party.address


T = TypeVar("T")


def retry_stale(attempt: Callable[[], T], attempts: int) -> T:
    """Run ``attempt``, at most ``attempts`` times in all while it loses the keyring
    compare-and-swap (``StaleKeyring``: another flow published a keyring since it was read), so
    it plans or seals again on the reloaded keyring. Nothing of a lost attempt landed: the
    compare-and-swap is its first transaction, or part of its only one."""
    for _ in range(attempts - 1):
        try:
            return attempt()
        except StaleKeyring:
            continue
    return attempt()


def block_time(chain: Chain, block_number: int) -> int:
    """The timestamp of block ``block_number``."""
    return int(chain.w3.eth.get_block(block_number)["timestamp"])


def record_cid(rid: bytes, rec: Record) -> CID:
    """The full CID of a registered record (its codec is on-chain)."""
    return cid_from_digest(rid, DAG_PB if rec.cid_codec == 0x70 else RAW)


class Namespace:
    """One concern of a session (``session.consent``, ``session.records``, ...)."""

    #: custodian mode (issue 16): set by the session on the namespaces whose flows it hooks
    custodians: CustodiansNamespace | None = None

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._chain = ctx.chain
        self._store = ctx.store
        self._documents = ctx.documents
        self._directory = ctx.directory
        self._contract = ctx.contract
        self._anchor_registry = ctx.anchor_registry
        self._keys = ctx.keys
        self._party = ctx.party
        self._address = ctx.address

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._address})"

    @property
    def rotation(self) -> RotationCheck:
        """The pending-rotation check (cut-offs whose keys are not rotated yet)."""
        check: RotationCheck | None = self.__dict__.get("_rotation")
        if check is None:
            check = self.__dict__["_rotation"] = RotationCheck(self._contract, self._documents)
        return check

    def _patient_id(self) -> int:
        return self._ctx.patient_id()

    def _require_patient(self, patient_id: int) -> Any:
        if patient_id < 1:
            raise InvalidInput(f"patient ids start at 1, got {patient_id}")
        patient = self._contract.get_patient(patient_id)
        if int(patient.controller, 16) == 0:
            raise NotRegistered(f"patient {patient_id} is not registered")
        return patient

    def _record(self, record: bytes | str | CID, patient_id: int | None = None) -> Record:
        """The on-chain index entry of a record (``InvalidInput`` if unknown).

        Records are keyed by (patient, record id). Without ``patient_id`` the patient is found
        from the ``RecordAdded`` events of that id: the one patient that registered it, or this
        party's own patient when several did (else ``InvalidInput`` asks for ``patient_id``).
        """
        rid = record_id(record)
        if patient_id is None:
            patient_id = self._patient_of_record(rid)
        rec = self._contract.get_record(patient_id, rid)
        if rec.patient_id == 0:
            raise InvalidInput(f"unknown record 0x{rid.hex()} of patient {patient_id}")
        return rec

    def _patient_of_record(self, rid: bytes) -> int:
        known = self._ctx.record_patients.get(rid)
        if known is not None:
            return known
        pids = self._contract.record_patients(rid)
        if len(pids) == 1:
            # Cached: a registered record never changes patient, and record ids are CID
            # digests of sealed (randomly nonced) bytes, so a second patient registering the
            # same id is not a case a reader has to be protected from mid-session.
            self._ctx.record_patients[rid] = pids[0]
            return pids[0]
        if not pids:
            raise InvalidInput(f"unknown record 0x{rid.hex()}")
        own = self._contract.patient_of(self._address)
        if own in pids:
            return own
        raise InvalidInput(
            f"record id 0x{rid.hex()} is registered by patients {pids}",
            hint="name the patient (patient_id=...)",
        )

    def _sealed(self, record: bytes | str | CID, patient_id: int | None = None) -> bytes:
        """The sealed record from the store, CID-verified, without logging."""
        rid = record_id(record)
        return self._store.get(record_cid(rid, self._record(rid, patient_id)))
