"""ERC-1271: a real Safe 1.4.1 (npm @safe-global/safe-contracts, build artifacts) controls a
patient and grants and revokes by EIP-712 signature (SignatureChecker -> Safe.isValidSignature
-> CompatibilityFallbackHandler -> checkSignatures of the owner's signature over the
SafeMessage)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ape
import pytest
from eth_abi import encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak
from ethpm_types import ContractType

from conftest import (
    CAT_LABS,
    DAY,
    GRANT_TYPES,
    READ,
    REVOKE_TYPES,
    ZERO32,
    GrantArgs,
    b32,
    chain_id_of,
    deadline_of,
    domain,
    nonce_key,
)
from medledger.governance.safe import safe_artifact, safe_message_hash

ART = (
    Path(__file__).resolve().parents[2] / "node_modules/@safe-global/safe-contracts/build/artifacts"
)
ZERO = "0x0000000000000000000000000000000000000000"

pytestmark = pytest.mark.skipif(
    not ART.exists(), reason="npm @safe-global/safe-contracts@1.4.1 not installed (npm ci)"
)


def _container(rel: str, name: str) -> Any:
    art = safe_artifact(name)  # the SDK's loader of the npm build artifacts
    ct = ContractType.model_validate(
        {
            "contractName": name,
            "abi": art.abi,
            "deploymentBytecode": {"bytecode": art.bytecode},
            "runtimeBytecode": {"bytecode": art.deployed_bytecode},
        }
    )
    return ape.project.chain_manager.contracts.get_container(ct)


@pytest.fixture(scope="module")
def safe_setup(owner: Any, accounts: Any, project: Any) -> Any:
    safe_c = _container("contracts/Safe.sol/Safe.json", "Safe")
    factory_c = _container(
        "contracts/proxies/SafeProxyFactory.sol/SafeProxyFactory.json", "SafeProxyFactory"
    )
    handler_c = _container(
        "contracts/handler/CompatibilityFallbackHandler.sol/CompatibilityFallbackHandler.json",
        "CompatibilityFallbackHandler",
    )
    singleton = owner.deploy(safe_c)
    factory = owner.deploy(factory_c)
    handler = owner.deploy(handler_c)
    signer = accounts.generate_test_account()
    owner.transfer(signer, 10**18)
    init = singleton.setup.encode_input(
        [signer.address], 1, ZERO, b"", handler.address, ZERO, 0, ZERO
    )
    receipt = factory.createProxyWithNonce(singleton, init, 7, sender=owner)
    proxy = next(iter(receipt.decode_logs(factory.ProxyCreation))).proxy
    safe = safe_c.at(proxy)
    ledger = owner.deploy(project.MedLedger, owner)
    return {"safe": safe, "handler": handler_c.at(proxy), "signer": signer, "ledger": ledger}


def _exec(safe: Any, signer: Any, to: Any, data: bytes) -> Any:
    # Signature type 1 ("approved hash"): r = owner, v = 1, valid when the owner sends the tx.
    sig = encode(["uint256", "uint256"], [int(signer.address, 16), 0]) + b"\x01"
    return safe.execTransaction(to, 0, data, 0, 0, 0, 0, ZERO, ZERO, sig, sender=signer)


def _safe_sig(
    s: dict[str, Any], ledger: Any, types: dict[str, Any], message: dict[str, Any]
) -> bytes:
    primary = next(iter(types))
    full = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            **types,
        },
        "primaryType": primary,
        "domain": domain(ledger, chain_id_of(ledger)),
        "message": message,
    }
    m = encode_typed_data(full_message=full)
    digest = keccak(b"\x19" + m.version + m.header + m.body)
    safe_hash = s["handler"].getMessageHash(encode(["bytes32"], [digest]))
    # The SDK's off-chain SafeMessage hash (medledger.governance) is the handler's.
    assert bytes(safe_hash) == safe_message_hash(chain_id_of(ledger), s["safe"].address, digest)
    signed = Account.unsafe_sign_hash(bytes(safe_hash), s["signer"].private_key)
    return signed.r.to_bytes(32, "big") + signed.s.to_bytes(32, "big") + bytes([signed.v])


def test_safe_controller_grants_and_revokes_by_signature(
    safe_setup: Any, owner: Any, doctor: Any, stranger: Any, chain: Any
) -> None:
    from conftest import register_provider

    s = safe_setup
    safe, signer, ledger = s["safe"], s["signer"], s["ledger"]
    register_provider(ledger, owner, doctor, "doctor-key", False, "Dr")
    _exec(safe, signer, ledger, ledger.registerPatient.encode_input(b32("k"), ZERO32, ZERO32))
    pid = ledger.patientOf(safe)
    assert pid == 1

    g = GrantArgs(doctor.address, 1 << CAT_LABS, READ, 1, 0, int(chain.pending_timestamp) + DAY)
    nonce = int(ledger.nonces(safe, nonce_key(doctor)))
    deadline = deadline_of(ledger)
    msg = g.message(pid, nonce, deadline, 0)
    sig = _safe_sig(s, ledger, GRANT_TYPES, msg)
    # The same bytes do not pass as the EOA owner's own signature for another signer's patient.
    ledger.grantBySig(pid, g.as_tuple(), 0, nonce, deadline, sig, sender=stranger)
    assert ledger.hasAccess(pid, doctor, CAT_LABS, READ)

    nonce = int(ledger.nonces(safe, nonce_key(doctor)))
    rmsg = {
        "patientId": pid,
        "grantee": doctor.address,
        "epoch": 0,
        "nonce": nonce,
        "deadline": deadline,
    }
    bad = _safe_sig(s, ledger, REVOKE_TYPES, dict(rmsg, grantee=stranger.address))
    with ape.reverts(ledger.MedLedgerInvalidSignature):
        ledger.revokeBySig(pid, doctor, 0, nonce, deadline, bad, sender=stranger)
    rsig = _safe_sig(s, ledger, REVOKE_TYPES, rmsg)
    ledger.revokeBySig(pid, doctor, 0, nonce, deadline, rsig, sender=stranger)
    assert not ledger.hasAccess(pid, doctor, CAT_LABS, READ)
