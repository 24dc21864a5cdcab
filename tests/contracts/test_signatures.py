"""EIP-712 variants v2: epoch-bound, keyed nonces, 30-day deadline cap, current controller only."""

from __future__ import annotations

from typing import Any

import ape

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
    chain_id_of,
    deadline_of,
    domain,
    grant_now,
    keyring_of,
    logs_of,
    mask,
    nonce_key,
    sign,
)


def _grant(w: Any, signer: Any, g: GrantArgs, **over: Any) -> tuple[Any, ...]:
    epoch = over.get("epoch", int(w.signatureEpoch(1)))
    nonce = over.get("nonce", int(w.nonces(signer, nonce_key(g.grantee))))
    deadline = over.get("deadline", deadline_of(w))
    msg = g.message(1, nonce, deadline, epoch)
    msg.update(over.get("msg", {}))
    sig = sign(signer, domain(w, chain_id_of(w)), GRANT_TYPES, msg)
    return (1, g.as_tuple(), epoch, nonce, deadline, sig)


def test_eip712_domain(world: Any, chain: Any) -> None:
    d = world.eip712Domain()
    assert (d.name, d.version, d.chainId, d.verifyingContract) == (
        "MedLedger",
        "2",
        chain.chain_id,
        world.address,
    )


def test_grant_by_sig_relayed(
    world: Any, patient: Any, doctor: Any, stranger: Any, chain: Any
) -> None:
    g = GrantArgs(doctor.address, mask(CAT_LABS), READ, 1, 0, chain.pending_timestamp + DAY)
    key = nonce_key(doctor)
    assert world.nonces(patient, key) == key << 64
    receipt = world.grantBySig(*_grant(world, patient, g), sender=stranger)
    assert logs_of(receipt, world, "ConsentGranted")[0].grantee == doctor.address
    assert world.hasAccess(1, doctor, CAT_LABS, READ)
    assert world.nonces(patient, key) == (key << 64) + 1
    assert world.nonces(patient, 0) == 0  # other keys untouched


def test_grant_by_sig_rejections(
    world: Any, patient: Any, patient2: Any, doctor: Any, stranger: Any, chain: Any
) -> None:
    g = GrantArgs(doctor.address, mask(CAT_LABS), READ, 1, 0, chain.pending_timestamp + DAY)
    with ape.reverts(world.MedLedgerInvalidSignature):  # not the controller
        world.grantBySig(
            *_grant(world, patient2, g, nonce=int(world.nonces(patient, nonce_key(doctor)))),
            sender=stranger,
        )
    with ape.reverts(world.MedLedgerInvalidSignature):  # signed fields differ
        world.grantBySig(*_grant(world, patient, g, msg={"categories": 0x3FF}), sender=stranger)
    with ape.reverts(world.MedLedgerStaleEpoch):
        world.grantBySig(*_grant(world, patient, g, epoch=5), sender=stranger)
    past = int(chain.pending_timestamp) - 1
    with ape.reverts(world.MedLedgerSignatureExpired, deadline=past):
        world.grantBySig(*_grant(world, patient, g, deadline=past), sender=stranger)
    with ape.reverts(world.MedLedgerUnknownPatient, patientId=9):
        args = _grant(world, patient, g)
        world.grantBySig(9, *args[1:], sender=stranger)
    assert not world.hasAccess(1, doctor, CAT_LABS, READ)


def test_revoke_by_sig_keeps_other_signatures(
    world: Any, patient: Any, doctor: Any, lab: Any, stranger: Any, chain: Any
) -> None:
    grant_now(world, patient, doctor, chain)
    g_lab = GrantArgs(lab.address, mask(CAT_LABS), READ, 1, 0, chain.pending_timestamp + DAY)
    pending_lab = _grant(world, patient, g_lab)  # an unrelated relayed grant, signed earlier
    deadline = deadline_of(world)
    nonce = int(world.nonces(patient, nonce_key(doctor)))
    msg = {
        "patientId": 1,
        "grantee": doctor.address,
        "epoch": 0,
        "nonce": nonce,
        "deadline": deadline,
    }
    sig = sign(patient, domain(world, chain_id_of(world)), REVOKE_TYPES, msg)
    world.revokeBySig(1, doctor, 0, nonce, deadline, sig, sender=stranger)
    assert not world.hasAccess(1, doctor, CAT_LABS, READ)
    with ape.reverts():  # replay
        world.revokeBySig(1, doctor, 0, nonce, deadline, sig, sender=stranger)
    world.grantBySig(*pending_lab, sender=stranger)  # relayed revoke does not bump the epoch
    assert world.hasAccess(1, lab, CAT_LABS, READ)


def test_set_keyring_by_sig(world: Any, patient: Any, stranger: Any) -> None:
    deadline = deadline_of(world)
    nonce = int(world.nonces(patient, 0))
    msg = {
        "patientId": 1,
        "expectedKeyring": keyring_of(1),
        "newKeyring": b32("ring-2"),
        "epoch": 0,
        "nonce": nonce,
        "deadline": deadline,
    }
    sig = sign(patient, domain(world, chain_id_of(world)), SET_KEYRING_TYPES, msg)
    with ape.reverts(world.MedLedgerInvalidSignature):
        world.setKeyringBySig(1, keyring_of(1), b32("other"), nonce, deadline, sig, sender=stranger)
    r = world.setKeyringBySig(
        1, keyring_of(1), b32("ring-2"), nonce, deadline, sig, sender=stranger
    )
    assert logs_of(r, world, "KeyringUpdated")[0].keyring == b32("ring-2")
    assert world.nonces(patient, 0) == nonce + 1


def test_old_controller_cannot_sign_after_change(
    world: Any, patient: Any, doctor: Any, fresh_key: Any, stranger: Any, chain: Any
) -> None:
    g = GrantArgs(doctor.address, mask(CAT_LABS), READ, 1, 0, chain.pending_timestamp + DAY)
    signed_before = _grant(world, patient, g)
    by_new_early = _grant(world, fresh_key, g)
    world.proposeController(fresh_key, sender=patient)
    world.acceptController(1, sender=fresh_key)
    with ape.reverts(world.MedLedgerStaleEpoch):
        world.grantBySig(*signed_before, sender=stranger)
    with ape.reverts(world.MedLedgerStaleEpoch):  # signed before it controlled the patient
        world.grantBySig(*by_new_early, sender=stranger)
    world.grantBySig(*_grant(world, fresh_key, g), sender=stranger)
    assert world.hasAccess(1, doctor, CAT_LABS, READ)


def test_add_record_by_sig(
    world: Any, patient: Any, doctor: Any, stranger: Any, chain: Any
) -> None:
    grant_now(world, patient, doctor, chain, actions=WRITE)
    deadline = deadline_of(world)
    nonce = int(world.nonces(doctor, 1))
    msg = {
        "patientId": 1,
        "recordId": b32("r"),
        "category": CAT_LABS,
        "cidCodec": RAW,
        "keyring": keyring_of(1),
        "author": doctor.address,
        "nonce": nonce,
        "deadline": deadline,
    }
    sig = sign(doctor, domain(world, chain_id_of(world)), ADD_RECORD_TYPES, msg)
    with ape.reverts(world.MedLedgerInvalidSignature):
        world.addRecordBySig(
            1,
            b32("r"),
            CAT_LABS,
            RAW,
            keyring_of(1),
            stranger,
            nonce,
            deadline,
            sig,
            sender=stranger,
        )
    world.addRecordBySig(
        1, b32("r"), CAT_LABS, RAW, keyring_of(1), doctor, nonce, deadline, sig, sender=stranger
    )
    assert world.getRecord(1, b32("r")).author == doctor.address
