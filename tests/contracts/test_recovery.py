"""GuardianRecovery: M-of-N approval, delay from the threshold, cancellation, execution."""

from __future__ import annotations

from typing import Any

import ape
import pytest

from conftest import CAT_LABS, DAY, READ, ZERO32, ZERO_ADDRESS, b32, grant_now, logs_of

HOUR = 3600


@pytest.fixture
def guarded(world: Any, patient: Any, guardians: list[Any]) -> Any:
    """Patient 1 with a 2-of-3 guardian set and a one-day delay."""
    world.setGuardians(guardians, 2, DAY, ZERO32, sender=patient)
    return world


def test_set_guardians_stores_and_emits(world: Any, patient: Any, guardians: list[Any]) -> None:
    receipt = world.setGuardians(guardians, 2, DAY, b32("shares"), sender=patient)
    event = logs_of(receipt, world, "GuardiansSet")[0]
    assert event.patientId == 1
    assert list(event.guardians) == [g.address for g in guardians]
    assert (event.threshold, event.delay, event.shares) == (2, DAY, b32("shares"))
    got, threshold, delay, shares = world.getGuardians(1)
    assert list(got) == [g.address for g in guardians]
    assert (threshold, delay, shares) == (2, DAY, b32("shares"))
    # a new guardian set replaces the shares digest with its own (zero: no shares)
    world.setGuardians(guardians[:2], 1, DAY, ZERO32, sender=patient)
    assert world.getGuardians(1)[3] == ZERO32


def test_post_recovery_share(
    guarded: Any, patient: Any, guardians: list[Any], fresh_key: Any, stranger: Any
) -> None:
    world = guarded
    with ape.reverts(world.RecoveryNothingPending):  # no round: nobody to hand a share to
        world.postRecoveryShare(1, b32("s0"), sender=guardians[0])
    world.approveRecovery(1, fresh_key, sender=guardians[0])
    with ape.reverts(world.RecoveryNotGuardian, caller=stranger.address):
        world.postRecoveryShare(1, b32("s0"), sender=stranger)
    with ape.reverts(world.RecoveryNotGuardian, caller=patient.address):
        world.postRecoveryShare(1, b32("s0"), sender=patient)
    # a guardian that has not approved may still hand over its share (approval is separate)
    receipt = world.postRecoveryShare(1, b32("s1"), sender=guardians[1])
    event = logs_of(receipt, world, "RecoveryShareSent")[0]
    assert (event.patientId, event.guardian, event.round, event.sealedShare) == (
        1,
        guardians[1].address,
        world.getRecovery(1)[0],
        b32("s1"),
    )


def test_set_guardians_validation(
    world: Any, patient: Any, guardians: list[Any], stranger: Any, accounts: Any
) -> None:
    g = [x.address for x in guardians]
    with ape.reverts(world.RecoveryInvalidGuardians):
        world.setGuardians([], 1, DAY, ZERO32, sender=patient)
    eleven = [accounts.generate_test_account().address for _ in range(11)]
    with ape.reverts(world.RecoveryInvalidGuardians):
        world.setGuardians(eleven, 1, DAY, ZERO32, sender=patient)
    world.setGuardians(eleven[:10], 10, DAY, ZERO32, sender=patient)  # ten is the maximum
    with ape.reverts(world.RecoveryInvalidGuardians):
        world.setGuardians([g[0], ZERO_ADDRESS], 1, DAY, ZERO32, sender=patient)
    with ape.reverts(world.RecoveryInvalidGuardians):
        world.setGuardians([g[0], g[1], g[0]], 1, DAY, ZERO32, sender=patient)
    with ape.reverts(world.RecoveryInvalidGuardians):
        world.setGuardians([g[0], patient.address], 1, DAY, ZERO32, sender=patient)
    with ape.reverts(world.RecoveryInvalidThreshold, threshold=0, guardians=3):
        world.setGuardians(g, 0, DAY, ZERO32, sender=patient)
    with ape.reverts(world.RecoveryInvalidThreshold, threshold=4, guardians=3):
        world.setGuardians(g, 4, DAY, ZERO32, sender=patient)
    with ape.reverts(world.MedLedgerNotController):
        world.setGuardians(g, 1, DAY, ZERO32, sender=stranger)


def test_recovery_runs_after_delay_from_threshold(
    guarded: Any,
    patient: Any,
    doctor: Any,
    guardians: list[Any],
    fresh_key: Any,
    chain: Any,
) -> None:
    world = guarded
    grant_now(world, patient, doctor, chain, days=30)
    r1 = world.approveRecovery(1, fresh_key, sender=guardians[0])
    approved = logs_of(r1, world, "RecoveryApproved")[0]
    assert (approved.guardian, approved.candidate, approved.approvals) == (
        guardians[0].address,
        fresh_key.address,
        1,
    )
    assert not logs_of(r1, world, "RecoveryScheduled")
    rec = world.getRecovery(1)
    assert (rec.candidate, rec.startedAt, rec.executableAt) == (ZERO_ADDRESS, r1.timestamp, 0)
    assert rec.expiresAt == r1.timestamp + 30 * DAY

    # Waiting before the threshold does not count towards the delay.
    chain.pending_timestamp += 2 * DAY
    r2 = world.approveRecovery(1, fresh_key, sender=guardians[1])
    executable_at = r2.timestamp + DAY
    scheduled = logs_of(r2, world, "RecoveryScheduled")[0]
    assert (scheduled.candidate, scheduled.executableAt) == (fresh_key.address, executable_at)
    assert scheduled.expiresAt == executable_at + 30 * DAY

    chain.pending_timestamp = executable_at - 1
    with ape.reverts(world.RecoveryDelayNotElapsed, executableAt=executable_at):
        world.acceptRecovery(1, sender=fresh_key)

    chain.pending_timestamp = executable_at
    with ape.reverts(world.RecoveryNotScheduled):  # only the candidate itself may accept
        world.acceptRecovery(1, sender=guardians[2])
    receipt = world.acceptRecovery(1, sender=fresh_key)
    rotated = logs_of(receipt, world, "ControllerChanged")[0]
    assert (rotated.previousController, rotated.newController) == (
        patient.address,
        fresh_key.address,
    )
    assert world.patientOf(fresh_key) == 1
    assert world.patientOf(patient) == 0
    assert world.getRecovery(1).candidate == ZERO_ADDRESS
    assert world.hasAccess(1, doctor, CAT_LABS, READ)  # consent survived
    with ape.reverts(world.MedLedgerNotController):
        world.revoke(doctor, sender=patient)
    world.revoke(doctor, sender=fresh_key)


def test_scheduled_recovery_expires(
    guarded: Any, guardians: list[Any], fresh_key: Any, chain: Any
) -> None:
    world = guarded
    world.approveRecovery(1, fresh_key, sender=guardians[0])
    r = world.approveRecovery(1, fresh_key, sender=guardians[1])
    expires = r.timestamp + DAY + 30 * DAY
    chain.pending_timestamp = expires
    with ape.reverts(world.RecoveryExpired, expiresAt=expires):
        world.acceptRecovery(1, sender=fresh_key)


def test_approval_errors(
    guarded: Any,
    patient: Any,
    patient2: Any,
    guardians: list[Any],
    fresh_key: Any,
    stranger: Any,
) -> None:
    world = guarded
    with ape.reverts(world.RecoveryNotGuardian, caller=stranger.address):
        world.approveRecovery(1, fresh_key, sender=stranger)
    with ape.reverts(world.RecoveryNotGuardian):
        world.approveRecovery(2, fresh_key, sender=guardians[0])  # patient 2 has no guardians
    with ape.reverts(world.IdentityInvalidController):
        world.approveRecovery(1, ZERO_ADDRESS, sender=guardians[0])
    with ape.reverts(world.IdentityAddressInUse, account=patient2.address):
        world.approveRecovery(1, patient2, sender=guardians[0])
    world.approveRecovery(1, fresh_key, sender=guardians[0])
    with ape.reverts(world.RecoveryAlreadyApproved, guardian=guardians[0].address):
        world.approveRecovery(1, fresh_key, sender=guardians[0])
    # v2: another guardian may back another candidate (approvals are per candidate)
    world.approveRecovery(1, stranger, sender=guardians[1])
    assert world.recoveryApprovals(1, stranger) == 1
    assert world.recoveryApprovals(1, fresh_key) == 1
    with ape.reverts(world.RecoveryNotScheduled):
        world.acceptRecovery(1, sender=stranger)


def test_controller_cancels_during_delay(
    guarded: Any, patient: Any, guardians: list[Any], fresh_key: Any, chain: Any, stranger: Any
) -> None:
    world = guarded
    world.approveRecovery(1, fresh_key, sender=guardians[0])
    world.approveRecovery(1, fresh_key, sender=guardians[2])
    with ape.reverts(world.MedLedgerNotController):
        world.cancelRecovery(sender=stranger)
    receipt = world.cancelRecovery(sender=patient)
    assert logs_of(receipt, world, "RecoveryCancelled")[0].by == patient.address
    chain.pending_timestamp += 2 * DAY
    with ape.reverts(world.RecoveryNotScheduled):
        world.acceptRecovery(1, sender=fresh_key)
    with ape.reverts(world.RecoveryNothingPending):
        world.cancelRecovery(sender=patient)
    assert world.patientOf(patient) == 1
    # Guardians can start over (approvals were cleared with the round).
    world.approveRecovery(1, fresh_key, sender=guardians[0])
    assert world.recoveryApprovals(1, fresh_key) == 1


def test_new_guardians_or_controller_change_cancel_pending(
    guarded: Any, patient: Any, guardians: list[Any], fresh_key: Any, stranger: Any
) -> None:
    world = guarded
    world.approveRecovery(1, fresh_key, sender=guardians[0])
    receipt = world.setGuardians(guardians[:2], 1, DAY, ZERO32, sender=patient)
    assert logs_of(receipt, world, "RecoveryCancelled")
    assert world.recoveryApprovals(1, fresh_key) == 0

    world.approveRecovery(1, fresh_key, sender=guardians[1])  # threshold 1: scheduled
    world.proposeController(stranger, sender=patient)
    receipt = world.acceptController(1, sender=stranger)
    assert logs_of(receipt, world, "RecoveryCancelled")
    with ape.reverts(world.RecoveryNotScheduled):
        world.acceptRecovery(1, sender=fresh_key)


def test_accept_rechecks_candidate_is_unused(
    guarded: Any, guardians: list[Any], fresh_key: Any, chain: Any
) -> None:
    world = guarded
    world.approveRecovery(1, fresh_key, sender=guardians[0])
    world.approveRecovery(1, fresh_key, sender=guardians[1])
    # The candidate became a patient in the meantime: it cannot take over a second identity.
    world.registerPatient(b32("other"), ZERO32, ZERO32, sender=fresh_key)
    chain.pending_timestamp += DAY
    with ape.reverts(world.IdentityAddressInUse, account=fresh_key.address):
        world.acceptRecovery(1, sender=fresh_key)
