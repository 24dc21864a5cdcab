"""ProviderRegistry: consortium-governed registration, update, suspension, Ownable2Step."""

from __future__ import annotations

from typing import Any

import ape

from conftest import (
    keyring_of,
    CAT_LABS,
    NO_CONSENT,
    OK_CONSENT,
    P_TREATMENT,
    RAW,
    READ,
    SUSPENDED,
    ZERO32,
    ZERO_ADDRESS,
    b32,
    grant_now,
    logs_of,
    outcomes,
)


def test_register_and_get(ledger: Any, owner: Any, doctor: Any) -> None:
    receipt = ledger.registerProvider(doctor, b32("k"), b32("doc"), True, "St. Mary", sender=owner)
    event = logs_of(receipt, ledger, "ProviderRegistered")[0]
    assert (event["provider"], event.encryptionKey, event.keyDocument) == (
        doctor.address,
        b32("k"),
        b32("doc"),
    )
    assert (event.emergencyResponder, event.name) == (True, "St. Mary")
    p = ledger.getProvider(doctor)
    assert (p.status, p.emergencyResponder, p.registeredAt) == (1, True, receipt.timestamp)
    assert (p.encryptionKey, p.keyDocument, p.name) == (b32("k"), b32("doc"), "St. Mary")
    assert ledger.getProvider(ZERO_ADDRESS).status == 0


def test_register_validation(
    ledger: Any, owner: Any, doctor: Any, patient: Any, stranger: Any
) -> None:
    with ape.reverts(ledger.OwnableUnauthorizedAccount, account=stranger.address):
        ledger.registerProvider(doctor, b32("k"), ZERO32, False, "x", sender=stranger)
    with ape.reverts(ledger.ProviderInvalidAddress):
        ledger.registerProvider(ZERO_ADDRESS, b32("k"), ZERO32, False, "x", sender=owner)
    with ape.reverts(ledger.ProviderInvalidEncryptionKey):
        ledger.registerProvider(doctor, ZERO32, ZERO32, False, "x", sender=owner)
    with ape.reverts(ledger.ProviderInvalidName):
        ledger.registerProvider(doctor, b32("k"), ZERO32, False, "", sender=owner)
    with ape.reverts(ledger.ProviderInvalidName):
        ledger.registerProvider(doctor, b32("k"), ZERO32, False, "n" * 65, sender=owner)
    ledger.registerProvider(doctor, b32("k"), ZERO32, False, "n" * 64, sender=owner)
    with ape.reverts(ledger.ProviderAlreadyRegistered, provider=doctor.address):
        ledger.registerProvider(doctor, b32("k"), ZERO32, False, "x", sender=owner)
    ledger.registerPatient(b32("p"), ZERO32, ZERO32, sender=patient)
    with ape.reverts(ledger.IdentityAddressInUse, account=patient.address):
        ledger.registerProvider(patient, b32("k"), ZERO32, False, "x", sender=owner)


def test_update_keeps_status(world: Any, owner: Any, doctor: Any, stranger: Any) -> None:
    world.suspendProvider(doctor, sender=owner)
    receipt = world.updateProvider(doctor, b32("k2"), b32("d2"), True, "Renamed", sender=owner)
    event = logs_of(receipt, world, "ProviderUpdated")[0]
    assert (event.encryptionKey, event.emergencyResponder, event.name) == (
        b32("k2"),
        True,
        "Renamed",
    )
    p = world.getProvider(doctor)
    assert (p.status, p.emergencyResponder, p.encryptionKey, p.keyDocument, p.name) == (
        2,
        True,
        b32("k2"),
        b32("d2"),
        "Renamed",
    )
    with ape.reverts(world.ProviderNotRegistered, provider=stranger.address):
        world.updateProvider(stranger, b32("k"), ZERO32, False, "x", sender=owner)
    with ape.reverts(world.ProviderInvalidEncryptionKey):
        world.updateProvider(doctor, ZERO32, ZERO32, False, "x", sender=owner)
    with ape.reverts(world.OwnableUnauthorizedAccount):
        world.updateProvider(doctor, b32("k"), ZERO32, False, "x", sender=stranger)


def test_suspension_stops_grants_and_reinstatement_restores(
    world: Any, owner: Any, patient: Any, doctor: Any, chain: Any, stranger: Any
) -> None:
    grant_now(world, patient, doctor, chain, purposes=1 << P_TREATMENT)
    world.addRecord(1, b32("r"), CAT_LABS, RAW, keyring_of(1), sender=patient)
    assert world.hasAccess(1, doctor, CAT_LABS, READ)

    with ape.reverts(world.OwnableUnauthorizedAccount):
        world.suspendProvider(doctor, sender=stranger)
    receipt = world.suspendProvider(doctor, sender=owner)
    assert logs_of(receipt, world, "ProviderSuspended")[0]["provider"] == doctor.address
    assert world.getProvider(doctor).status == 2
    assert not world.hasAccess(1, doctor, CAT_LABS, READ)
    assert outcomes(world.recordAccess(1, b32("r"), P_TREATMENT, sender=doctor), world) == [
        SUSPENDED
    ]
    assert world.checkAccess(1, doctor, CAT_LABS, READ, P_TREATMENT) == SUSPENDED
    with ape.reverts(world.ProviderNotActive, provider=doctor.address):
        world.suspendProvider(doctor, sender=owner)
    with ape.reverts(world.ConsentGranteeSuspended, grantee=doctor.address):
        grant_now(world, patient, doctor, chain)
    # Suspended providers' write consent stops as well.
    with ape.reverts(world.RecordNotAuthorized, author=doctor.address, outcome=SUSPENDED):
        world.addRecord(1, b32("r2"), CAT_LABS, RAW, keyring_of(1), sender=doctor)

    receipt = world.reinstateProvider(doctor, sender=owner)
    assert logs_of(receipt, world, "ProviderReinstated")[0]["provider"] == doctor.address
    assert world.hasAccess(1, doctor, CAT_LABS, READ)
    assert outcomes(world.recordAccess(1, b32("r"), P_TREATMENT, sender=doctor), world) == [
        OK_CONSENT
    ]
    with ape.reverts(world.ProviderNotSuspended, provider=doctor.address):
        world.reinstateProvider(doctor, sender=owner)
    with ape.reverts(world.OwnableUnauthorizedAccount):
        world.reinstateProvider(doctor, sender=stranger)


def test_suspended_provider_without_consent_is_no_consent(
    world: Any, owner: Any, patient: Any, lab: Any
) -> None:
    world.addRecord(1, b32("r"), CAT_LABS, RAW, keyring_of(1), sender=patient)
    world.suspendProvider(lab, sender=owner)
    assert outcomes(world.recordAccess(1, b32("r"), P_TREATMENT, sender=lab), world) == [NO_CONSENT]


def test_two_step_ownership(world: Any, owner: Any, stranger: Any, doctor: Any) -> None:
    assert world.owner() == owner.address
    world.transferOwnership(stranger, sender=owner)
    assert world.owner() == owner.address
    assert world.pendingOwner() == stranger.address
    with ape.reverts(world.OwnableUnauthorizedAccount, account=doctor.address):
        world.acceptOwnership(sender=doctor)
    world.acceptOwnership(sender=stranger)
    assert world.owner() == stranger.address
    with ape.reverts(world.OwnableUnauthorizedAccount, account=owner.address):
        world.suspendProvider(doctor, sender=owner)
    world.suspendProvider(doctor, sender=stranger)


def test_renounce_is_disabled(world: Any, owner: Any, stranger: Any) -> None:
    with ape.reverts(world.ProviderRegistryRenounceDisabled):
        world.renounceOwnership(sender=owner)
    with ape.reverts(world.OwnableUnauthorizedAccount):
        world.renounceOwnership(sender=stranger)
    assert world.owner() == owner.address


def test_consortium_owner_is_required(owner: Any, project: Any) -> None:
    with ape.reverts(project.MedLedger.OwnableInvalidOwner):
        owner.deploy(project.MedLedger, ZERO_ADDRESS)
