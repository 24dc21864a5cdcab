"""EIP-712 typed data for MedLedger's meta-transactions (grantBySig, revokeBySig,
revokeAndRekeyBySig, setKeyringBySig, addRecordBySig, registerProvider / setProviderKeyBySig).

Types and domain exactly as docs/architecture.md: domain ``{name: "MedLedger", version: "2",
chainId, verifyingContract}``; ``Grant``, ``Revoke``, ``RevokeAndRekey`` and ``SetKeyring`` are
signed by the patient's current controller and carry the patient's signature ``epoch``,
``AddRecord`` by the record's author, ``ProviderKey`` by the provider. ``nonce`` is a keyed
nonce ``nonces(signer, key)`` (``key << 64 | seq``, see :func:`nonce_key`) and ``deadline`` a
unix time (valid while ``now <= deadline <= now + 30 days``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address

from medledger.chain.types import Bundle, GrantRequest, bytes32
from medledger.errors import InvalidInput

DOMAIN_NAME = "MedLedger"
DOMAIN_VERSION = "2"

#: The contract refuses deadlines further than this from the block time.
MAX_DEADLINE_SECONDS = 30 * 24 * 3600

#: Nonce keys of the SDK's signed operations (each key is an independent sequence on-chain).
KEY_KEYRING = 0
KEY_PROVIDER = 0
KEY_RECORD = 1


def nonce_key(grantee: str) -> int:
    """The nonce key of a consent operation on ``grantee``: the grantee's address as a number,
    so relayed operations for different grantees never block each other."""
    return int(to_checksum_address(grantee), 16)


#: The EIP-712 domain type of every medledger signature (contract and custodian protocol).
DOMAIN_TYPE = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


def named_domain(name: str, version: str, chain_id: int, verifying_contract: str) -> dict[str, Any]:
    """An EIP-712 domain of :data:`DOMAIN_TYPE`."""
    return {
        "name": name,
        "version": version,
        "chainId": int(chain_id),
        "verifyingContract": to_checksum_address(verifying_contract),
    }


def domain(chain_id: int, verifying_contract: str) -> dict[str, Any]:
    """The MedLedger EIP-712 domain on one chain and contract."""
    return named_domain(DOMAIN_NAME, DOMAIN_VERSION, chain_id, verifying_contract)


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
        "types": {"EIP712Domain": DOMAIN_TYPE, **schema.eip712_types(primary_type)},
        "primaryType": primary_type,
        "domain": domain(chain_id, verifying_contract),
        "message": message,
    }


def _patient_signed(
    patient_id: int, fields: dict[str, Any], epoch: int, nonce: int, deadline: int
) -> dict[str, Any]:
    """What every patient-signed struct is: ``patientId`` first, then ``fields``, then the
    patient's signature ``epoch``, the keyed ``nonce`` and the ``deadline``."""
    return {
        "patientId": patient_id,
        **fields,
        "epoch": epoch,
        "nonce": nonce,
        "deadline": deadline,
    }


def _keyring_swap(expected: bytes | str, keyring: bytes | str) -> dict[str, bytes]:
    """The compare-and-swap of the keyring pointer that ``RevokeAndRekey`` and ``SetKeyring``
    carry: the keyring the patient expects on-chain and the new one."""
    return {
        "expectedKeyring": bytes32(expected, "expected keyring"),
        "newKeyring": bytes32(keyring, "keyring"),
    }


def grant_message(
    patient_id: int, grant: GrantRequest, epoch: int, nonce: int, deadline: int
) -> dict[str, Any]:
    """The ``Grant`` struct values."""
    fields = {
        "grantee": to_checksum_address(grant.grantee),
        "categories": grant.categories,
        "actions": grant.actions,
        "purposes": grant.purposes,
        "validFrom": grant.valid_from,
        "validUntil": grant.valid_until,
        "keyBundle": bytes32(grant.key_bundle, "key_bundle"),
    }
    return _patient_signed(patient_id, fields, epoch, nonce, deadline)


def revoke_message(
    patient_id: int, grantee: str, epoch: int, nonce: int, deadline: int
) -> dict[str, Any]:
    """The ``Revoke`` struct values."""
    fields = {"grantee": to_checksum_address(grantee)}
    return _patient_signed(patient_id, fields, epoch, nonce, deadline)


def revoke_and_rekey_message(
    patient_id: int,
    grantee: str,
    expected: bytes | str,
    keyring: bytes | str,
    bundles: Sequence[Bundle],
    epoch: int,
    nonce: int,
    deadline: int,
) -> dict[str, Any]:
    """The ``RevokeAndRekey`` struct values (``bundles`` as an array of ``Bundle`` structs)."""
    fields = {
        "grantee": to_checksum_address(grantee),
        **_keyring_swap(expected, keyring),
        "bundles": [
            {
                "grantee": to_checksum_address(b.grantee),
                "keyBundle": bytes32(b.key_bundle, "key_bundle"),
            }
            for b in bundles
        ],
    }
    return _patient_signed(patient_id, fields, epoch, nonce, deadline)


def set_keyring_message(
    patient_id: int,
    expected: bytes | str,
    keyring: bytes | str,
    epoch: int,
    nonce: int,
    deadline: int,
) -> dict[str, Any]:
    """The ``SetKeyring`` struct values (compare-and-swap from ``expected``)."""
    return _patient_signed(patient_id, _keyring_swap(expected, keyring), epoch, nonce, deadline)


def provider_key_message(
    provider: str, encryption_key: bytes, key_document: bytes, nonce: int, deadline: int
) -> dict[str, Any]:
    """The ``ProviderKey`` struct values (signed by the provider itself)."""
    return {
        "provider": to_checksum_address(provider),
        "encryptionKey": bytes32(encryption_key, "encryption_key"),
        "keyDocument": bytes32(key_document, "key_document"),
        "nonce": nonce,
        "deadline": deadline,
    }


def add_record_message(
    patient_id: int,
    record_id: bytes,
    category: int,
    cid_codec: int,
    keyring: bytes | str,
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
        "keyring": bytes32(keyring, "keyring"),
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
    #: referenced struct types (name -> fields), e.g. ``Bundle`` of ``RevokeAndRekey``
    structs: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()

    def eip712_type(self) -> list[dict[str, str]]:
        return [{"name": name, "type": kind} for name, kind in self.fields]

    def eip712_types(self, primary_type: str) -> dict[str, list[dict[str, str]]]:
        """The primary type and every struct it references."""
        types = {primary_type: self.eip712_type()}
        for name, fields in self.structs:
            types[name] = [{"name": n, "type": k} for n, k in fields]
        return types


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
            ("validFrom", "uint40"),
            ("validUntil", "uint40"),
            ("keyBundle", "bytes32"),
            ("epoch", "uint32"),
            *_NONCE_DEADLINE,
        ),
        grant_message,
    ),
    "Revoke": TypedSchema(
        (("patientId", "uint64"), ("grantee", "address"), ("epoch", "uint32"), *_NONCE_DEADLINE),
        revoke_message,
    ),
    "RevokeAndRekey": TypedSchema(
        (
            ("patientId", "uint64"),
            ("grantee", "address"),
            ("expectedKeyring", "bytes32"),
            ("newKeyring", "bytes32"),
            ("bundles", "Bundle[]"),
            ("epoch", "uint32"),
            *_NONCE_DEADLINE,
        ),
        revoke_and_rekey_message,
        (("Bundle", (("grantee", "address"), ("keyBundle", "bytes32"))),),
    ),
    "SetKeyring": TypedSchema(
        (
            ("patientId", "uint64"),
            ("expectedKeyring", "bytes32"),
            ("newKeyring", "bytes32"),
            ("epoch", "uint32"),
            *_NONCE_DEADLINE,
        ),
        set_keyring_message,
    ),
    "AddRecord": TypedSchema(
        (
            ("patientId", "uint64"),
            ("recordId", "bytes32"),
            ("category", "uint8"),
            ("cidCodec", "uint8"),
            ("keyring", "bytes32"),
            ("author", "address"),
            *_NONCE_DEADLINE,
        ),
        add_record_message,
    ),
    "ProviderKey": TypedSchema(
        (
            ("provider", "address"),
            ("encryptionKey", "bytes32"),
            ("keyDocument", "bytes32"),
            *_NONCE_DEADLINE,
        ),
        provider_key_message,
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
