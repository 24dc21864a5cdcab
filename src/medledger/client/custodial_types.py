"""What ``session.custodians`` returns: the results of its fan-outs to a patient's custodians."""

from __future__ import annotations

from dataclasses import dataclass, field

from medledger.client.types import AccessResult
from medledger.custodian import protocol as p

__all__ = ["CustodialErasure", "CustodialRead", "CustodianReceipts"]


@dataclass(frozen=True)
class CustodianReceipts:
    """What a fan-out to a patient's custodians produced: verified receipts by custodian
    address, and why each other custodian did not give one."""

    action: str
    receipts: dict[str, p.SignedReceipt] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """True when every custodian of the policy returned a verified receipt."""
        return not self.failed

    @property
    def deleted(self) -> int:
        """Items the custodians say they deleted, summed over the receipts."""
        return sum(r.receipt.deleted for r in self.receipts.values())


@dataclass(frozen=True)
class CustodialRead:
    """A read through custodians: the plaintext, who served it, who failed and why."""

    plaintext: bytes
    access: AccessResult
    served_by: tuple[str, ...]
    #: custodian address -> why its fragment was rejected (forged or wrong)
    forged: dict[str, str]
    #: custodian address -> why it gave no fragment (down, refused)
    unavailable: dict[str, str]
    #: the verified capsule fragments used (what the reader holds afterwards)
    cfrags: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class CustodialErasure:
    """The custodians' side of an erasure and who can still decrypt the record."""

    record_id: str
    receipts: CustodianReceipts
    #: parties that can still decrypt, each with why (docs/crypto.md section 12.1)
    could_still_decrypt: dict[str, str]
    cannot_recall: str = (
        "Plaintext already read cannot be recalled: every reader listed decrypted the record "
        "while it was allowed and may keep a copy."
    )
