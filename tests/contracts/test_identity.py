"""PatientIdentity: registration, key publication, emergency settings, controller rotation."""

from __future__ import annotations

from typing import Any

import ape

from conftest import (
    CAT_LABS,
    DAY,
    OK_CONSENT,
    P_TREATMENT,
    RAW,
    READ,
    ZERO32,
    ZERO_ADDRESS,
    b32,
    grant_now,
    keyring_of,
    logs_of,
    mask,
    outcomes,
)


def test_register_assigns_sequential_ids_and_publishes_keys(
    ledger: Any, patient: Any, patient2: Any, chain: Any
) -> None:
    assert ledger.patientCount() == 0
    receipt = ledger.registerPatient(
        b32("x25519"), b32("kyber-doc"), b32("keyring"), sender=patient
    )
    second = ledger.registerPatient(b32("x25519-2"), ZERO32, ZERO32, sender=patient2)

    assert ledger.patientOf(patient) == 1
    assert ledger.patientOf(patient2) == 2
    assert ledger.patientCount() == 2
    [event] = logs_of(receipt, ledger, "PatientRegistered")
    assert event.patientId == 1
    assert event.controller == patient.address
    assert event.encryptionKey == b32("x25519")
    assert event.keyDocument == b32("kyber-doc")
    assert event.keyring == b32("keyring")
    assert logs_of(second, ledger, "PatientRegistered")[0].patientId == 2

    p = ledger.getPatient(1)
    assert p.controller == patient.address
    assert p.registeredAt == receipt.timestamp
    assert p.emergencyCategories == 0x0007
    assert p.breakGlassMaxDuration == DAY
    assert p.breakGlassOptOut is False
    assert p.encryptionKey == b32("x25519")
    assert p.keyDocument == b32("kyber-doc")
    assert p.keyring == b32("keyring")
    assert p.emergencyKit == ZERO32


def test_unknown_patient_reads_as_zero(ledger: Any, stranger: Any) -> None:
    assert ledger.patientOf(stranger) == 0
    assert ledger.getPatient(42).controller == ZERO_ADDRESS


def test_register_rejects_reused_address_and_zero_key(
    world: Any, patient: Any, doctor: Any, stranger: Any
) -> None:
    with ape.reverts(world.IdentityAddressInUse, account=patient.address):
        world.registerPatient(b32("k"), ZERO32, ZERO32, sender=patient)
    with ape.reverts(world.IdentityAddressInUse, account=doctor.address):
        world.registerPatient(b32("k"), ZERO32, ZERO32, sender=doctor)
    with ape.reverts(world.IdentityInvalidEncryptionKey):
        world.registerPatient(ZERO32, ZERO32, ZERO32, sender=stranger)


def test_set_keyring_and_encryption_key(world: Any, patient: Any, stranger: Any) -> None:
    receipt = world.setKeyring(b32("keyring-1"), b32("keyring-2"), sender=patient)
    ev = logs_of(receipt, world, "KeyringUpdated")[0]
    assert (ev.previousKeyring, ev.keyring) == (b32("keyring-1"), b32("keyring-2"))
    assert world.getPatient(1).keyring == b32("keyring-2")

    receipt = world.setEncryptionKey(b32("new-x25519"), b32("new-doc"), sender=patient)
    event = logs_of(receipt, world, "EncryptionKeyUpdated")[0]
    assert (event.patientId, event.encryptionKey, event.keyDocument) == (
        1,
        b32("new-x25519"),
        b32("new-doc"),
    )
    p = world.getPatient(1)
    assert (p.encryptionKey, p.keyDocument) == (b32("new-x25519"), b32("new-doc"))

    with ape.reverts(world.IdentityInvalidEncryptionKey):
        world.setEncryptionKey(ZERO32, ZERO32, sender=patient)
    with ape.reverts(world.MedLedgerNotController):
        world.setKeyring(b32("keyring-2"), b32("x"), sender=stranger)
    with ape.reverts(world.MedLedgerNotController):
        world.setEncryptionKey(b32("x"), ZERO32, sender=stranger)


def test_set_emergency_access(world: Any, patient: Any, stranger: Any) -> None:
    receipt = world.setEmergencyAccess(
        mask(0, CAT_LABS), 3600, False, 7200, b32("kit"), sender=patient
    )
    event = logs_of(receipt, world, "EmergencyAccessConfigured")[0]
    assert (event.categories, event.maxDuration, event.optOut, event.emergencyKit) == (
        mask(0, CAT_LABS),
        3600,
        False,
        b32("kit"),
    )
    p = world.getPatient(1)
    assert (p.emergencyCategories, p.breakGlassMaxDuration, p.breakGlassOptOut) == (
        mask(0, CAT_LABS),
        3600,
        False,
    )
    assert (p.emergencyKit, p.breakGlassCooldown) == (b32("kit"), 7200)

    world.setEmergencyAccess(0x0007, DAY, True, DAY, ZERO32, sender=patient)
    assert world.getPatient(1).breakGlassOptOut is True

    with ape.reverts(world.IdentityInvalidEmergencyCategories, categories=0x0400):
        world.setEmergencyAccess(0x0400, 3600, False, DAY, ZERO32, sender=patient)
    with ape.reverts(world.IdentityInvalidBreakGlassDuration, maxDuration=0):
        world.setEmergencyAccess(0x0007, 0, False, DAY, ZERO32, sender=patient)
    with ape.reverts(world.IdentityInvalidBreakGlassDuration, maxDuration=DAY + 1):
        world.setEmergencyAccess(0x0007, DAY + 1, False, DAY, ZERO32, sender=patient)
    with ape.reverts(world.MedLedgerNotController):
        world.setEmergencyAccess(0x0007, 3600, False, DAY, ZERO32, sender=stranger)


def test_rotation_keeps_data_and_strips_old_key(
    world: Any, patient: Any, doctor: Any, lab: Any, fresh_key: Any, chain: Any
) -> None:
    grant_now(world, patient, doctor, chain, purposes=mask(P_TREATMENT))
    world.addRecord(1, b32("rec"), CAT_LABS, RAW, keyring_of(1), sender=patient)
    world.recordAccess(1, b32("rec"), P_TREATMENT, sender=doctor)

    base = world.logHead(1).count
    world.proposeController(fresh_key, sender=patient)
    receipt = world.acceptController(1, sender=fresh_key)
    event = logs_of(receipt, world, "ControllerChanged")[0]
    assert (event.patientId, event.previousController, event.newController) == (
        1,
        patient.address,
        fresh_key.address,
    )
    assert world.patientOf(patient) == 0
    assert world.patientOf(fresh_key) == 1
    assert world.getPatient(1).controller == fresh_key.address

    # Consents, records and the log stay attached to the patient id.
    assert world.hasAccess(1, doctor, CAT_LABS, READ)
    assert world.getRecord(1, b32("rec")).author == patient.address
    assert world.logHead(1).count == base + 1  # the change itself is chained
    assert outcomes(world.recordAccess(1, b32("rec"), P_TREATMENT, sender=doctor), world) == [
        OK_CONSENT
    ]

    # The old key lost all power.
    until = chain.pending_timestamp + DAY
    with ape.reverts(world.MedLedgerNotController):
        world.grant(lab, 1, 1, 1, 0, until, ZERO32, sender=patient)
    with ape.reverts(world.MedLedgerNotController):
        world.revoke(doctor, sender=patient)
    with ape.reverts(world.MedLedgerNotController):
        world.eraseRecord(b32("rec"), sender=patient)
    with ape.reverts(world.MedLedgerNotController):
        world.setKeyring(b32("keyring-2"), b32("x"), sender=patient)
    with ape.reverts(world.MedLedgerNotController):
        world.proposeController(patient, sender=patient)

    # The new key has it.
    world.revoke(doctor, sender=fresh_key)
    assert not world.hasAccess(1, doctor, CAT_LABS, READ)
    # The old key is free again and may register a new patient.
    world.registerPatient(b32("again"), ZERO32, ZERO32, sender=patient)
    assert world.patientOf(patient) == 3


def test_rotation_rejects_unproposed_and_used_addresses(
    world: Any, patient: Any, patient2: Any, doctor: Any
) -> None:
    with ape.reverts(world.IdentityNotProposed, patientId=1, caller=patient2.address):
        world.acceptController(1, sender=patient2)
    world.proposeController(patient2, sender=patient)
    with ape.reverts(world.IdentityAddressInUse, account=patient2.address):
        world.acceptController(1, sender=patient2)
    world.proposeController(doctor, sender=patient)
    with ape.reverts(world.IdentityAddressInUse, account=doctor.address):
        world.acceptController(1, sender=doctor)
    world.proposeController(ZERO_ADDRESS, sender=patient)  # withdrawn
    assert world.getPatient(1).pendingController == ZERO_ADDRESS
