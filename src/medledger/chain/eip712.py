"""EIP-712 typed data for MedLedger's meta-transactions (grantBySig, revokeBySig, addRecordBySig).

Types and domain exactly as docs/architecture.md: domain ``{name: "MedLedger", version: "1",
chainId, verifyingContract}``; ``Grant`` and ``Revoke`` are signed by the patient's current
controller, ``AddRecord`` by the record's author; ``nonce`` is ``nonces(signer)`` on-chain and
``deadline`` a unix time (valid while ``block.timestamp <= deadline``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address

from medledger.chain.types import GrantRequest, bytes32
from medledger.errors import InvalidInput

DOMAIN_NAME = "MedLedger"
DOMAIN_VERSION = "1"

_DOMAIN_TYPE = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


def domain(chain_id: int, verifying_contract: str) -> dict[str, Any]:
    """The MedLedger EIP-712 domain on one chain and contract."""
    return {
        "name": DOMAIN_NAME,
        "version": DOMAIN_VERSION,
        "chainId": int(chain_id),
        "verifyingContract": to_checksum_address(verifying_contract),
    }


def typed_data(
    primary_type: str, message: dict[str, Any], *, chain_id: int, verifying_contract: str
) -> dict[str, Any]:
    """Full EIP-712 document (as wallets take for ``eth_signTypedData_v4``)."""
    schema = _schema(primary_type)
    expected = [name for name, _ in schema.fields]
    if sorted(message) != sorted(expected):
        raise InvalidInput(
            f"{primary_type} message has fields {sorted(message)}, expected {sorted(expected)}"
        )
    return {
        "types": {"EIP712Domain": _DOMAIN_TYPE, primary_type: schema.eip712_type()},
        "primaryType": primary_type,
        "domain": domain(chain_id, verifying_contract),
        "message": message,
    }


def grant_message(
    patient_id: int, grant: GrantRequest, nonce: int, deadline: int
) -> dict[str, Any]:
    """The ``Grant`` struct values."""
    return {
        "patientId": patient_id,
        "grantee": to_checksum_address(grant.grantee),
        "categories": grant.categories,
        "actions": grant.actions,
        "purposes": grant.purposes,
        "validFrom": grant.valid_from,
        "validUntil": grant.valid_until,
        "keyBundle": bytes32(grant.key_bundle, "key_bundle"),
        "nonce": nonce,
        "deadline": deadline,
    }


def revoke_message(patient_id: int, grantee: str, nonce: int, deadline: int) -> dict[str, Any]:
    """The ``Revoke`` struct values."""
    return {
        "patientId": patient_id,
        "grantee": to_checksum_address(grantee),
        "nonce": nonce,
        "deadline": deadline,
    }


def set_keyring_message(
    patient_id: int, keyring: bytes | str, nonce: int, deadline: int
) -> dict[str, Any]:
    """The ``SetKeyring`` struct values."""
    return {
        "patientId": patient_id,
        "keyring": bytes32(keyring, "keyring"),
        "nonce": nonce,
        "deadline": deadline,
    }


def add_record_message(
    patient_id: int,
    record_id: bytes,
    category: int,
    cid_codec: int,
    author: str,
    nonce: int,
    deadline: int,
) -> dict[str, Any]:
    """The ``AddRecord`` struct values."""
    return {
        "patientId": patient_id,
        "recordId": bytes32(record_id, "record_id"),
        "category": category,
        "cidCodec": cid_codec,
        "author": to_checksum_address(author),
        "nonce": nonce,
        "deadline": deadline,
    }


@dataclass(frozen=True)
class TypedSchema:
    """One primary type: its struct fields (name, Solidity type) in order, and the function
    that builds its message from SDK values."""

    fields: tuple[tuple[str, str], ...]
    build: Callable[..., dict[str, Any]]

    def eip712_type(self) -> list[dict[str, str]]:
        return [{"name": name, "type": kind} for name, kind in self.fields]


_NONCE_DEADLINE = (("nonce", "uint256"), ("deadline", "uint256"))

#: Every MedLedger meta-transaction type: adding one is one entry here (plus its builder).
SCHEMAS: dict[str, TypedSchema] = {
    "Grant": TypedSchema(
        (
            ("patientId", "uint64"),
            ("grantee", "address"),
            ("categories", "uint16"),
            ("actions", "uint8"),
            ("purposes", "uint16"),
            ("validFrom", "uint32"),
            ("validUntil", "uint32"),
            ("keyBundle", "bytes32"),
            *_NONCE_DEADLINE,
        ),
        grant_message,
    ),
    "Revoke": TypedSchema(
        (("patientId", "uint64"), ("grantee", "address"), *_NONCE_DEADLINE), revoke_message
    ),
    "SetKeyring": TypedSchema(
        (("patientId", "uint64"), ("keyring", "bytes32"), *_NONCE_DEADLINE), set_keyring_message
    ),
    "AddRecord": TypedSchema(
        (
            ("patientId", "uint64"),
            ("recordId", "bytes32"),
            ("category", "uint8"),
            ("cidCodec", "uint8"),
            ("author", "address"),
            *_NONCE_DEADLINE,
        ),
        add_record_message,
    ),
}

#: ``{primary type: EIP-712 field list}`` (the ``types`` entries of a typed-data document).
TYPES: dict[str, list[dict[str, str]]] = {name: s.eip712_type() for name, s in SCHEMAS.items()}


def message(primary_type: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Build the ``primary_type`` message with its builder (e.g. ``grant_message``'s args)."""
    return _schema(primary_type).build(*args, **kwargs)


def _schema(primary_type: str) -> TypedSchema:
    try:
        return SCHEMAS[primary_type]
    except KeyError:
        raise InvalidInput(f"unknown MedLedger typed-data type {primary_type!r}") from None


def sign_typed(
    account: LocalAccount,
    primary_type: str,
    message: dict[str, Any],
    *,
    chain_id: int,
    verifying_contract: str,
) -> bytes:
    """65-byte ``r || s || v`` signature over the typed data (the one signing entry point).

    ``sign_typed(acct, "Grant", grant_message(pid, grant, nonce, deadline), chain_id=...,
    verifying_contract=...)``; the message must have exactly the type's fields.
    """
    doc = typed_data(
        primary_type, message, chain_id=chain_id, verifying_contract=verifying_contract
    )
    try:
        signable = encode_typed_data(full_message=doc)
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidInput(f"invalid {primary_type} typed data: {exc}") from exc
    return bytes(account.sign_message(signable).signature)


def recover_signer(
    primary_type: str,
    message: dict[str, Any],
    signature: bytes,
    *,
    chain_id: int,
    verifying_contract: str,
) -> str:
    """The address that produced ``signature`` over the typed data (for off-chain checks)."""
    doc = typed_data(
        primary_type, message, chain_id=chain_id, verifying_contract=verifying_contract
    )
    return str(Account.recover_message(encode_typed_data(full_message=doc), signature=signature))
