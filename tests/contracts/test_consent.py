"""ConsentManager: grant, grantBatch, revoke, hasAccess/getConsent, the validity window."""

from __future__ import annotations

from typing import Any

import ape

from conftest import (
    CAT_ALLERGIES,
    CAT_GENOMICS,
    CAT_LABS,
    DAY,
    EXPIRED,
    NO_CONSENT,
    NOT_YET_VALID,
    OK_CONSENT,
    P_RESEARCH,
    P_TREATMENT,
    RAW,
    READ,
    WRITE,
    ZERO32,
    GrantArgs,
    b32,
    keyring_of,
    logs_of,
    mask,
    outcomes,
)


def test_grant_stores_and_emits(world: Any, patient: Any, doctor: Any, chain: Any) -> None:
    until = chain.pending_timestamp + 30 * DAY
    receipt = world.grant(
        doctor,
        mask(CAT_LABS, CAT_ALLERGIES),
        READ,
        mask(P_TREATMENT),
        0,
        until,
        b32("kb"),
        sender=patient,
    )
    event = logs_of(receipt, world, "ConsentGranted")[0]
    assert (event.patientId, event.grantee) == (1, doctor.address)
    assert (event.categories, event.actions, event.purposes) == (
        mask(CAT_LABS, CAT_ALLERGIES),
        READ,
        mask(P_TREATMENT),
    )
    # validFrom 0 means "now": the stored and emitted value is the block time.
    assert (event.validFrom, event.validUntil, event.keyBundle) == (
        receipt.timestamp,
        until,
        b32("kb"),
    )
    c = world.getConsent(1, doctor)
    assert tuple(c) == (
        mask(CAT_LABS, CAT_ALLERGIES),
        READ,
        mask(P_TREATMENT),
        receipt.timestamp,
        until,
    )

    assert world.hasAccess(1, doctor, CAT_LABS, READ)
    assert world.hasAccess(1, doctor, CAT_ALLERGIES, READ)
    assert not world.hasAccess(1, doctor, CAT_GENOMICS, READ)
    assert not world.hasAccess(1, doctor, CAT_LABS, WRITE)
    assert not world.hasAccess(1, doctor, CAT_LABS, 0)
    assert not world.hasAccess(2, doctor, CAT_LABS, READ)  # other patient


def test_grant_validation(world: Any, patient: Any, doctor: Any, stranger: Any, chain: Any) -> None:
    now = chain.pending_timestamp
    until = now + DAY
    with ape.reverts(world.ConsentInvalidCategories, categories=0):
        world.grant(doctor, 0, READ, 1, 0, until, ZERO32, sender=patient)
    with ape.reverts(world.ConsentInvalidCategories, categories=0x0400):
        world.grant(doctor, 0x0400, READ, 1, 0, until, ZERO32, sender=patient)
    with ape.reverts(world.ConsentInvalidActions, actions=0):
        world.grant(doctor, 1, 0, 1, 0, until, ZERO32, sender=patient)
    with ape.reverts(world.ConsentInvalidActions, actions=4):
        world.grant(doctor, 1, 4, 1, 0, until, ZERO32, sender=patient)
    with ape.reverts(world.ConsentInvalidPurposes, purposes=0):
        world.grant(doctor, 1, READ, 0, 0, until, ZERO32, sender=patient)
    with ape.reverts(world.ConsentInvalidPurposes, purposes=0x0100):
        world.grant(doctor, 1, READ, 0x0100, 0, until, ZERO32, sender=patient)
    with ape.reverts(world.ConsentInvalidWindow):
        world.grant(doctor, 1, READ, 1, now + 10 * DAY, now + 10 * DAY, ZERO32, sender=patient)
    with ape.reverts(world.ConsentInvalidWindow):
        world.grant(doctor, 1, READ, 1, now - 10 * DAY, now - DAY, ZERO32, sender=patient)
    with ape.reverts(world.ConsentGranteeNotProvider, grantee=stranger.address):
        world.grant(stranger, 1, READ, 1, 0, until, ZERO32, sender=patient)
    with ape.reverts(world.MedLedgerNotController):
        world.grant(doctor, 1, READ, 1, 0, until, ZERO32, sender=stranger)
    with ape.reverts(world.MedLedgerNotController):
        world.grant(doctor, 1, READ, 1, 0, until, ZERO32, sender=doctor)


def test_window_boundaries_are_exact(world: Any, patient: Any, doctor: Any, chain: Any) -> None:
    """Valid iff validFrom <= block.timestamp < validUntil, checked at the exact seconds."""
    world.addRecord(1, b32("r"), CAT_LABS, RAW, keyring_of(1), sender=patient)
    start = chain.pending_timestamp + 1000
    end = start + DAY
    world.grant(doctor, mask(CAT_LABS), READ, mask(P_TREATMENT), start, end, ZERO32, sender=patient)

    def access_at(t: int) -> int:
        chain.pending_timestamp = t
        receipt = world.recordAccess(1, b32("r"), P_TREATMENT, sender=doctor)
        assert receipt.timestamp == t
        return outcomes(receipt, world)[0]

    assert access_at(start - 1) == NOT_YET_VALID
    assert access_at(start) == OK_CONSENT
    assert access_at(end - 1) == OK_CONSENT
    assert access_at(end) == EXPIRED
    assert access_at(end + DAY) == EXPIRED


def test_concurrent_grants_and_regrant_updates(
    world: Any, patient: Any, patient2: Any, doctor: Any, lab: Any, chain: Any
) -> None:
    until = chain.pending_timestamp + DAY
    world.grant(doctor, mask(CAT_LABS), READ, 1, 0, until, ZERO32, sender=patient)
    world.grant(lab, mask(CAT_GENOMICS), READ | WRITE, 1, 0, until, ZERO32, sender=patient)
    world.grant(doctor, mask(CAT_GENOMICS), READ, 1, 0, until, ZERO32, sender=patient2)
    assert world.hasAccess(1, doctor, CAT_LABS, READ)
    assert not world.hasAccess(1, doctor, CAT_GENOMICS, READ)
    assert world.hasAccess(1, lab, CAT_GENOMICS, WRITE)
    assert world.hasAccess(2, doctor, CAT_GENOMICS, READ)

    # Re-granting replaces the previous terms (here: narrows to genomics, extends the expiry).
    world.grant(
        doctor, mask(CAT_GENOMICS), READ, mask(P_RESEARCH), 0, until + DAY, ZERO32, sender=patient
    )
    c = world.getConsent(1, doctor)
    assert (c.categories, c.purposes, c.validUntil) == (
        mask(CAT_GENOMICS),
        mask(P_RESEARCH),
        until + DAY,
    )
    assert not world.hasAccess(1, doctor, CAT_LABS, READ)
    assert world.hasAccess(1, lab, CAT_GENOMICS, READ)  # other grantee untouched


def test_revoke(world: Any, patient: Any, doctor: Any, lab: Any, chain: Any, stranger: Any) -> None:
    world.addRecord(1, b32("r"), CAT_LABS, RAW, keyring_of(1), sender=patient)
    until = chain.pending_timestamp + DAY
    world.grant(doctor, mask(CAT_LABS), READ, 1, 0, until, ZERO32, sender=patient)
    world.grant(lab, mask(CAT_LABS), READ, 1, 0, until, ZERO32, sender=patient)
    with ape.reverts(world.MedLedgerNotController):
        world.revoke(doctor, sender=stranger)
    receipt = world.revoke(doctor, sender=patient)
    event = logs_of(receipt, world, "ConsentRevoked")[0]
    assert (event.patientId, event.grantee) == (1, doctor.address)
    assert tuple(world.getConsent(1, doctor)) == (0, 0, 0, 0, 0)
    assert not world.hasAccess(1, doctor, CAT_LABS, READ)
    assert world.hasAccess(1, lab, CAT_LABS, READ)
    assert outcomes(world.recordAccess(1, b32("r"), P_TREATMENT, sender=doctor), world) == [
        NO_CONSENT
    ]
    with ape.reverts(world.ConsentNotFound, patientId=1, grantee=doctor.address):
        world.revoke(doctor, sender=patient)


def test_revoke_expired_consent_is_allowed(
    world: Any, patient: Any, doctor: Any, chain: Any
) -> None:
    until = chain.pending_timestamp + 100
    world.grant(doctor, 1, READ, 1, 0, until, ZERO32, sender=patient)
    chain.pending_timestamp = until + 10
    world.revoke(doctor, sender=patient)
    assert world.getConsent(1, doctor).validUntil == 0


def test_grant_batch(
    world: Any, patient: Any, doctor: Any, lab: Any, stranger: Any, chain: Any
) -> None:
    until = chain.pending_timestamp + DAY
    # v2: grantees strictly ascending (no duplicates)
    batch = sorted(
        [
            GrantArgs(doctor.address, mask(CAT_LABS), READ, 1, 0, until).as_tuple(),
            GrantArgs(lab.address, mask(CAT_GENOMICS), WRITE, 1, 0, until, b32("kb")).as_tuple(),
        ],
        key=lambda t: int(t[0], 16),
    )
    receipt = world.grantBatch(batch, sender=patient)
    assert [e.grantee for e in logs_of(receipt, world, "ConsentGranted")] == [t[0] for t in batch]
    assert world.hasAccess(1, doctor, CAT_LABS, READ)
    assert world.hasAccess(1, lab, CAT_GENOMICS, WRITE)

    # All or nothing: one bad entry reverts the batch.
    bad = sorted(
        [
            GrantArgs(doctor.address, mask(CAT_GENOMICS), READ, 1, 0, until).as_tuple(),
            GrantArgs(stranger.address, 1, READ, 1, 0, until).as_tuple(),
        ],
        key=lambda t: int(t[0], 16),
    )
    with ape.reverts(world.ConsentGranteeNotProvider):
        world.grantBatch(bad, sender=patient)
    assert world.getConsent(1, doctor).categories == mask(CAT_LABS)

    too_many = [GrantArgs(doctor.address, 1, READ, 1, 0, until).as_tuple()] * 65  # size first
    with ape.reverts(world.MedLedgerBatchTooLarge, length=65, max=64):
        world.grantBatch(too_many, sender=patient)
    with ape.reverts(world.MedLedgerNotController):
        world.grantBatch(batch, sender=stranger)
