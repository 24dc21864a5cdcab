"""Typed binding of ``CustodianRegistry`` (custodian mode, issue 16; docs/crypto.md section 12)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from medledger.chain.contracts import checksum as to_checksum_address
from medledger.chain.suite_contract import Ownable2StepCalls
from medledger.chain.types import TxResult, bytes32
from medledger.errors import InvalidInput

#: Custodian status codes of ``CustodianRegistry.Custodian.status``.
CUSTODIAN_NONE, CUSTODIAN_ACTIVE, CUSTODIAN_REMOVED = 0, 1, 2
#: Most custodians one policy may name (``CustodianRegistry.MAX_CUSTODIANS``).
MAX_CUSTODIANS = 16


@dataclass(frozen=True)
class CustodianEntry:
    """``CustodianRegistry.Custodian``: status 0 none, 1 active, 2 removed."""

    address: str
    status: int
    registered_at: int
    encryption_key: bytes
    name: str
    endpoint: str

    @property
    def is_active(self) -> bool:
        """True while the consortium has not removed it."""
        return self.status == CUSTODIAN_ACTIVE


@dataclass(frozen=True)
class CustodianPolicy:
    """A patient's custodian policy; ``threshold`` 0 means none (records go direct)."""

    threshold: int
    categories: int
    updated_at: int
    custodians: tuple[str, ...]
    #: the patient's Umbral delegating || kfrag-verifying public keys (2 x 33 bytes compressed;
    #: empty when there is no policy)
    umbral_keys: bytes = b""

    @property
    def delegating_key(self) -> bytes:
        """The patient's Umbral public key record data keys are encapsulated to."""
        return self.umbral_keys[:33]

    @property
    def verifying_key(self) -> bytes:
        """The Umbral public key that signs the patient's key fragments."""
        return self.umbral_keys[33:]

    @property
    def active(self) -> bool:
        """True when the patient keeps some categories in custodian mode."""
        return self.threshold > 0

    def covers(self, category: int) -> bool:
        """True when records of ``category`` are in custodian mode."""
        return self.active and bool(self.categories >> category & 1)


def sorted_custodians(addresses: Sequence[str]) -> list[str]:
    """Checksummed, strictly ascending, duplicate-free (the order the contract requires)."""
    unique = {to_checksum_address(a) for a in addresses}
    if len(unique) != len(addresses):
        raise InvalidInput("a custodian is listed twice")
    return sorted(unique, key=lambda a: int(a, 16))


class CustodianRegistryContract(Ownable2StepCalls):
    """Binding of the shipped ``CustodianRegistry`` artifact."""

    ARTIFACT = "CustodianRegistry"

    # --- consortium (owner) ---

    def register_custodian(self, custodian: str, name: str, endpoint: str) -> TxResult:
        """Register ``custodian`` (owner only; event ``CustodianRegistered``)."""
        return self._tx("registerCustodian", to_checksum_address(custodian), name, endpoint)

    def remove_custodian(self, custodian: str) -> TxResult:
        """Remove an active custodian (owner only; event ``CustodianRemoved``)."""
        return self._tx("removeCustodian", to_checksum_address(custodian))

    # --- the custodian itself ---

    def set_custodian_key(self, encryption_key: bytes) -> TxResult:
        """The sending custodian sets its X25519 HPKE public key."""
        return self._tx("setCustodianKey", bytes32(encryption_key, "encryption key"))

    # --- the patient's controller ---

    def set_policy(
        self,
        patient_id: int,
        custodians: Sequence[str],
        threshold: int,
        categories: int,
        umbral_keys: bytes,
    ) -> TxResult:
        """Set the sender's patient's custodian policy (custodians are sorted here)."""
        return self._tx(
            "setCustodianPolicy",
            patient_id,
            sorted_custodians(custodians),
            threshold,
            categories,
            bytes(umbral_keys),
        )

    def clear_policy(self, patient_id: int) -> TxResult:
        """Clear the sender's patient's custodian policy."""
        return self._tx("clearCustodianPolicy", patient_id)

    # --- views ---

    def get_custodian(self, custodian: str) -> CustodianEntry:
        """A custodian's registration (status 0 = never registered)."""
        address = to_checksum_address(custodian)
        status, at, key, name, endpoint = self._view("getCustodian", address)
        return CustodianEntry(address, int(status), int(at), bytes(key), str(name), str(endpoint))

    def get_policy(self, patient_id: int) -> CustodianPolicy:
        """The custodian policy of ``patient_id`` (threshold 0 = none)."""
        threshold, categories, at, custodians, key = self._view("getCustodianPolicy", patient_id)
        return CustodianPolicy(
            int(threshold),
            int(categories),
            int(at),
            tuple(to_checksum_address(c) for c in custodians),
            bytes(key),
        )

    def med_ledger(self) -> str:
        """The MedLedger whose controllers own the policies."""
        return to_checksum_address(self._view("medLedger"))
