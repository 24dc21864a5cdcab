"""Shared fixtures for the Solidity suite tests (ape's pytest plugin: accounts, chain, project).

Deployments are module-scoped; ape isolates every test with a chain snapshot, so each test starts
from the freshly deployed (and, for ``world``, populated) state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from eth_account import Account
from eth_utils import keccak

CAT_ALLERGIES, CAT_MEDICATIONS, CAT_CONDITIONS, CAT_LABS, CAT_IMAGING = 0, 1, 2, 3, 4
CAT_NOTES, CAT_VITALS, CAT_IMMUNIZATIONS, CAT_PROCEDURES, CAT_GENOMICS = 5, 6, 7, 8, 9
P_TREATMENT, P_EMERGENCY, P_PAYMENT, P_OPERATIONS, P_RESEARCH = 0, 1, 2, 3, 4
READ, WRITE = 1, 2
RAW, DAG_PB = 0x55, 0x70
OK_CONSENT, OK_PATIENT, OK_EMERGENCY, BG_OPENED = 0, 1, 2, 3
NO_CONSENT, EXPIRED, NOT_YET_VALID, NO_CATEGORY, NO_PURPOSE, NO_ACTION, SUSPENDED, ERASED = range(
    16, 24
)
DAY = 86_400
ZERO32 = b"\x00" * 32
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


def mask(*codes: int) -> int:
    """Bit mask with ``1 << code`` for every code."""
    out = 0
    for c in codes:
        out |= 1 << c
    return out


def b32(label: str) -> bytes:
    """A deterministic 32-byte value (stands in for keys, CID digests, record ids)."""
    return keccak(text=label)


def logs_of(receipt: Any, contract: Any, event: str) -> list[Any]:
    """Decoded ``event`` logs of ``contract`` in ``receipt``."""
    return list(receipt.decode_logs(getattr(contract, event)))


def access_entries(receipt: Any, ledger: Any) -> list[Any]:
    return logs_of(receipt, ledger, "AccessRecorded")


def chain_head(
    head: bytes,
    patient_id: int,
    seq: int,
    accessor: str,
    record_id: bytes,
    purpose: int,
    outcome: int,
    timestamp: int,
) -> bytes:
    """The access-log hash chain step of docs/architecture.md, recomputed off-chain."""
    from eth_abi import encode

    data = encode(
        ["bytes32", "uint64", "uint64", "address", "bytes32", "uint8", "uint8", "uint40"],
        [
            head.ljust(32, b"\x00"),
            patient_id,
            seq,
            accessor,
            record_id,
            purpose,
            outcome,
            timestamp,
        ],
    )
    return keccak(data)[:24]


# --- EIP-712 -------------------------------------------------------------------------------------

GRANT_TYPES = {
    "Grant": [
        {"name": "patientId", "type": "uint64"},
        {"name": "grantee", "type": "address"},
        {"name": "categories", "type": "uint16"},
        {"name": "actions", "type": "uint8"},
        {"name": "purposes", "type": "uint16"},
        {"name": "validFrom", "type": "uint40"},
        {"name": "validUntil", "type": "uint40"},
        {"name": "keyBundle", "type": "bytes32"},
        {"name": "epoch", "type": "uint32"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ]
}
REVOKE_TYPES = {
    "Revoke": [
        {"name": "patientId", "type": "uint64"},
        {"name": "grantee", "type": "address"},
        {"name": "epoch", "type": "uint32"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ]
}
BUNDLE_TYPE = [
    {"name": "grantee", "type": "address"},
    {"name": "keyBundle", "type": "bytes32"},
]
REVOKE_AND_REKEY_TYPES = {
    "RevokeAndRekey": [
        {"name": "patientId", "type": "uint64"},
        {"name": "grantee", "type": "address"},
        {"name": "expectedKeyring", "type": "bytes32"},
        {"name": "newKeyring", "type": "bytes32"},
        {"name": "bundles", "type": "Bundle[]"},
        {"name": "epoch", "type": "uint32"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ],
    "Bundle": BUNDLE_TYPE,
}
SET_KEYRING_TYPES = {
    "SetKeyring": [
        {"name": "patientId", "type": "uint64"},
        {"name": "expectedKeyring", "type": "bytes32"},
        {"name": "newKeyring", "type": "bytes32"},
        {"name": "epoch", "type": "uint32"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ]
}
ADD_RECORD_TYPES = {
    "AddRecord": [
        {"name": "patientId", "type": "uint64"},
        {"name": "recordId", "type": "bytes32"},
        {"name": "category", "type": "uint8"},
        {"name": "cidCodec", "type": "uint8"},
        {"name": "keyring", "type": "bytes32"},
        {"name": "author", "type": "address"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ]
}
PROVIDER_KEY_TYPES = {
    "ProviderKey": [
        {"name": "provider", "type": "address"},
        {"name": "encryptionKey", "type": "bytes32"},
        {"name": "keyDocument", "type": "bytes32"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ]
}


def nonce_key(address: Any) -> int:
    """The SDK's nonce key for consent operations on ``address``: the grantee address."""
    return int(str(address), 16)


def domain(ledger: Any, chain_id: int) -> dict[str, Any]:
    return {
        "name": "MedLedger",
        "version": "2",
        "chainId": chain_id,
        "verifyingContract": str(ledger.address),
    }


def sign(
    account: Any, dom: dict[str, Any], types: dict[str, Any], message: dict[str, Any]
) -> bytes:
    """EIP-712 signature of ``message`` by an ape test account (65 bytes r || s || v)."""
    signed = Account.sign_typed_data(account.private_key, dom, types, message)
    return bytes(signed.signature)


@dataclass
class GrantArgs:
    """A grant request; ``as_tuple`` is the ABI ``GrantRequest`` tuple."""

    grantee: str
    categories: int
    actions: int
    purposes: int
    valid_from: int
    valid_until: int
    key_bundle: bytes = ZERO32

    def as_tuple(self) -> tuple[Any, ...]:
        return (
            self.grantee,
            self.categories,
            self.actions,
            self.purposes,
            self.valid_from,
            self.valid_until,
            self.key_bundle,
        )

    def message(self, patient_id: int, nonce: int, deadline: int, epoch: int = 0) -> dict[str, Any]:
        return {
            "patientId": patient_id,
            "grantee": self.grantee,
            "categories": self.categories,
            "actions": self.actions,
            "purposes": self.purposes,
            "validFrom": self.valid_from,
            "validUntil": self.valid_until,
            "keyBundle": self.key_bundle,
            "epoch": epoch,
            "nonce": nonce,
            "deadline": deadline,
        }


def chain_id_of(ledger: Any) -> int:
    return int(ledger.provider.chain_id)


def deadline_of(ledger: Any, seconds: int = 3_600) -> int:
    return int(ledger.provider.web3.eth.get_block("latest")["timestamp"]) + seconds


def register_provider(
    ledger: Any,
    owner: Any,
    provider: Any,
    key_label: str,
    responder: bool = False,
    name: str = "Provider",
    key_doc: bytes = ZERO32,
) -> Any:
    """Registers ``provider`` (owner transaction) with the provider's own ProviderKey signature."""
    key = b32(key_label)
    nonce = int(ledger.nonces(provider, 0))
    deadline = deadline_of(ledger)
    msg = {
        "provider": str(provider.address),
        "encryptionKey": key,
        "keyDocument": key_doc,
        "nonce": nonce,
        "deadline": deadline,
    }
    sig = sign(provider, domain(ledger, chain_id_of(ledger)), PROVIDER_KEY_TYPES, msg)
    return ledger.registerProvider(
        provider, key, key_doc, responder, name, nonce, deadline, sig, sender=owner
    )


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def owner(accounts: Any) -> Any:
    return accounts[0]


@pytest.fixture(scope="session")
def patient(accounts: Any) -> Any:
    return accounts[1]


@pytest.fixture(scope="session")
def patient2(accounts: Any) -> Any:
    return accounts[2]


@pytest.fixture(scope="session")
def doctor(accounts: Any) -> Any:
    return accounts[3]


@pytest.fixture(scope="session")
def lab(accounts: Any) -> Any:
    return accounts[4]


@pytest.fixture(scope="session")
def responder(accounts: Any) -> Any:
    return accounts[5]


@pytest.fixture(scope="session")
def guardians(accounts: Any) -> list[Any]:
    return [accounts[6], accounts[7], accounts[8]]


@pytest.fixture(scope="session")
def stranger(accounts: Any) -> Any:
    return accounts[9]


@pytest.fixture(scope="module")
def fresh_key(accounts: Any, owner: Any) -> Any:
    """An extra funded account outside the named roles (a rotation or recovery target)."""
    account = accounts.generate_test_account()
    owner.transfer(account, 10**18)
    return account


@pytest.fixture(scope="module")
def ledger(owner: Any, project: Any) -> Any:
    """A bare MedLedger, consortium owner = ``owner``."""
    return owner.deploy(project.MedLedger, owner)


@pytest.fixture(scope="module")
def anchors(owner: Any, project: Any) -> Any:
    return owner.deploy(project.AnchorRegistry)


@pytest.fixture(scope="module")
def world(
    project: Any, owner: Any, patient: Any, patient2: Any, doctor: Any, lab: Any, responder: Any
) -> Any:
    """A second MedLedger with two patients (ids 1 and 2), providers doctor and lab, and the
    emergency responder."""
    ledger = owner.deploy(project.MedLedger, owner)
    ledger.registerPatient(b32("patient-x25519"), ZERO32, b32("keyring-1"), sender=patient)
    ledger.registerPatient(b32("patient2-x25519"), ZERO32, ZERO32, sender=patient2)
    register_provider(ledger, owner, doctor, "doctor-key", False, "Dr. Who")
    register_provider(ledger, owner, lab, "lab-key", False, "Lab")
    register_provider(ledger, owner, responder, "ems-key", True, "EMS")
    return ledger


@pytest.fixture(scope="module", autouse=True)
def _deployments(
    ledger: Any, world: Any, anchors: Any, fresh_key: Any, stranger: Any, guardians: Any
) -> None:
    """Create every module-scoped fixture before ape's per-test snapshot (cheap isolation)."""


def outcomes(receipt: Any, ledger: Any) -> list[int]:
    """Outcome codes of the ``AccessRecorded`` entries in ``receipt``."""
    return [int(e.outcome) for e in access_entries(receipt, ledger)]


def grant_now(
    ledger: Any,
    patient: Any,
    grantee: Any,
    chain: Any,
    categories: int = 0x3FF,
    actions: int = 3,
    purposes: int = 1,
    days: int = 30,
) -> Any:
    """Grant valid from now for ``days`` days; returns the receipt."""
    until = int(chain.pending_timestamp) + days * DAY
    return ledger.grant(
        grantee, categories, actions, purposes, 0, until, b32("bundle"), sender=patient
    )


WORLD_KEYRINGS = {1: b32("keyring-1"), 2: ZERO32}


def keyring_of(patient_id: int) -> bytes:
    """The keyring digest registered for a ``world`` patient (what addRecord must name)."""
    return WORLD_KEYRINGS[patient_id]
