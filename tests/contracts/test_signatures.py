"""EIP-712 variants: grantBySig, revokeBySig, addRecordBySig (replay, domain, deadline, signer)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ape
import pytest

from conftest import (
    ADD_RECORD_TYPES,
    CAT_LABS,
    DAY,
    GRANT_TYPES,
    RAW,
    READ,
    REVOKE_TYPES,
    SET_KEYRING_TYPES,
    WRITE,
    GrantArgs,
    b32,
    domain,
    logs_of,
    mask,
    sign,
)


@pytest.fixture
def dom(world: Any, chain: Any) -> dict[str, Any]:
    return domain(world, chain.chain_id)


def _grant(doctor: Any, chain: Any) -> GrantArgs:
    until = chain.pending_timestamp + 30 * DAY
    return GrantArgs(doctor.address, mask(CAT_LABS), READ | WRITE, 1, 0, until, b32("kb"))


def test_eip712_domain(world: Any, chain: Any) -> None:
    d = world.eip712Domain()
    assert (d.name, d.version, d.chainId, d.verifyingContract) == (
        "MedLedger",
        "1",
        chain.chain_id,
        world.address,
    )


def test_grant_by_sig_relayed(
    world: Any, dom: dict[str, Any], patient: Any, doctor: Any, stranger: Any, chain: Any
) -> None:
    g = _grant(doctor, chain)
    deadline = chain.pending_timestamp + 3600
    assert world.nonces(patient) == 0
    sig = sign(patient, dom, GRANT_TYPES, g.message(1, 0, deadline))
    receipt = world.grantBySig(1, g.as_tuple(), deadline, sig, sender=stranger)
    assert logs_of(receipt, world, "ConsentGranted")[0].grantee == doctor.address
    assert world.hasAccess(1, doctor, CAT_LABS, WRITE)
    assert world.nonces(patient) == 1

    # Replay: the nonce was consumed, so the same signature no longer verifies.
    with ape.reverts(world.MedLedgerInvalidSignature):
        world.grantBySig(1, g.as_tuple(), deadline, sig, sender=stranger)


@dataclass(frozen=True)
class Rejection:
    """One way a grantBySig can be wrong; every field not named is the valid choice."""

    signer: str = "patient"
    chain_offset: int = 0  # sign for chainId + offset
    other_contract: bool = False  # sign for another MedLedger deployment
    signed_patient: int = 1
    sent_patient: int = 1
    nonce: int = 0
    tampered: bool = False  # submit other grant fields than were signed
    expired: bool = False
    error: str = "MedLedgerInvalidSignature"


REJECTIONS = {
    "wrong chain": Rejection(chain_offset=1),
    "wrong contract": Rejection(other_contract=True),
    "wrong signer": Rejection(signer="doctor"),
    "signed for patient 2": Rejection(signed_patient=2),
    "tampered grant": Rejection(tampered=True),
    "future nonce": Rejection(nonce=1),
    "expired": Rejection(expired=True, error="MedLedgerSignatureExpired"),
    "unknown patient": Rejection(signed_patient=9, sent_patient=9, error="MedLedgerUnknownPatient"),
}


@pytest.mark.parametrize("case", REJECTIONS.values(), ids=REJECTIONS.keys())
def test_grant_by_sig_rejections(
    case: Rejection,
    world: Any,
    dom: dict[str, Any],
    patient: Any,
    doctor: Any,
    stranger: Any,
    chain: Any,
    owner: Any,
    project: Any,
) -> None:
    g = _grant(doctor, chain)
    deadline = chain.pending_timestamp - 1 if case.expired else chain.pending_timestamp + 3600
    signed_dom = dict(dom, chainId=dom["chainId"] + case.chain_offset)
    if case.other_contract:
        other = owner.deploy(project.MedLedger, owner)
        signed_dom["verifyingContract"] = str(other.address)
    signer = {"patient": patient, "doctor": doctor}[case.signer]
    sent = g
    if case.tampered:
        sent = GrantArgs(
            g.grantee, 0x3FF, g.actions, g.purposes, g.valid_from, g.valid_until, g.key_bundle
        )
    sig = sign(
        signer, signed_dom, GRANT_TYPES, g.message(case.signed_patient, case.nonce, deadline)
    )
    error_args = {
        "MedLedgerSignatureExpired": {"deadline": deadline},
        "MedLedgerUnknownPatient": {"patientId": case.sent_patient},
    }.get(case.error, {})

    with ape.reverts(getattr(world, case.error), **error_args):
        world.grantBySig(case.sent_patient, sent.as_tuple(), deadline, sig, sender=stranger)

    assert world.nonces(patient) == 0
    assert world.getConsent(1, doctor).validUntil == 0


def test_deadline_is_inclusive(
    world: Any, dom: dict[str, Any], patient: Any, doctor: Any, stranger: Any, chain: Any
) -> None:
    g = _grant(doctor, chain)
    deadline = chain.pending_timestamp + 100
    sig = sign(patient, dom, GRANT_TYPES, g.message(1, 0, deadline))
    chain.pending_timestamp = deadline
    world.grantBySig(1, g.as_tuple(), deadline, sig, sender=stranger)
    assert world.hasAccess(1, doctor, CAT_LABS, READ)


def test_revoke_by_sig(
    world: Any, dom: dict[str, Any], patient: Any, doctor: Any, stranger: Any, chain: Any
) -> None:
    g = _grant(doctor, chain)
    world.grant(*g.as_tuple(), sender=patient)
    deadline = chain.pending_timestamp + 3600
    sig = sign(
        patient,
        dom,
        REVOKE_TYPES,
        {"patientId": 1, "grantee": doctor.address, "nonce": 0, "deadline": deadline},
    )
    with ape.reverts(world.MedLedgerInvalidSignature):  # signature is bound to the grantee
        world.revokeBySig(1, stranger, deadline, sig, sender=stranger)
    receipt = world.revokeBySig(1, doctor, deadline, sig, sender=stranger)
    assert logs_of(receipt, world, "ConsentRevoked")[0].grantee == doctor.address
    assert not world.hasAccess(1, doctor, CAT_LABS, READ)
    with ape.reverts(world.MedLedgerInvalidSignature):
        world.revokeBySig(1, doctor, deadline, sig, sender=stranger)
    past = chain.pending_timestamp - 1
    late = sign(
        patient,
        dom,
        REVOKE_TYPES,
        {"patientId": 1, "grantee": doctor.address, "nonce": 1, "deadline": past},
    )
    with ape.reverts(world.MedLedgerSignatureExpired):
        world.revokeBySig(1, doctor, past, late, sender=stranger)


def test_set_keyring_by_sig(
    world: Any, dom: dict[str, Any], patient: Any, stranger: Any, fresh_key: Any, chain: Any
) -> None:
    deadline = chain.pending_timestamp + 3600
    ring = b32("keyring-v2")
    msg = {"patientId": 1, "keyring": ring, "nonce": 0, "deadline": deadline}
    sig = sign(patient, dom, SET_KEYRING_TYPES, msg)
    with ape.reverts(world.MedLedgerInvalidSignature):  # bound to the keyring digest
        world.setKeyringBySig(1, b32("other"), deadline, sig, sender=stranger)
    receipt = world.setKeyringBySig(1, ring, deadline, sig, sender=stranger)
    assert logs_of(receipt, world, "KeyringUpdated")[0].keyring == ring
    assert world.getPatient(1).keyring == ring
    assert world.nonces(patient) == 1
    with ape.reverts(world.MedLedgerInvalidSignature):  # replay
        world.setKeyringBySig(1, ring, deadline, sig, sender=stranger)
    past = chain.pending_timestamp - 1
    late = sign(patient, dom, SET_KEYRING_TYPES, {**msg, "nonce": 1, "deadline": past})
    with ape.reverts(world.MedLedgerSignatureExpired):
        world.setKeyringBySig(1, ring, past, late, sender=stranger)
    # after a rotation the old key's signature has no power
    world.rotateController(fresh_key, sender=patient)
    old = sign(patient, dom, SET_KEYRING_TYPES, {**msg, "nonce": 1})
    with ape.reverts(world.MedLedgerInvalidSignature):
        world.setKeyringBySig(1, ring, deadline, old, sender=stranger)


def test_old_controller_cannot_sign_after_rotation(
    world: Any,
    dom: dict[str, Any],
    patient: Any,
    doctor: Any,
    stranger: Any,
    fresh_key: Any,
    chain: Any,
) -> None:
    g = _grant(doctor, chain)
    deadline = chain.pending_timestamp + 3600
    signed_before = sign(patient, dom, GRANT_TYPES, g.message(1, 0, deadline))
    world.rotateController(fresh_key, sender=patient)
    with ape.reverts(world.MedLedgerInvalidSignature):
        world.grantBySig(1, g.as_tuple(), deadline, signed_before, sender=stranger)
    world.grant(*g.as_tuple(), sender=fresh_key)
    revoke = sign(
        patient,
        dom,
        REVOKE_TYPES,
        {"patientId": 1, "grantee": doctor.address, "nonce": 0, "deadline": deadline},
    )
    with ape.reverts(world.MedLedgerInvalidSignature):
        world.revokeBySig(1, doctor, deadline, revoke, sender=stranger)
    by_new = sign(
        fresh_key,
        dom,
        REVOKE_TYPES,
        {"patientId": 1, "grantee": doctor.address, "nonce": 0, "deadline": deadline},
    )
    world.revokeBySig(1, doctor, deadline, by_new, sender=stranger)
    assert not world.hasAccess(1, doctor, CAT_LABS, READ)


def _record_msg(
    record_id: bytes, author: str, nonce: int, deadline: int, patient_id: int = 1
) -> dict[str, Any]:
    return {
        "patientId": patient_id,
        "recordId": record_id,
        "category": CAT_LABS,
        "cidCodec": RAW,
        "author": author,
        "nonce": nonce,
        "deadline": deadline,
    }


def test_add_record_by_sig(
    world: Any, dom: dict[str, Any], patient: Any, doctor: Any, lab: Any, stranger: Any, chain: Any
) -> None:
    world.grant(*_grant(doctor, chain).as_tuple(), sender=patient)
    deadline = chain.pending_timestamp + 3600
    rid = b32("signed-record")
    sig = sign(doctor, dom, ADD_RECORD_TYPES, _record_msg(rid, doctor.address, 0, deadline))
    receipt = world.addRecordBySig(1, rid, CAT_LABS, RAW, doctor, deadline, sig, sender=patient)
    assert logs_of(receipt, world, "RecordAdded")[0].author == doctor.address
    rec = world.getRecord(rid)
    assert (rec.patientId, rec.author, rec.category) == (1, doctor.address, CAT_LABS)
    assert world.nonces(doctor) == 1

    # The patient may also author by signature, submitted by a relayer.
    rid2 = b32("patient-record")
    sig2 = sign(patient, dom, ADD_RECORD_TYPES, _record_msg(rid2, patient.address, 0, deadline))
    world.addRecordBySig(1, rid2, CAT_LABS, RAW, patient, deadline, sig2, sender=stranger)
    assert world.getRecord(rid2).author == patient.address

    rid3 = b32("r3")
    with ape.reverts(world.MedLedgerInvalidSignature):  # replayed nonce
        world.addRecordBySig(
            1,
            rid3,
            CAT_LABS,
            RAW,
            doctor,
            deadline,
            sign(doctor, dom, ADD_RECORD_TYPES, _record_msg(rid3, doctor.address, 0, deadline)),
            sender=stranger,
        )
    with ape.reverts(world.MedLedgerInvalidSignature):  # signer is not the named author
        world.addRecordBySig(
            1,
            rid3,
            CAT_LABS,
            RAW,
            doctor,
            deadline,
            sign(stranger, dom, ADD_RECORD_TYPES, _record_msg(rid3, doctor.address, 1, deadline)),
            sender=stranger,
        )
    past = chain.pending_timestamp - 1
    with ape.reverts(world.MedLedgerSignatureExpired):
        world.addRecordBySig(
            1,
            rid3,
            CAT_LABS,
            RAW,
            doctor,
            past,
            sign(doctor, dom, ADD_RECORD_TYPES, _record_msg(rid3, doctor.address, 1, past)),
            sender=stranger,
        )
    # A valid signature by an author without write consent is still refused.
    with ape.reverts(world.RecordNotAuthorized, author=lab.address, outcome=16):
        world.addRecordBySig(
            1,
            rid3,
            CAT_LABS,
            RAW,
            lab,
            deadline,
            sign(lab, dom, ADD_RECORD_TYPES, _record_msg(rid3, lab.address, 0, deadline)),
            sender=stranger,
        )
