"""Break-glass: responder-only, bounded by the patient's maximum, always logged and chained."""

from __future__ import annotations

from typing import Any

import ape

from conftest import (
    BG_OPENED,
    CAT_ALLERGIES,
    CAT_CONDITIONS,
    CAT_LABS,
    CAT_MEDICATIONS,
    DAY,
    NO_CONSENT,
    OK_EMERGENCY,
    P_EMERGENCY,
    P_TREATMENT,
    RAW,
    READ,
    SUSPENDED,
    WRITE,
    ZERO32,
    b32,
    chain_head,
    keyring_of,
    logs_of,
    mask,
    outcomes,
)


def _records(world: Any, patient: Any) -> None:
    world.addRecord(1, b32("allergy"), CAT_ALLERGIES, RAW, keyring_of(1), sender=patient)
    world.addRecord(1, b32("meds"), CAT_MEDICATIONS, RAW, keyring_of(1), sender=patient)
    world.addRecord(1, b32("labs"), CAT_LABS, RAW, keyring_of(1), sender=patient)


def test_open_is_logged_and_chained(world: Any, patient: Any, responder: Any) -> None:
    opened_prev_head = world.logHead(1).head
    receipt = world.openBreakGlass(1, 1, 0, b32("justification"), sender=responder)
    opened = logs_of(receipt, world, "BreakGlassOpened")[0]
    expires = receipt.timestamp + DAY  # duration 0 = the patient's maximum (default 24 h)
    assert (opened.patientId, opened.responder, opened.reason) == (1, responder.address, 1)
    assert (opened.expiresAt, opened.justification) == (expires, b32("justification"))
    assert world.breakGlassUntil(1, responder) == expires

    # v2: one event per operation carries the chain step (seq, head); no extra AccessRecorded.
    assert logs_of(receipt, world, "AccessRecorded") == []
    assert opened.categories == 0x0007
    prev_head = bytes(world.logHead(1).head)  # after: recomputed below from the previous head
    head = chain_head(
        bytes(opened_prev_head),
        1,
        opened.seq,
        responder.address,
        b32("justification"),
        P_EMERGENCY,
        BG_OPENED,
        receipt.timestamp,
    )
    assert opened.head == head == prev_head
    assert world.logHead(1).count == opened.seq + 1


def test_emergency_reads_cover_only_emergency_categories_until_expiry(
    world: Any, patient: Any, responder: Any, chain: Any
) -> None:
    _records(world, patient)
    receipt = world.openBreakGlass(1, 0, 3600, ZERO32, sender=responder)
    expires = receipt.timestamp + 3600
    r = world.recordAccess(1, b32("allergy"), P_EMERGENCY, sender=responder)
    assert outcomes(r, world) == [OK_EMERGENCY]
    assert outcomes(world.recordAccess(1, b32("meds"), P_EMERGENCY, sender=responder), world) == [
        OK_EMERGENCY
    ]
    assert outcomes(world.recordAccess(1, b32("labs"), P_EMERGENCY, sender=responder), world) == [
        NO_CONSENT
    ]
    assert world.checkAccess(1, responder, CAT_CONDITIONS, READ, P_EMERGENCY) == OK_EMERGENCY
    assert world.checkAccess(1, responder, CAT_CONDITIONS, WRITE, P_EMERGENCY) == NO_CONSENT
    assert not world.hasAccess(1, responder, CAT_ALLERGIES, READ)  # grants only

    chain.pending_timestamp = expires - 1
    assert outcomes(
        world.recordAccess(1, b32("allergy"), P_EMERGENCY, sender=responder), world
    ) == [OK_EMERGENCY]
    chain.pending_timestamp = expires
    assert outcomes(
        world.recordAccess(1, b32("allergy"), P_EMERGENCY, sender=responder), world
    ) == [NO_CONSENT]


def test_patient_settings_bound_the_window(world: Any, patient: Any, responder: Any) -> None:
    world.setEmergencyAccess(mask(CAT_LABS), 600, False, DAY, ZERO32, sender=patient)
    with ape.reverts(world.BreakGlassDurationTooLong, duration=601, maxDuration=600):
        world.openBreakGlass(1, 0, 601, ZERO32, sender=responder)
    receipt = world.openBreakGlass(1, 0, 0, ZERO32, sender=responder)
    assert world.breakGlassUntil(1, responder) == receipt.timestamp + 600
    world.addRecord(1, b32("labs"), CAT_LABS, RAW, keyring_of(1), sender=patient)
    world.addRecord(1, b32("allergy"), CAT_ALLERGIES, RAW, keyring_of(1), sender=patient)
    assert outcomes(world.recordAccess(1, b32("labs"), P_EMERGENCY, sender=responder), world) == [
        OK_EMERGENCY
    ]
    assert outcomes(
        world.recordAccess(1, b32("allergy"), P_EMERGENCY, sender=responder), world
    ) == [NO_CONSENT]

    with ape.reverts(world.BreakGlassDurationTooLong, duration=DAY + 1, maxDuration=600):
        world.openBreakGlass(1, 0, DAY + 1, ZERO32, sender=responder)


def test_opt_out_and_empty_categories(world: Any, patient: Any, responder: Any) -> None:
    base = world.logHead(1).count
    world.setEmergencyAccess(0x0007, DAY, True, DAY, ZERO32, sender=patient)
    with ape.reverts(world.BreakGlassOptedOut, patientId=1):
        world.openBreakGlass(1, 0, 0, ZERO32, sender=responder)
    world.setEmergencyAccess(0, DAY, False, DAY, ZERO32, sender=patient)
    with ape.reverts(world.BreakGlassOptedOut, patientId=1):
        world.openBreakGlass(1, 0, 0, ZERO32, sender=responder)
    assert world.logHead(1).count == base


def test_only_active_responders(
    world: Any, owner: Any, doctor: Any, responder: Any, stranger: Any, patient: Any
) -> None:
    with ape.reverts(world.BreakGlassNotResponder, caller=doctor.address):
        world.openBreakGlass(1, 0, 0, ZERO32, sender=doctor)
    with ape.reverts(world.BreakGlassNotResponder, caller=stranger.address):
        world.openBreakGlass(1, 0, 0, ZERO32, sender=stranger)
    with ape.reverts(world.BreakGlassNotResponder, caller=patient.address):
        world.openBreakGlass(1, 0, 0, ZERO32, sender=patient)
    with ape.reverts(world.BreakGlassInvalidReason, reason=4):
        world.openBreakGlass(1, 4, 0, ZERO32, sender=responder)
    with ape.reverts(world.MedLedgerUnknownPatient, patientId=77):
        world.openBreakGlass(77, 0, 0, ZERO32, sender=responder)
    world.suspendProvider(responder, sender=owner)
    with ape.reverts(world.BreakGlassNotResponder):
        world.openBreakGlass(1, 0, 0, ZERO32, sender=responder)


def test_suspension_closes_an_open_window(
    world: Any, owner: Any, patient: Any, responder: Any
) -> None:
    _records(world, patient)
    world.openBreakGlass(1, 2, 0, ZERO32, sender=responder)
    world.suspendProvider(responder, sender=owner)
    assert outcomes(
        world.recordAccess(1, b32("allergy"), P_TREATMENT, sender=responder), world
    ) == [SUSPENDED]
    world.reinstateProvider(responder, sender=owner)
    assert outcomes(
        world.recordAccess(1, b32("allergy"), P_TREATMENT, sender=responder), world
    ) == [OK_EMERGENCY]
