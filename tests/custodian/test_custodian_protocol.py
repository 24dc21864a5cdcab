"""Custodian protocol v1: EIP-712 digests computed independently from the spec, sign/recover
round trips, canonical signatures only, wire round trips, receipts and sealed kfrags."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
import umbral_pre as umbral
from eth_abi.abi import encode as abi_encode
from eth_account import Account

from medledger.crypto.keys import PrivateKey
from medledger.custodian import protocol as p
from medledger.errors import CustodianError, DecryptionFailed, InvalidInput
from medledger.hashing import keccak

CHAIN_ID = 31337
MEDLEDGER = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

TYPE_STRINGS = {
    "Delegation": "Delegation(uint64 patientId,address grantee,uint8 kind,bytes32 kfragDigest,"
    "bytes32 delegatingKey,bytes32 receivingKey,uint256 nonce,uint64 deadline)",
    "Revocation": "Revocation(uint64 patientId,address grantee,uint256 nonce,uint64 deadline)",
    "Erasure": "Erasure(uint64 patientId,bytes32 recordId,uint256 nonce,uint64 deadline)",
    "Reencryption": "Reencryption(address reader,uint64 patientId,bytes32 recordId,"
    "bytes32 accessTx,bytes32 capsuleDigest,uint256 nonce,uint64 deadline)",
    "CapsuleRegistration": "CapsuleRegistration(uint64 patientId,bytes32 recordId,"
    "bytes32 capsuleDigest,uint256 nonce,uint64 deadline)",
    "Receipt": "Receipt(address custodian,uint8 action,bytes32 requestDigest,uint64 patientId,"
    "bytes32 subject,uint32 deleted,uint64 at)",
}


def _manual_digest(msg: Any) -> bytes:
    """EIP-712 hash written out from the spec text of docs/custodians.md (not via eth_account)."""
    dom_type = keccak(
        b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    )
    separator = keccak(
        abi_encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [dom_type, keccak(b"medledger custodian"), keccak(b"1"), CHAIN_ID, MEDLEDGER],
        )
    )
    kinds = [kind for _, _, kind in msg.FIELDS]
    values = [getattr(msg, attr) for attr, _, _ in msg.FIELDS]
    type_hash = keccak(TYPE_STRINGS[msg.PRIMARY].encode())
    struct = keccak(abi_encode(["bytes32", *kinds], [type_hash, *values]))
    return keccak(b"\x19\x01" + separator + struct)


def _rand32() -> bytes:
    return secrets.token_bytes(32)


def _messages() -> list[Any]:
    addr = Account.create().address
    return [
        p.Delegation(7, addr, p.KIND_GRANT, _rand32(), _rand32(), _rand32(), p.new_nonce(), 10**9),
        p.Revocation(7, addr, p.new_nonce(), 10**9),
        p.Erasure(7, _rand32(), p.new_nonce(), 10**9),
        p.Reencryption(addr, 7, _rand32(), _rand32(), _rand32(), p.new_nonce(), 10**9),
        p.CapsuleRegistration(7, _rand32(), _rand32(), p.new_nonce(), 10**9),
        p.Receipt(addr, p.ACTION_SERVED, _rand32(), 7, _rand32(), 0, 10**9),
    ]


@pytest.mark.parametrize("index", range(6), ids=list(TYPE_STRINGS))
def test_digest_matches_the_spec_and_signatures_round_trip(index: int) -> None:
    msg = _messages()[index]
    assert list(TYPE_STRINGS)[index] == msg.PRIMARY
    assert msg.digest(CHAIN_ID, MEDLEDGER) == _manual_digest(msg)
    acct = Account.create()
    typed = msg.typed_data(CHAIN_ID, MEDLEDGER)
    sig = p.sign_typed(acct.key, typed)
    assert len(sig) == 65
    assert p.recover_typed(typed, sig) == acct.address
    # another chain or another deployment: the same signature recovers someone else
    other = msg.typed_data(CHAIN_ID + 1, MEDLEDGER)
    assert p.recover_typed(other, sig) != acct.address
    other_contract = msg.typed_data(CHAIN_ID, Account.create().address)
    assert p.recover_typed(other_contract, sig) != acct.address
    # the wire form round-trips to an equal message with the same digest
    back = type(msg).from_json(msg.to_json())
    assert back == msg
    assert back.digest(CHAIN_ID, MEDLEDGER) == msg.digest(CHAIN_ID, MEDLEDGER)


def test_tampered_field_changes_the_signer() -> None:
    acct = Account.create()
    req = _messages()[3]
    sig = p.sign_typed(acct.key, req.typed_data(CHAIN_ID, MEDLEDGER))
    wire = req.to_json()
    wire["recordId"] = "0x" + _rand32().hex()
    moved = p.Reencryption.from_json(wire)
    assert p.recover_typed(moved.typed_data(CHAIN_ID, MEDLEDGER), sig) != acct.address


def test_only_canonical_signatures_are_accepted() -> None:
    acct = Account.create()
    typed = _messages()[1].typed_data(CHAIN_ID, MEDLEDGER)
    sig = p.sign_typed(acct.key, typed)
    r, s, v = sig[:32], int.from_bytes(sig[32:64], "big"), sig[64]
    # the malleable twin (N - s, flipped v) is a valid ECDSA signature of the same key ...
    twin = r + (_N - s).to_bytes(32, "big") + bytes([55 - v])
    assert Account._recover_hash(p.typed_digest(typed), signature=twin) == acct.address
    # ... and is refused: one request has exactly one signature
    with pytest.raises(InvalidInput, match="canonical"):
        p.recover_typed(typed, twin)
    with pytest.raises(InvalidInput, match="65 bytes"):
        p.recover_typed(typed, sig[:64])


@pytest.mark.parametrize(
    "change",
    [
        {"extra": 1},
        {"patientId": -1},
        {"patientId": 2**64},
        {"grantee": "0x1234"},
        {"nonce": "0xzz"},
        {"patientId": True},
    ],
)
def test_malformed_wire_messages_are_invalid_input(change: dict[str, Any]) -> None:
    wire = _messages()[1].to_json()
    wire.update(change)
    with pytest.raises(InvalidInput):
        p.Revocation.from_json(wire)


def test_missing_field_is_invalid_input() -> None:
    wire = _messages()[2].to_json()
    del wire["recordId"]
    with pytest.raises(InvalidInput, match="missing"):
        p.Erasure.from_json(wire)


def test_signed_receipt_verify() -> None:
    custodian = Account.create()
    request_digest = _rand32()
    receipt = p.Receipt(custodian.address, p.ACTION_ERASED, request_digest, 3, _rand32(), 2, 1000)
    signed = p.SignedReceipt(
        receipt, p.sign_typed(custodian.key, receipt.typed_data(CHAIN_ID, MEDLEDGER))
    )
    signed.verify(CHAIN_ID, MEDLEDGER, custodian.address, request_digest=request_digest)
    assert p.SignedReceipt.from_json(signed.to_json()) == signed
    with pytest.raises(CustodianError, match="names custodian"):
        signed.verify(CHAIN_ID, MEDLEDGER, Account.create().address)
    with pytest.raises(CustodianError, match="another request"):
        signed.verify(CHAIN_ID, MEDLEDGER, custodian.address, request_digest=_rand32())
    with pytest.raises(CustodianError, match="signed by"):
        signed.verify(CHAIN_ID + 1, MEDLEDGER, custodian.address)
    # a receipt naming the custodian but signed by someone else
    forged = p.SignedReceipt(
        receipt, p.sign_typed(Account.create().key, receipt.typed_data(CHAIN_ID, MEDLEDGER))
    )
    with pytest.raises(CustodianError) as info:
        forged.verify(CHAIN_ID, MEDLEDGER, custodian.address)
    assert info.value.code == "bad_receipt"


def test_kfrag_sealing_is_bound_to_its_context() -> None:
    custodian_key = PrivateKey.generate()
    custodian, grantee = Account.create().address, Account.create().address
    sk, rsk = umbral.SecretKey.random(), umbral.SecretKey.random()
    signer = umbral.Signer(umbral.SecretKey.random())
    kfrag = umbral.generate_kfrags(
        delegating_sk=sk,
        receiving_pk=rsk.public_key(),
        signer=signer,
        threshold=2,
        shares=3,
        sign_delegating_key=True,
        sign_receiving_key=True,
    )[0]
    ctx: dict[str, Any] = {
        "chain_id": CHAIN_ID,
        "medledger": MEDLEDGER,
        "custodian": custodian,
        "patient_id": 5,
        "grantee": grantee,
        "kind": p.KIND_GRANT,
    }
    sealed = p.seal_kfrag(custodian_key.x25519_public_bytes(), bytes(kfrag), **ctx)
    assert bytes(kfrag) not in sealed
    opened = p.open_kfrag(custodian_key, sealed, **ctx)
    assert opened == bytes(kfrag)
    umbral.KeyFrag.from_bytes(opened).verify(
        signer.verifying_key(), sk.public_key(), rsk.public_key()
    )
    for change in (
        {"grantee": Account.create().address},
        {"custodian": Account.create().address},
        {"kind": p.KIND_EMERGENCY},
        {"patient_id": 6},
    ):
        with pytest.raises(DecryptionFailed):
            p.open_kfrag(custodian_key, sealed, **{**ctx, **change})
    assert p.key_digest(sk.public_key()) == keccak(sk.public_key().to_compressed_bytes())
    assert p.subject_of_address(grantee)[12:].hex() == grantee[2:].lower()
