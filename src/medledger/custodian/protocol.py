"""Custodian protocol v1: the signed messages, their EIP-712 typed data and JSON wire form.

Every message is a frozen dataclass with ``typed_data(chain_id, medledger)`` (the full EIP-712
document, domain ``{name: "medledger custodian", version: "1", chainId, verifyingContract:
MedLedger}``), ``digest(...)`` (the EIP-712 hash that gets signed), ``to_json()`` / ``from_json()``
(the HTTP body form: EIP-712 field names; addresses checksummed; ``bytes32`` as 0x-hex;
``uint256`` nonces as 0x-hex strings; small integers as JSON numbers).

Key fragments travel HPKE-sealed to the custodian's X25519 key (:func:`seal_kfrag`), bound to the
chain, the MedLedger contract, the custodian, the patient, the grantee and the delegation kind,
so a sealed fragment cannot be replayed to another custodian or for another grantee.
docs/custodians.md has the full protocol.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.address import to_checksum_address

from medledger.crypto.hpke import hpke_open, hpke_seal
from medledger.crypto.keys import PrivateKey, PublicKey
from medledger.errors import CustodianError, InvalidInput
from medledger.hashing import keccak

DOMAIN_NAME = "medledger custodian"
DOMAIN_VERSION = "1"
PROTOCOL_VERSION = "1"

#: A request's deadline may lie at most this far ahead of the custodian's clock.
MAX_DEADLINE_AHEAD = 600

#: Delegation kinds.
KIND_GRANT = 0
KIND_EMERGENCY = 1

#: Receipt actions.
ACTION_DELEGATED = 0
ACTION_REVOKED = 1
ACTION_ERASED = 2
ACTION_SERVED = 3
ACTION_CAPSULE_REGISTERED = 4

#: HPKE label of a sealed key fragment (see :func:`kfrag_context`).
KFRAG_LABEL = b"custodian-kfrag"

_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

_DOMAIN_TYPE = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


def domain(chain_id: int, medledger: str) -> dict[str, Any]:
    """The custodian EIP-712 domain on one chain and MedLedger deployment."""
    return {
        "name": DOMAIN_NAME,
        "version": DOMAIN_VERSION,
        "chainId": int(chain_id),
        "verifyingContract": to_checksum_address(medledger),
    }


# --- value codecs ----------------------------------------------------------------------------


def _parse_uint(value: Any, bits: int, name: str) -> int:
    if isinstance(value, bool):
        raise InvalidInput(f"{name} must be an integer")
    if isinstance(value, str):
        try:
            value = int(value, 16) if value.lower().startswith("0x") else int(value, 10)
        except ValueError:
            raise InvalidInput(f"{name} must be an integer or 0x-hex string") from None
    if not isinstance(value, int) or not 0 <= value < 2**bits:
        raise InvalidInput(f"{name} must be an unsigned {bits}-bit integer")
    return value


def _parse_address(value: Any, name: str) -> str:
    try:
        return str(to_checksum_address(value))
    except (ValueError, TypeError):
        raise InvalidInput(f"{name} must be an address (0x + 40 hex digits)") from None


def parse_hex(value: Any, name: str, length: int | None = None, *, max_len: int = 65536) -> bytes:
    """``0x``-prefixed hex to bytes (``length`` exact when given); InvalidInput otherwise."""
    if not isinstance(value, str) or not value.startswith("0x") or len(value) > 2 + 2 * max_len:
        raise InvalidInput(f"{name} must be a 0x-prefixed hex string")
    try:
        out = bytes.fromhex(value[2:])
    except ValueError:
        raise InvalidInput(f"{name} is not valid hex") from None
    if length is not None and len(out) != length:
        raise InvalidInput(f"{name} must be {length} bytes, got {len(out)}")
    return out


def to_hex(data: bytes) -> str:
    return "0x" + bytes(data).hex()


def _check_bytes32(value: Any, name: str) -> bytes:
    if isinstance(value, str):
        return parse_hex(value, name, 32)
    if isinstance(value, bytes | bytearray) and len(value) == 32:
        return bytes(value)
    raise InvalidInput(f"{name} must be 32 bytes")


# --- typed messages --------------------------------------------------------------------------


class _Typed:
    """Shared machinery: ``FIELDS`` maps each dataclass attribute to its EIP-712 name and type."""

    PRIMARY: ClassVar[str]
    #: (python attribute, EIP-712 field name, Solidity type), in struct order
    FIELDS: ClassVar[tuple[tuple[str, str, str], ...]]

    def __post_init__(self) -> None:
        # Normalise and range-check at construction: a message that exists is encodable.
        for attr, name, kind in self.FIELDS:
            value = getattr(self, attr)
            if kind == "address":
                norm: Any = _parse_address(value, name)
            elif kind == "bytes32":
                norm = _check_bytes32(value, name)
            else:
                norm = _parse_uint(value, int(kind[4:]), name)
            object.__setattr__(self, attr, norm)

    @classmethod
    def eip712_type(cls) -> list[dict[str, str]]:
        return [{"name": name, "type": kind} for _, name, kind in cls.FIELDS]

    def message(self) -> dict[str, Any]:
        """The EIP-712 message values."""
        return {name: getattr(self, attr) for attr, name, _ in self.FIELDS}

    def typed_data(self, chain_id: int, medledger: str) -> dict[str, Any]:
        """The full EIP-712 document (what ``eth_signTypedData_v4`` takes)."""
        return {
            "types": {"EIP712Domain": _DOMAIN_TYPE, self.PRIMARY: self.eip712_type()},
            "primaryType": self.PRIMARY,
            "domain": domain(chain_id, medledger),
            "message": self.message(),
        }

    def digest(self, chain_id: int, medledger: str) -> bytes:
        """The EIP-712 hash (``keccak(0x1901 || domainSeparator || structHash)``)."""
        return typed_digest(self.typed_data(chain_id, medledger))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for attr, name, kind in self.FIELDS:
            value = getattr(self, attr)
            if kind == "bytes32":
                out[name] = to_hex(value)
            elif kind == "uint256":
                out[name] = hex(value)
            else:
                out[name] = value
        return out

    @classmethod
    def from_json(cls, data: Any) -> Self:
        """Parse the wire form; anything missing, extra or malformed raises InvalidInput."""
        if not isinstance(data, dict):
            raise InvalidInput(f"{cls.PRIMARY} must be a JSON object")
        expected = {name for _, name, _ in cls.FIELDS}
        if set(data) != expected:
            missing = sorted(expected - set(data))
            extra = sorted(set(data) - expected)
            raise InvalidInput(f"{cls.PRIMARY} fields: missing {missing}, unexpected {extra}")
        return cls(**{attr: data[name] for attr, name, _ in cls.FIELDS})


@dataclass(frozen=True)
class Delegation(_Typed):
    """A patient's controller hands one custodian a key fragment for ``grantee``."""

    patient_id: int
    grantee: str
    kind: int
    kfrag_digest: bytes
    delegating_key: bytes
    receiving_key: bytes
    nonce: int
    deadline: int

    PRIMARY: ClassVar[str] = "Delegation"
    FIELDS: ClassVar[tuple[tuple[str, str, str], ...]] = (
        ("patient_id", "patientId", "uint64"),
        ("grantee", "grantee", "address"),
        ("kind", "kind", "uint8"),
        ("kfrag_digest", "kfragDigest", "bytes32"),
        ("delegating_key", "delegatingKey", "bytes32"),
        ("receiving_key", "receivingKey", "bytes32"),
        ("nonce", "nonce", "uint256"),
        ("deadline", "deadline", "uint64"),
    )


@dataclass(frozen=True)
class Revocation(_Typed):
    """The controller asks a custodian to delete every fragment it holds for ``grantee``."""

    patient_id: int
    grantee: str
    nonce: int
    deadline: int

    PRIMARY: ClassVar[str] = "Revocation"
    FIELDS: ClassVar[tuple[tuple[str, str, str], ...]] = (
        ("patient_id", "patientId", "uint64"),
        ("grantee", "grantee", "address"),
        ("nonce", "nonce", "uint256"),
        ("deadline", "deadline", "uint64"),
    )


@dataclass(frozen=True)
class Erasure(_Typed):
    """The controller asks a custodian to refuse ``record_id`` for good."""

    patient_id: int
    record_id: bytes
    nonce: int
    deadline: int

    PRIMARY: ClassVar[str] = "Erasure"
    FIELDS: ClassVar[tuple[tuple[str, str, str], ...]] = (
        ("patient_id", "patientId", "uint64"),
        ("record_id", "recordId", "bytes32"),
        ("nonce", "nonce", "uint256"),
        ("deadline", "deadline", "uint64"),
    )


@dataclass(frozen=True)
class Reencryption(_Typed):
    """A reader asks for one re-encryption fragment of ``record_id``'s capsule."""

    reader: str
    patient_id: int
    record_id: bytes
    access_tx: bytes
    capsule_digest: bytes
    nonce: int
    deadline: int

    PRIMARY: ClassVar[str] = "Reencryption"
    FIELDS: ClassVar[tuple[tuple[str, str, str], ...]] = (
        ("reader", "reader", "address"),
        ("patient_id", "patientId", "uint64"),
        ("record_id", "recordId", "bytes32"),
        ("access_tx", "accessTx", "bytes32"),
        ("capsule_digest", "capsuleDigest", "bytes32"),
        ("nonce", "nonce", "uint256"),
        ("deadline", "deadline", "uint64"),
    )


@dataclass(frozen=True)
class CapsuleRegistration(_Typed):
    """The record's author (or the patient's controller) tells a custodian which capsule belongs
    to ``record_id``: write-once, so a reader cannot present another record's capsule under an
    access logged for this one."""

    patient_id: int
    record_id: bytes
    capsule_digest: bytes
    nonce: int
    deadline: int

    PRIMARY: ClassVar[str] = "CapsuleRegistration"
    FIELDS: ClassVar[tuple[tuple[str, str, str], ...]] = (
        ("patient_id", "patientId", "uint64"),
        ("record_id", "recordId", "bytes32"),
        ("capsule_digest", "capsuleDigest", "bytes32"),
        ("nonce", "nonce", "uint256"),
        ("deadline", "deadline", "uint64"),
    )


@dataclass(frozen=True)
class Receipt(_Typed):
    """What a custodian signs after acting: ``subject`` is the grantee (left-padded) for
    delegations and revocations, the record id for erasures and re-encryptions."""

    custodian: str
    action: int
    request_digest: bytes
    patient_id: int
    subject: bytes
    deleted: int
    at: int

    PRIMARY: ClassVar[str] = "Receipt"
    FIELDS: ClassVar[tuple[tuple[str, str, str], ...]] = (
        ("custodian", "custodian", "address"),
        ("action", "action", "uint8"),
        ("request_digest", "requestDigest", "bytes32"),
        ("patient_id", "patientId", "uint64"),
        ("subject", "subject", "bytes32"),
        ("deleted", "deleted", "uint32"),
        ("at", "at", "uint64"),
    )


@dataclass(frozen=True)
class SignedReceipt:
    """A receipt and the custodian's 65-byte signature over it."""

    receipt: Receipt
    signature: bytes

    def verify(
        self,
        chain_id: int,
        medledger: str,
        expected_custodian: str,
        *,
        request_digest: bytes | None = None,
    ) -> None:
        """Raise CustodianError unless the receipt is signed by ``expected_custodian``, names it,
        and (when given) answers ``request_digest``."""
        who = to_checksum_address(expected_custodian)
        if self.receipt.custodian != who:
            raise CustodianError(
                f"receipt names custodian {self.receipt.custodian}, expected {who}",
                custodian=who,
                code="bad_receipt",
            )
        if request_digest is not None and self.receipt.request_digest != request_digest:
            raise CustodianError(
                "receipt answers another request", custodian=who, code="bad_receipt"
            )
        try:
            signer = recover_typed(self.receipt.typed_data(chain_id, medledger), self.signature)
        except InvalidInput as exc:
            raise CustodianError(str(exc), custodian=who, code="bad_receipt") from None
        if signer != who:
            raise CustodianError(
                f"receipt is signed by {signer}, not by custodian {who}",
                custodian=who,
                code="bad_receipt",
            )

    def to_json(self) -> dict[str, Any]:
        return {"receipt": self.receipt.to_json(), "signature": to_hex(self.signature)}

    @classmethod
    def from_json(cls, data: Any) -> SignedReceipt:
        if not isinstance(data, dict):
            raise InvalidInput("signed receipt must be a JSON object")
        receipt = Receipt.from_json(data.get("receipt"))
        return cls(receipt, parse_hex(data.get("signature"), "signature", 65))


# --- signing ---------------------------------------------------------------------------------


def typed_digest(typed: dict[str, Any]) -> bytes:
    """EIP-712 hash of a typed-data document."""
    try:
        signable = encode_typed_data(full_message=typed)
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidInput(f"invalid typed data: {exc}") from None
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


def sign_typed(account_key: bytes, typed: dict[str, Any]) -> bytes:
    """65-byte ``r || s || v`` (v = 27/28, low-s) signature by the secp256k1 ``account_key``."""
    signable = encode_typed_data(full_message=typed)
    return bytes(Account.sign_message(signable, private_key=account_key).signature)


def recover_typed(typed: dict[str, Any], signature: bytes) -> str:
    """The checksummed address that signed ``typed``; InvalidInput for a malformed signature
    (wrong length, high-s, bad v): only the canonical encoding of a signature is accepted."""
    sig = bytes(signature)
    if len(sig) != 65:
        raise InvalidInput(f"signature must be 65 bytes, got {len(sig)}")
    s = int.from_bytes(sig[32:64], "big")
    if not 0 < s <= _SECP256K1_N // 2 or sig[64] not in (27, 28):
        raise InvalidInput("signature is not canonical (needs low s and v of 27 or 28)")
    try:
        signable = encode_typed_data(full_message=typed)
        return str(Account.recover_message(signable, signature=sig))
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidInput(f"signature does not recover: {exc}") from None


# --- helpers for both sides ------------------------------------------------------------------


def new_nonce() -> int:
    """A fresh random 256-bit nonce."""
    return secrets.randbits(256)


def key_digest(public_key: Any) -> bytes:
    """keccak256 of an Umbral public key's compressed bytes (``delegatingKey``/``receivingKey``);
    takes an ``umbral_pre.PublicKey`` or its 33 compressed bytes."""
    raw = public_key if isinstance(public_key, bytes) else public_key.to_compressed_bytes()
    return keccak(bytes(raw))


def capsule_digest(capsule: bytes) -> bytes:
    """keccak256 of a capsule's bytes (``capsuleDigest``)."""
    return keccak(bytes(capsule))


def subject_of_address(address: str) -> bytes:
    """A receipt ``subject`` for a grantee: the address left-padded to 32 bytes."""
    return bytes(12) + bytes.fromhex(to_checksum_address(address)[2:])


def kfrag_context(
    *, chain_id: int, medledger: str, custodian: str, patient_id: int, grantee: str, kind: int
) -> bytes:
    """HPKE context of a sealed kfrag: ``chainId (32) || medledger (20) || custodian (20) ||
    patientId (8) || grantee (20) || kind (1)``, all big-endian."""
    return (
        int(chain_id).to_bytes(32, "big")
        + bytes.fromhex(to_checksum_address(medledger)[2:])
        + bytes.fromhex(to_checksum_address(custodian)[2:])
        + int(patient_id).to_bytes(8, "big")
        + bytes.fromhex(to_checksum_address(grantee)[2:])
        + bytes([kind])
    )


def seal_kfrag(
    encryption_key: bytes,
    kfrag: bytes,
    *,
    chain_id: int,
    medledger: str,
    custodian: str,
    patient_id: int,
    grantee: str,
    kind: int,
) -> bytes:
    """Seal a kfrag's bytes to a custodian's 32-byte X25519 ``encryptionKey`` (from /v1/info)."""
    context = kfrag_context(
        chain_id=chain_id,
        medledger=medledger,
        custodian=custodian,
        patient_id=patient_id,
        grantee=grantee,
        kind=kind,
    )
    return hpke_seal(
        PublicKey.from_x25519_bytes(encryption_key), kfrag, label=KFRAG_LABEL, context=context
    )


def open_kfrag(
    key: PrivateKey,
    sealed: bytes,
    *,
    chain_id: int,
    medledger: str,
    custodian: str,
    patient_id: int,
    grantee: str,
    kind: int,
) -> bytes:
    """Open :func:`seal_kfrag`'s output (DecryptionFailed on any mismatch)."""
    context = kfrag_context(
        chain_id=chain_id,
        medledger=medledger,
        custodian=custodian,
        patient_id=patient_id,
        grantee=grantee,
        kind=kind,
    )
    return hpke_open(key, sealed, label=KFRAG_LABEL, context=context)


__all__ = [
    "ACTION_CAPSULE_REGISTERED",
    "ACTION_DELEGATED",
    "ACTION_ERASED",
    "ACTION_REVOKED",
    "ACTION_SERVED",
    "KIND_EMERGENCY",
    "KIND_GRANT",
    "MAX_DEADLINE_AHEAD",
    "CapsuleRegistration",
    "Delegation",
    "Erasure",
    "Receipt",
    "Reencryption",
    "Revocation",
    "SignedReceipt",
    "capsule_digest",
    "domain",
    "key_digest",
    "kfrag_context",
    "new_nonce",
    "open_kfrag",
    "recover_typed",
    "seal_kfrag",
    "sign_typed",
    "subject_of_address",
    "typed_digest",
]
