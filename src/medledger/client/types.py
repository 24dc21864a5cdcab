"""The SDK's public value types: parties, results, proofs and signed consent documents.

Everything a flow returns is a frozen dataclass defined here, so callers can import them without
pulling in the flows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address

from medledger import codes
from medledger.anchoring import Batch, item_digest
from medledger.audit.verify import VerificationReport
from medledger.chain.types import Bundle, GrantRequest, TxResult, bytes32
from medledger.codes import Category, Outcome, Purpose
from medledger.crypto import IdentityKey, Keystore, Suite
from medledger.errors import InvalidInput
from medledger.storage import CID

#: What a transaction returns (re-exported under the SDK's name).
TxReceipt = TxResult

#: Default validity of a signed (relayed) consent message.
DEFAULT_SIGNATURE_TTL = 3600

#: Format tag of a stored anchored batch (JSON: manifest + base64 items).
BATCH_FORMAT = "medledger-batch/1"

#: ``grantBatch`` takes at most this many grants (contracts/core/ConsentManager.sol).
MAX_GRANT_BATCH = 64


@dataclass(frozen=True)
class Party:
    """Who acts: an EVM signing account and an encryption identity key."""

    account: LocalAccount
    identity: IdentityKey

    @property
    def address(self) -> str:
        return str(self.account.address)

    @classmethod
    def generate(cls, suite: Suite | str = Suite.MLKEM768_X25519) -> Party:
        """A brand-new party (random signing key and identity key; post-quantum hybrid unless
        ``suite="x25519"``)."""
        return cls(Account.create(), IdentityKey.generate(Suite.parse(suite)))

    @classmethod
    def from_keystore(cls, path_or_json: str | Path, password: str) -> Party:
        """Unlock a medledger keystore (see :class:`medledger.crypto.Keystore`)."""
        account, identity = Keystore.load(path_or_json, password)
        return cls(account, identity)

    def __repr__(self) -> str:
        return f"Party({self.address}, {self.identity.suite.label})"


@dataclass(frozen=True)
class PatientInfo:
    patient_id: int
    controller: str
    keyring_cid: CID
    tx: TxResult


@dataclass(frozen=True)
class RecordInfo:
    """One entry of a patient's longitudinal record."""

    record_id: bytes
    cid: CID
    patient_id: int
    category: Category
    author: str
    created_at: int
    erased: bool = False
    size: int | None = None
    tx: TxResult | None = None

    @property
    def record_id_hex(self) -> str:
        return "0x" + self.record_id.hex()


@dataclass(frozen=True)
class GrantInfo:
    patient_id: int
    grantee: str
    categories: tuple[Category, ...]
    purposes: tuple[Purpose, ...]
    actions: int
    valid_from: int
    valid_until: int
    key_bundle_cid: CID
    tx: TxResult
    #: transactions sent besides the grant: keyring update, emergency kit
    extra_txs: tuple[TxResult, ...] = ()
    #: other grantees whose key bundles were refreshed in the same (batch) transaction
    refreshed: tuple[str, ...] = ()

    @property
    def gas_total(self) -> int:
        return self.tx.gas_used + sum(t.gas_used for t in self.extra_txs)


@dataclass(frozen=True)
class RevokeInfo:
    patient_id: int
    grantee: str
    tx: TxResult
    #: transactions sent after the revocation: keyring rotation, refreshed bundles, kit
    extra_txs: tuple[TxResult, ...] = ()
    #: other grantees whose key bundles were refreshed for the new epochs
    refreshed: tuple[str, ...] = ()
    #: True when the consent was already revoked and this call completed its pending rotation
    completed: bool = False

    @property
    def gas_used(self) -> int:
        """Gas of the ``revoke`` transaction itself."""
        return self.tx.gas_used


@dataclass(frozen=True)
class BreakGlassInfo:
    patient_id: int
    responder: str
    reason: codes.BreakGlassReason
    expires_at: int
    tx: TxResult


@dataclass(frozen=True)
class AccessResult:
    """One logged access attempt (what ``recordAccess`` decided)."""

    record_id: bytes
    patient_id: int
    outcome: Outcome
    seq: int
    tx: TxResult

    @property
    def allowed(self) -> bool:
        return self.outcome.allowed


@dataclass(frozen=True)
class AnchoredBatch:
    """A batch of off-chain items: stored encrypted as one record, its Merkle root anchored."""

    batch: Batch
    record: RecordInfo
    tx: TxResult

    @property
    def stream_id(self) -> bytes:
        return self.batch.stream_id

    @property
    def root(self) -> bytes:
        return self.batch.root


@dataclass(frozen=True)
class InclusionProof:
    """That item ``item_digest`` is in the batch with Merkle root ``root`` of ``stream_id``."""

    stream_id: bytes
    root: bytes
    item_digest: bytes
    index: int
    proof: tuple[bytes, ...]
    #: who anchored the root (anchors are namespaced by submitter); ``None`` = not stated
    submitter: str | None = None

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "streamId": "0x" + self.stream_id.hex(),
            "root": "0x" + self.root.hex(),
            "item": "0x" + self.item_digest.hex(),
            "index": self.index,
            "proof": ["0x" + p.hex() for p in self.proof],
        }
        if self.submitter is not None:
            doc["submitter"] = self.submitter
        return doc

    @classmethod
    def of(cls, batch: Batch, item: bytes, submitter: str | None = None) -> InclusionProof:
        """The inclusion proof of ``item`` (raw bytes) in ``batch`` (anchored by
        ``submitter``, when known)."""
        digest = item_digest(item)
        index = batch.index_of(digest)
        who = None if submitter is None else to_checksum_address(submitter)
        return cls(batch.stream_id, batch.root, digest, index, tuple(batch.proof(index)), who)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> InclusionProof:
        try:
            return cls(
                bytes32(data["streamId"], "streamId"),
                bytes32(data["root"], "root"),
                bytes32(data["item"], "item"),
                int(data["index"]),
                tuple(bytes32(p, "proof element") for p in data["proof"]),
                to_checksum_address(data["submitter"]) if "submitter" in data else None,
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise InvalidInput(f"not an inclusion proof: {exc}") from None


def stream_id_of(name: str | bytes) -> bytes:
    """The 32-byte stream id of a stream name (SHA-256 of its UTF-8 bytes), or a raw 32-byte id."""
    if isinstance(name, bytes):
        if len(name) != 32:
            raise InvalidInput("a raw stream id is 32 bytes")
        return name
    if not name.strip():
        raise InvalidInput("empty stream name")
    return hashlib.sha256(name.encode()).digest()


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    accessor: str
    accessor_name: str | None
    record_id: bytes
    purpose: Purpose
    outcome: Outcome
    timestamp: int
    block_number: int
    tx_hash: str

    @property
    def allowed(self) -> bool:
        return self.outcome.allowed


@dataclass(frozen=True)
class AuditTrail:
    patient_id: int
    entries: tuple[AuditEntry, ...]
    verification: VerificationReport

    @property
    def verified(self) -> bool:
        return self.verification.ok


def _grant_to_json(g: GrantRequest) -> dict[str, Any]:
    return {
        "grantee": g.grantee,
        "categories": g.categories,
        "actions": g.actions,
        "purposes": g.purposes,
        "validFrom": g.valid_from,
        "validUntil": g.valid_until,
        "keyBundle": "0x" + g.key_bundle.hex(),
    }


def _grant_from_json(g: dict[str, Any]) -> GrantRequest:
    return GrantRequest(
        to_checksum_address(g["grantee"]),
        int(g["categories"]),
        int(g["actions"]),
        int(g["purposes"]),
        int(g["validFrom"]),
        int(g["validUntil"]),
        bytes32(g["keyBundle"], "keyBundle"),
    )


@dataclass(frozen=True)
class KitUpdate:
    """A resealed emergency kit and the break-glass settings it is published with."""

    emergency_kit: bytes
    categories: int
    max_duration: int
    opt_out: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "emergencyKit": "0x" + self.emergency_kit.hex(),
            "categories": self.categories,
            "maxDuration": self.max_duration,
            "optOut": self.opt_out,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KitUpdate:
        return cls(
            bytes32(data["emergencyKit"], "emergencyKit"),
            int(data["categories"]),
            int(data["maxDuration"]),
            bool(data["optOut"]),
        )


@dataclass(frozen=True)
class SignedStep:
    """One EIP-712 signed operation: ``setKeyring``, ``grant``, ``revoke`` or
    ``revokeAndRekey``, with its keyed nonce (and, for keyring changes, the keyring it
    replaces and the refreshed bundles)."""

    op: str
    signature: bytes
    grant: GrantRequest | None = None
    grantee: str | None = None
    keyring: bytes | None = None
    nonce: int = 0
    expected: bytes | None = None
    bundles: tuple[Bundle, ...] = ()


@dataclass(frozen=True)
class SignedConsent:
    """A grant or revocation signed by the patient's controller, for anyone to relay.

    The patient needs no ETH: the documents (key bundles, updated keyring) are already stored,
    and the relayer pays. Each step carries its own keyed nonce (``nonces(controller, key)``:
    key 0 for the keyring and for the grants that come with it, so none of them lands without
    the keyring update; the grantee's address for a grant alone) and the patient's signature
    ``epoch``: a direct revoke or controller change makes every outstanding step stale. A
    revocation is ONE ``revokeAndRekey`` step (revoke + keyring compare-and-swap + refreshed
    bundles for the other active grantees), so it cannot land without its key rotation.
    """

    kind: str  # "grant" or "revoke"
    patient_id: int
    grantee: str
    deadline: int
    steps: tuple[SignedStep, ...]
    #: the patient's signature epoch the steps were signed under
    epoch: int = 0
    #: the resealed emergency kit when the new epochs touch an emergency category; the contract
    #: has no signed variant of ``setEmergencyAccess``, so the patient applies it with
    #: ``session.emergency.apply_kit(signed)`` (the document is already stored and pinned)
    kit: KitUpdate | None = None

    def to_json(self) -> dict[str, Any]:
        steps = []
        for st in self.steps:
            item: dict[str, Any] = {"op": st.op, "signature": "0x" + st.signature.hex()}
            if st.grant is not None:
                item["grant"] = _grant_to_json(st.grant)
            if st.grantee is not None:
                item["grantee"] = st.grantee
            if st.keyring is not None:
                item["keyring"] = "0x" + st.keyring.hex()
            item["nonce"] = str(st.nonce)
            if st.expected is not None:
                item["expectedKeyring"] = "0x" + st.expected.hex()
            if st.bundles:
                item["bundles"] = [
                    {"grantee": b.grantee, "keyBundle": "0x" + b.key_bundle.hex()}
                    for b in st.bundles
                ]
            steps.append(item)
        doc: dict[str, Any] = {
            "format": "medledger-signed-consent/2",
            "kind": self.kind,
            "patientId": self.patient_id,
            "epoch": self.epoch,
            "grantee": self.grantee,
            "deadline": self.deadline,
            "steps": steps,
        }
        if self.kit is not None:
            doc["kit"] = self.kit.to_json()
        return doc

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SignedConsent:
        try:
            kind = str(data["kind"])
            if kind not in ("grant", "revoke"):
                raise ValueError(f"unknown kind {kind!r}")
            steps = []
            for item in data["steps"]:
                op = str(item["op"])
                if op not in ("setKeyring", "grant", "revoke", "revokeAndRekey"):
                    raise ValueError(f"unknown step {op!r}")
                steps.append(
                    SignedStep(
                        op,
                        bytes.fromhex(str(item["signature"]).removeprefix("0x")),
                        _grant_from_json(item["grant"]) if "grant" in item else None,
                        to_checksum_address(item["grantee"]) if "grantee" in item else None,
                        bytes32(item["keyring"], "keyring") if "keyring" in item else None,
                        int(item["nonce"]),
                        bytes32(item["expectedKeyring"], "expectedKeyring")
                        if "expectedKeyring" in item
                        else None,
                        tuple(
                            Bundle(
                                to_checksum_address(b["grantee"]),
                                bytes32(b["keyBundle"], "keyBundle"),
                            )
                            for b in item.get("bundles", ())
                        ),
                    )
                )
            if not steps:
                raise ValueError("no steps")
            return cls(
                kind,
                int(data["patientId"]),
                to_checksum_address(data["grantee"]),
                int(data["deadline"]),
                tuple(steps),
                int(data["epoch"]),
                KitUpdate.from_json(data["kit"]) if "kit" in data else None,
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise InvalidInput(f"not a signed consent document: {exc}") from None


@dataclass(frozen=True)
class ActiveGrant:
    """A consent in force now (``session.consent.active()``): masks decoded."""

    grantee: str
    grantee_name: str | None
    categories: tuple[Category, ...]
    purposes: tuple[Purpose, ...]
    actions: int
    valid_from: int
    valid_until: int

    @property
    def action_names(self) -> tuple[str, ...]:
        return tuple(n for bit, n in ((1, "read"), (2, "write")) if self.actions & bit)


@dataclass(frozen=True)
class BreakGlassWindow:
    """An open break-glass window (``session.emergency.open_windows()``); the justification
    text stays with the responder, only its SHA-256 is on-chain."""

    responder: str
    responder_name: str | None
    reason: codes.BreakGlassReason
    opened_at: int
    expires_at: int
    justification_sha256: bytes


@dataclass(frozen=True)
class EmergencySettings:
    """A patient's break-glass settings and the responders its emergency kit is sealed to."""

    categories: tuple[Category, ...]
    max_duration: int
    opt_out: bool
    cooldown: int
    responders: tuple[str, ...]
