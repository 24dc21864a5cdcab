"""EIP-712 typed data for MedLedger's meta-transactions (grantBySig, revokeBySig, addRecordBySig).

Types and domain exactly as docs/architecture.md: domain ``{name: "MedLedger", version: "1",
chainId, verifyingContract}``; ``Grant`` and ``Revoke`` are signed by the patient's current
controller, ``AddRecord`` by the record's author; ``nonce`` is ``nonces(signer)`` on-chain and
``deadline`` a unix time (valid while ``block.timestamp <= deadline``).
"""

from __future__ import annotations

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

TYPES: dict[str, list[dict[str, str]]] = {
    "Grant": [
        {"name": "patientId", "type": "uint64"},
        {"name": "grantee", "type": "address"},
        {"name": "categories", "type": "uint16"},
        {"name": "actions", "type": "uint8"},
        {"name": "purposes", "type": "uint16"},
        {"name": "validFrom", "type": "uint32"},
        {"name": "validUntil", "type": "uint32"},
        {"name": "keyBundle", "type": "bytes32"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ],
    "Revoke": [
        {"name": "patientId", "type": "uint64"},
        {"name": "grantee", "type": "address"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ],
    "SetKeyring": [
        {"name": "patientId", "type": "uint64"},
        {"name": "keyring", "type": "bytes32"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ],
    "AddRecord": [
        {"name": "patientId", "type": "uint64"},
        {"name": "recordId", "type": "bytes32"},
        {"name": "category", "type": "uint8"},
        {"name": "cidCodec", "type": "uint8"},
        {"name": "author", "type": "address"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ],
}


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
    if primary_type not in TYPES:
        raise InvalidInput(f"unknown MedLedger typed-data type {primary_type!r}")
    return {
        "types": {"EIP712Domain": _DOMAIN_TYPE, primary_type: TYPES[primary_type]},
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


def sign_typed(
    account: LocalAccount,
    primary_type: str,
    message: dict[str, Any],
    *,
    chain_id: int,
    verifying_contract: str,
) -> bytes:
    """65-byte ``r || s || v`` signature over the typed data."""
    doc = typed_data(
        primary_type, message, chain_id=chain_id, verifying_contract=verifying_contract
    )
    try:
        signable = encode_typed_data(full_message=doc)
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidInput(f"invalid {primary_type} typed data: {exc}") from exc
    return bytes(account.sign_message(signable).signature)


def sign_grant(
    account: LocalAccount,
    *,
    chain_id: int,
    verifying_contract: str,
    patient_id: int,
    grant: GrantRequest,
    nonce: int,
    deadline: int,
) -> bytes:
    """Controller signature for ``grantBySig``."""
    return sign_typed(
        account,
        "Grant",
        grant_message(patient_id, grant, nonce, deadline),
        chain_id=chain_id,
        verifying_contract=verifying_contract,
    )


def sign_revoke(
    account: LocalAccount,
    *,
    chain_id: int,
    verifying_contract: str,
    patient_id: int,
    grantee: str,
    nonce: int,
    deadline: int,
) -> bytes:
    """Controller signature for ``revokeBySig``."""
    return sign_typed(
        account,
        "Revoke",
        revoke_message(patient_id, grantee, nonce, deadline),
        chain_id=chain_id,
        verifying_contract=verifying_contract,
    )


def sign_set_keyring(
    account: LocalAccount,
    *,
    chain_id: int,
    verifying_contract: str,
    patient_id: int,
    keyring: bytes,
    nonce: int,
    deadline: int,
) -> bytes:
    """Controller signature for ``setKeyringBySig``."""
    return sign_typed(
        account,
        "SetKeyring",
        set_keyring_message(patient_id, keyring, nonce, deadline),
        chain_id=chain_id,
        verifying_contract=verifying_contract,
    )


def sign_add_record(
    account: LocalAccount,
    *,
    chain_id: int,
    verifying_contract: str,
    patient_id: int,
    record_id: bytes,
    category: int,
    cid_codec: int,
    nonce: int,
    deadline: int,
) -> bytes:
    """Author signature for ``addRecordBySig`` (the author is the signing account)."""
    return sign_typed(
        account,
        "AddRecord",
        add_record_message(
            patient_id, record_id, category, cid_codec, account.address, nonce, deadline
        ),
        chain_id=chain_id,
        verifying_contract=verifying_contract,
    )


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
