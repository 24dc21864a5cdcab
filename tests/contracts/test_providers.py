"""ProviderRegistry: consortium-governed registration, update, suspension, Ownable2Step."""

from __future__ import annotations

from typing import Any

import ape

from conftest import (
    CAT_LABS,
    NO_CONSENT,
    OK_CONSENT,
    P_TREATMENT,
    PROVIDER_KEY_TYPES,
    RAW,
    READ,
    SUSPENDED,
    ZERO32,
    ZERO_ADDRESS,
    b32,
    chain_id_of,
    deadline_of,
    domain,
    grant_now,
    keyring_of,
    logs_of,
    outcomes,
    register_provider,
    sign,
)


def _reg(ledger: Any, owner: Any, provider: Any, key: bytes, name: str, sender: Any) -> Any:
    """registerProvider with ``provider``'s ProviderKey signature over ``key``."""
    nonce = int(ledger.nonces(provider, 0))
    deadline = deadline_of(ledger)
    msg = {
        "provider": str(provider if isinstance(provider, str) else provider.address),
        "encryptionKey": key,
        "keyDocument": ZERO32,
        "nonce": nonce,
        "deadline": deadline,
    }
    signer = owner if isinstance(provider, str) else provider
    sig = sign(signer, domain(ledger, chain_id_of(ledger)), PROVIDER_KEY_TYPES, msg)
    return ledger.registerProvider(
        provider, key, ZERO32, False, name, nonce, deadline, sig, sender=sender
    )


def test_register_and_get(ledger: Any, owner: Any, doctor: Any) -> None:
    receipt = register_provider(ledger, owner, doctor, "k", True, "St. Mary", b32("doc"))
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
        _reg(ledger, owner, doctor, b32("k"), "x", stranger)
    with ape.reverts(ledger.ProviderInvalidAddress):
        _reg(ledger, owner, ZERO_ADDRESS, b32("k"), "x", owner)
    with ape.reverts(ledger.ProviderInvalidEncryptionKey):
        _reg(ledger, owner, doctor, ZERO32, "x", owner)
    with ape.reverts(ledger.ProviderInvalidName):
        _reg(ledger, owner, doctor, b32("k"), "", owner)
    with ape.reverts(ledger.ProviderInvalidName):
        _reg(ledger, owner, doctor, b32("k"), "n" * 65, owner)
    _reg(ledger, owner, doctor, b32("k"), "n" * 64, owner)
    with ape.reverts(ledger.ProviderAlreadyRegistered, provider=doctor.address):
        _reg(ledger, owner, doctor, b32("k"), "x", owner)
    ledger.registerPatient(b32("p"), ZERO32, ZERO32, sender=patient)
    with ape.reverts(ledger.IdentityAddressInUse, account=patient.address):
        _reg(ledger, owner, patient, b32("k"), "x", owner)


def test_update_keeps_status_and_key(world: Any, owner: Any, doctor: Any, stranger: Any) -> None:
    world.suspendProvider(doctor, sender=owner)
    receipt = world.updateProvider(doctor, True, "Renamed", sender=owner)
    event = logs_of(receipt, world, "ProviderUpdated")[0]
    assert (event.emergencyResponder, event.name) == (True, "Renamed")
    p = world.getProvider(doctor)
    assert (p.status, p.emergencyResponder, p.encryptionKey, p.name) == (
        2,
        True,
        b32("doctor-key"),
        "Renamed",
    )
    with ape.reverts(world.ProviderNotRegistered, provider=stranger.address):
        world.updateProvider(stranger, False, "x", sender=owner)
    with ape.reverts(world.ProviderInvalidEncryptionKey):
        world.setProviderKey(ZERO32, ZERO32, sender=doctor)
    with ape.reverts(world.OwnableUnauthorizedAccount):
        world.updateProvider(doctor, False, "x", sender=stranger)


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
    # (v2: chained as a denied write, outcome SUSPENDED + 8, nothing stored)
    r = world.addRecord(1, b32("r2"), CAT_LABS, RAW, keyring_of(1), sender=doctor)
    assert outcomes(r, world) == [SUSPENDED + 8]
    assert world.getRecord(1, b32("r2")).author == ZERO_ADDRESS

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


def test_suspender_suspends_without_the_owner_but_nothing_else(
    world: Any, owner: Any, stranger: Any, doctor: Any, lab: Any
) -> None:
    # The consortium Safe is the suspender when a timelock owns the registry (issue 19).
    with ape.reverts(world.OwnableUnauthorizedAccount, account=stranger.address):
        world.setSuspenderAccount(stranger, sender=stranger)
    receipt = world.setSuspenderAccount(stranger, sender=owner)
    log = logs_of(receipt, world, "ProviderSuspenderChanged")[0]
    assert (log["previousSuspender"], log["suspender"]) == (ZERO_ADDRESS, stranger.address)
    receipt = world.suspendProvider(doctor, sender=stranger)
    assert logs_of(receipt, world, "ProviderSuspended")[0]["provider"] == doctor.address
    assert world.getProvider(doctor).status == 2
    with ape.reverts(world.OwnableUnauthorizedAccount, account=stranger.address):
        world.reinstateProvider(doctor, sender=stranger)
    with ape.reverts(world.OwnableUnauthorizedAccount, account=stranger.address):
        world.updateProvider(lab, True, "x", sender=stranger)
    with ape.reverts(world.OwnableUnauthorizedAccount, account=stranger.address):
        world.setSuspenderAccount(doctor, sender=stranger)
    world.suspendProvider(lab, sender=owner)  # the owner keeps the power too
    world.reinstateProvider(doctor, sender=owner)
    world.setSuspenderAccount(ZERO_ADDRESS, sender=owner)
    with ape.reverts(world.OwnableUnauthorizedAccount, account=stranger.address):
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
