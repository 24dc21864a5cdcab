"""Issue 12: one test per review point. Each runs the attack of the review against the v2 suite
and asserts that it now fails. The v1 behaviour each attack showed is recorded in
tests/contracts/ATTACKS.md (and in each docstring)."""

from __future__ import annotations

from typing import Any

import ape
from eth_abi import encode

from conftest import (
    ADD_RECORD_TYPES,
    CAT_ALLERGIES,
    CAT_LABS,
    DAY,
    GRANT_TYPES,
    NO_CONSENT,
    OK_CONSENT,
    OK_EMERGENCY,
    P_EMERGENCY,
    P_RESEARCH,
    P_TREATMENT,
    PROVIDER_KEY_TYPES,
    RAW,
    READ,
    REVOKE_AND_REKEY_TYPES,
    SET_KEYRING_TYPES,
    WRITE,
    ZERO32,
    GrantArgs,
    b32,
    chain_head,
    chain_id_of,
    deadline_of,
    domain,
    grant_now,
    keyring_of,
    logs_of,
    mask,
    nonce_key,
    outcomes,
    register_provider,
    sign,
)

EVENTS_WITH_HEAD = (
    "PatientRegistered",
    "ConsentGranted",
    "ConsentRevoked",
    "RecordAdded",
    "RecordErased",
    "BreakGlassOpened",
    "BreakGlassClosed",
    "ControllerChanged",
    "AccessRecorded",
)


def _grant_sig(w: Any, signer: Any, g: GrantArgs, nonce: int, epoch: int = 0) -> tuple[Any, ...]:
    deadline = deadline_of(w)
    sig = sign(signer, domain(w, chain_id_of(w)), GRANT_TYPES, g.message(1, nonce, deadline, epoch))
    return (1, g.as_tuple(), epoch, nonce, deadline, sig)


def _until(chain: Any, days: int = 30) -> int:
    return int(chain.pending_timestamp) + days * DAY


# --- 1 --------------------------------------------------------------------------------------------
def test_p1_strangers_cannot_write_into_a_patients_log(
    world: Any, patient: Any, stranger: Any, doctor: Any, owner: Any
) -> None:
    """v1: an unregistered address appended "denied" entries at will (review: ~7,000 gas each in
    a batch). v2: no standing -> custom error, no entry; a suspended provider is logged denied."""
    world.addRecord(1, b32("r"), CAT_LABS, RAW, keyring_of(1), sender=patient)
    count = world.logHead(1).count
    with ape.reverts(world.AccessLogNoStanding, patientId=1, caller=stranger.address):
        world.recordAccess(1, b32("r"), P_TREATMENT, sender=stranger)
    with ape.reverts(world.AccessLogNoStanding):
        world.recordAccessBatch([(1, b32("r"), P_TREATMENT)] * 100, sender=stranger)
    with ape.reverts(world.RecordNoStanding, patientId=1, author=stranger.address):
        world.addRecord(1, b32("spam"), CAT_LABS, RAW, keyring_of(1), sender=stranger)
    assert world.logHead(1).count == count
    world.suspendProvider(doctor, sender=owner)
    r = world.recordAccess(1, b32("r"), P_TREATMENT, sender=doctor)
    assert r.return_value is False
    assert world.logHead(1).count == count + 1


# --- 2 --------------------------------------------------------------------------------------------
def test_p2_break_glass_is_closable_bounded_and_rechecked(
    world: Any, patient: Any, responder: Any, owner: Any, chain: Any
) -> None:
    """v1: a responder could renew its window forever, the patient could not close it, opt-out
    only blocked new openings, research reads were allowed. v2: all fixed."""
    world.addRecord(1, b32("a"), CAT_ALLERGIES, RAW, keyring_of(1), sender=patient)
    opened = world.openBreakGlass(1, 0, 0, ZERO32, sender=responder)
    assert logs_of(opened, world, "BreakGlassOpened")[0].categories == 0x0007
    # no renewal while open
    with ape.reverts(world.BreakGlassCooldown):
        world.openBreakGlass(1, 0, 0, ZERO32, sender=responder)
    # purposes: emergency and treatment only
    assert world.checkAccess(1, responder, CAT_ALLERGIES, READ, P_RESEARCH) == NO_CONSENT
    assert world.checkAccess(1, responder, CAT_ALLERGIES, READ, P_TREATMENT) == OK_EMERGENCY
    # opt-out / categories / responder flag apply to the open window at once
    world.setEmergencyAccess(0x0007, DAY, True, DAY, ZERO32, sender=patient)
    assert world.checkAccess(1, responder, CAT_ALLERGIES, READ, P_EMERGENCY) == NO_CONSENT
    world.setEmergencyAccess(0x0006, DAY, False, DAY, ZERO32, sender=patient)
    assert world.checkAccess(1, responder, CAT_ALLERGIES, READ, P_EMERGENCY) == NO_CONSENT
    world.setEmergencyAccess(0x0007, DAY, False, 3600, ZERO32, sender=patient)
    assert world.checkAccess(1, responder, CAT_ALLERGIES, READ, P_EMERGENCY) == OK_EMERGENCY
    world.updateProvider(responder, False, "EMS", sender=owner)
    assert world.checkAccess(1, responder, CAT_ALLERGIES, READ, P_EMERGENCY) == NO_CONSENT
    world.updateProvider(responder, True, "EMS", sender=owner)
    # the patient closes it
    closed = world.closeBreakGlass(1, responder, sender=patient)
    e = logs_of(closed, world, "BreakGlassClosed")[0]
    assert (e.responder, e.closedBy) == (responder.address, patient.address)
    assert outcomes(world.recordAccess(1, b32("a"), P_EMERGENCY, sender=responder), world) == [
        NO_CONSENT
    ]
    with ape.reverts(world.BreakGlassNotOpen):
        world.closeBreakGlass(1, responder, sender=patient)
    # cooldown (patient set 1 h; never below 1 h)
    with ape.reverts(world.BreakGlassCooldown):
        world.openBreakGlass(1, 0, 0, ZERO32, sender=responder)
    with ape.reverts(world.IdentityInvalidBreakGlassCooldown, cooldown=3599):
        world.setEmergencyAccess(0x0007, DAY, False, 3599, ZERO32, sender=patient)
    chain.pending_timestamp = int(closed.timestamp) + 3600
    world.openBreakGlass(1, 0, 0, ZERO32, sender=responder)
    assert world.getPatient(1).breakGlassCooldown == 3600


# --- 3 --------------------------------------------------------------------------------------------
def test_p3_no_one_becomes_controller_without_consent(
    world: Any, patient: Any, stranger: Any, fresh_key: Any
) -> None:
    """v1: rotateController(victim) made any address a controller at once, blocking the victim's
    own registration. v2: two-step; the proposal does not touch the candidate until it accepts."""
    assert not hasattr(world, "rotateController")
    world.proposeController(stranger, sender=patient)
    assert world.patientOf(stranger) == 0
    # the would-be victim is not blocked: it can still register itself
    world.registerPatient(b32("own"), ZERO32, ZERO32, sender=stranger)
    with ape.reverts(world.IdentityNotProposed):
        world.acceptController(1, sender=fresh_key)
    with ape.reverts(world.IdentityAddressInUse):
        world.acceptController(1, sender=stranger)
    world.proposeController(fresh_key, sender=patient)
    r = world.acceptController(1, sender=fresh_key)
    e = logs_of(r, world, "ControllerChanged")[0]
    assert (e.previousController, e.newController) == (patient.address, fresh_key.address)
    assert world.patientOf(fresh_key) == 1
    assert world.patientOf(patient) == 0


# --- 4 --------------------------------------------------------------------------------------------
def test_p4_one_guardian_cannot_freeze_recovery(
    world: Any, patient: Any, guardians: Any, fresh_key: Any, stranger: Any, chain: Any
) -> None:
    """v1: the first approval fixed the candidate; only the (lost) controller could cancel.
    v2: approvals per candidate and movable, threshold cancel, expiry, bounded delay."""
    g0, g1, g2 = guardians
    with ape.reverts(world.RecoveryInvalidDelay, delay=0):
        world.setGuardians(guardians, 2, 0, ZERO32, sender=patient)
    with ape.reverts(world.RecoveryInvalidDelay, delay=91 * DAY):
        world.setGuardians(guardians, 2, 91 * DAY, ZERO32, sender=patient)
    world.setGuardians(guardians, 2, DAY, ZERO32, sender=patient)
    with ape.reverts(world.RecoveryCandidateIsGuardian, candidate=g1.address):
        world.approveRecovery(1, g1, sender=g0)
    # the rogue guardian picks its own candidate first ...
    world.approveRecovery(1, stranger, sender=g0)
    # ... the others still recover to the right key
    world.approveRecovery(1, fresh_key, sender=g1)
    assert world.recoveryApprovals(1, fresh_key) == 1
    # the rogue can be outvoted or persuaded: it moves its approval
    r = world.approveRecovery(1, fresh_key, sender=g2)
    assert logs_of(r, world, "RecoveryScheduled")[0].candidate == fresh_key.address
    with ape.reverts(world.RecoveryNotScheduled):
        world.acceptRecovery(1, sender=stranger)
    with ape.reverts(world.RecoveryDelayNotElapsed):
        world.acceptRecovery(1, sender=fresh_key)
    chain.pending_timestamp = int(r.timestamp) + DAY
    done = world.acceptRecovery(1, sender=fresh_key)
    assert logs_of(done, world, "RecoveryExecuted")[0].newController == fresh_key.address
    assert world.patientOf(fresh_key) == 1


def test_p4_guardians_cancel_and_rounds_expire(
    world: Any, patient: Any, guardians: Any, fresh_key: Any, stranger: Any, chain: Any
) -> None:
    g0, g1, g2 = guardians
    world.setGuardians(guardians, 2, DAY, ZERO32, sender=patient)
    world.approveRecovery(1, stranger, sender=g0)
    world.approveRecovery(1, stranger, sender=g1)  # scheduled for the wrong key
    world.voteCancelRecovery(1, sender=g1)
    r = world.voteCancelRecovery(1, sender=g2)
    assert logs_of(r, world, "RecoveryCancelled")
    assert world.getRecovery(1).candidate == ZERO_ADDR
    # expiry: 30 days after the first approval an unscheduled round is dead
    r = world.approveRecovery(1, fresh_key, sender=g0)
    chain.pending_timestamp = int(r.timestamp) + 30 * DAY
    r2 = world.approveRecovery(1, fresh_key, sender=g1)  # starts a fresh round: 1 approval
    assert world.recoveryApprovals(1, fresh_key) == 1
    assert logs_of(r2, world, "RecoveryScheduled") == []


ZERO_ADDR = "0x0000000000000000000000000000000000000000"


# --- 5 --------------------------------------------------------------------------------------------
def test_p5_record_ids_cannot_be_squatted(world: Any, patient: Any, patient2: Any) -> None:
    """v1: record ids were global; patient 2 could front-run patient 1's addRecord with the same
    id and patient 1's add reverted RecordAlreadyExists. v2: records are keyed by patient."""
    world.addRecord(2, b32("cid"), CAT_LABS, RAW, keyring_of(2), sender=patient2)
    world.addRecord(1, b32("cid"), CAT_LABS, RAW, keyring_of(1), sender=patient)
    assert world.getRecord(1, b32("cid")).author == patient.address
    assert world.getRecord(2, b32("cid")).author == patient2.address


# --- 6 --------------------------------------------------------------------------------------------
def test_p6_anchors_are_bound_to_their_submitter(anchors: Any, owner: Any, stranger: Any) -> None:
    """v1: a stranger anchored a forged root in the hospital's stream (verifyItem true) or
    front-ran the real root. v2: streams are per submitter; verification names the submitter."""
    from merkle import build, leaf_of

    stream = b32("hospital/vitals")
    forged = [b32("forged")]
    root, proofs = build([leaf_of(d) for d in forged])
    anchors.anchor(stream, root, 1, sender=stranger)  # into the stranger's own namespace only
    assert not anchors.verifyItem(owner, stream, root, forged[0], proofs[0])
    assert anchors.verifyItem(stranger, stream, root, forged[0], proofs[0])
    anchors.anchor(stream, root, 1, sender=owner)  # not front-run: the owner's slot was free


# --- 7 --------------------------------------------------------------------------------------------
def test_p7_old_signature_cannot_resurrect_consent(
    world: Any, patient: Any, doctor: Any, lab: Any, stranger: Any, chain: Any
) -> None:
    """v1: a grant signed before a direct revoke could still be submitted and restored consent;
    sequential nonces meant one unsubmitted relay blocked the next. v2: epoch + keyed nonces."""
    until = _until(chain)
    g = GrantArgs(doctor.address, mask(CAT_LABS), READ, 1, 0, until)
    old = _grant_sig(world, patient, g, world.nonces(patient, nonce_key(doctor)))
    grant_now(world, patient, doctor, chain)
    world.revoke(doctor, sender=patient)
    assert world.signatureEpoch(1) == 1
    with ape.reverts(world.MedLedgerStaleEpoch, signed=0, current=1):
        world.grantBySig(*old, sender=stranger)
    assert world.getConsent(1, doctor).validUntil == 0
    # keyed nonces: grants for two grantees, submitted in reverse order
    g_doc = GrantArgs(doctor.address, mask(CAT_LABS), READ, 1, 0, until)
    g_lab = GrantArgs(lab.address, mask(CAT_LABS), READ, 1, 0, until)
    s_doc = _grant_sig(world, patient, g_doc, world.nonces(patient, nonce_key(doctor)), 1)
    s_lab = _grant_sig(world, patient, g_lab, world.nonces(patient, nonce_key(lab)), 1)
    world.grantBySig(*s_lab, sender=stranger)
    world.grantBySig(*s_doc, sender=stranger)
    with ape.reverts():  # replay
        world.grantBySig(*s_doc, sender=stranger)
    # cancel a nonce
    n = world.nonces(patient, nonce_key(doctor))
    s = _grant_sig(world, patient, g_doc, n, 1)
    world.cancelNonce(n, sender=patient)
    with ape.reverts():
        world.grantBySig(*s, sender=stranger)
    # deadline cap: 30 days
    far = deadline_of(world, 31 * DAY)
    msg = g_doc.message(1, world.nonces(patient, nonce_key(doctor)), far, 1)
    sig = sign(patient, domain(world, chain_id_of(world)), GRANT_TYPES, msg)
    with ape.reverts(world.MedLedgerDeadlineTooFar):
        world.grantBySig(1, g_doc.as_tuple(), 1, msg["nonce"], far, sig, sender=stranger)


# --- 8 --------------------------------------------------------------------------------------------
def test_p8_every_patient_operation_is_chained(
    world: Any, patient: Any, doctor: Any, lab: Any, responder: Any, fresh_key: Any, chain: Any
) -> None:
    """v1: grants, revokes, writes, denied writes (reverted), erasures, rotations were outside the
    chain: an archive dropping a ConsentRevoked still verified. v2: each is one chain entry, and
    the whole chain is recomputed here from the operation events alone."""
    receipts = [
        grant_now(world, patient, doctor, chain),
        grant_now(world, patient, doctor, chain, categories=mask(CAT_LABS)),
        world.addRecord(1, b32("r"), CAT_LABS, RAW, keyring_of(1), sender=patient),
        world.addRecord(1, b32("w"), CAT_LABS, RAW, keyring_of(1), sender=lab),  # denied
        world.recordAccess(1, b32("r"), P_TREATMENT, sender=doctor),
        world.revoke(doctor, sender=patient),
        world.eraseRecord(b32("r"), sender=patient),
        world.openBreakGlass(1, 0, 0, ZERO32, sender=responder),
        world.closeBreakGlass(1, responder, sender=patient),
    ]
    world.proposeController(fresh_key, sender=patient)
    receipts.append(world.acceptController(1, sender=fresh_key))
    entries = []
    for r in receipts:
        for name in EVENTS_WITH_HEAD:
            entries += [(name, e, r) for e in logs_of(r, world, name)]
    codes = []
    head, count = world.logHead(1)
    # e.replaced is decoded as 0/1
    seq0 = entries[0][1].seq
    h = None
    for i, (name, e, r) in enumerate(entries):
        assert e.seq == seq0 + i
        if name == "ConsentGranted":
            word = (
                e.categories
                | e.actions << 16
                | e.purposes << 24
                | e.validFrom << 40
                | e.validUntil << 80
            )
            step = (e.grantee, word.to_bytes(32, "big"), 0, 6 if e.replaced else 5)
        elif name == "ConsentRevoked":
            step = (e.grantee, ZERO32, 0, 7)
        elif name == "RecordAdded":
            step = (e.author, e.recordId, 0, 8)
        elif name == "RecordErased":
            step = (patient.address, e.recordId, 0, 9)
        elif name == "BreakGlassOpened":
            step = (e.responder, e.justification, P_EMERGENCY, 3)
        elif name == "BreakGlassClosed":
            step = (e.responder, encode(["address"], [e.closedBy]), P_EMERGENCY, 4)
        elif name == "ControllerChanged":
            step = (e.newController, encode(["address"], [e.previousController]), 0, 10)
        else:
            step = (e.accessor, e.recordId, e.purpose, e.outcome)
        codes.append(step[3])
        if h is not None:
            h = chain_head(h, 1, e.seq, step[0], step[1], step[2], step[3], r.timestamp)
            assert h == bytes(e.head)
        else:
            h = bytes(e.head)
    assert codes == [5, 6, 8, 24, OK_CONSENT, 7, 9, 3, 4, 10]
    assert (bytes(head), count) == (h, seq0 + len(entries))


# --- 9 --------------------------------------------------------------------------------------------
def test_p9_only_the_provider_sets_its_key(
    ledger: Any, owner: Any, doctor: Any, stranger: Any
) -> None:
    """v1: registerProvider/updateProvider let the owner set any key for any provider. v2: the
    key needs the provider's signature (or own transaction); updateProvider has no key."""
    dom = domain(ledger, chain_id_of(ledger))
    deadline = deadline_of(ledger)
    msg = {
        "provider": doctor.address,
        "encryptionKey": b32("owner-chosen"),
        "keyDocument": ZERO32,
        "nonce": 0,
        "deadline": deadline,
    }
    forged = sign(owner, dom, PROVIDER_KEY_TYPES, msg)  # the owner signs for the provider
    with ape.reverts(ledger.MedLedgerInvalidSignature):
        ledger.registerProvider(
            doctor, b32("owner-chosen"), ZERO32, False, "Dr", 0, deadline, forged, sender=owner
        )
    register_provider(ledger, owner, doctor, "doctor-key", False, "Dr")
    assert ledger.getProvider(doctor).encryptionKey == b32("doctor-key")
    ledger.updateProvider(doctor, True, "Dr. Renamed", sender=owner)
    assert ledger.getProvider(doctor).encryptionKey == b32("doctor-key")
    ledger.setProviderKey(b32("rotated"), ZERO32, sender=doctor)
    msg = dict(msg, encryptionKey=b32("relayed"), nonce=1)
    sig = sign(doctor, dom, PROVIDER_KEY_TYPES, msg)
    ledger.setProviderKeyBySig(doctor, b32("relayed"), ZERO32, 1, deadline, sig, sender=stranger)
    assert ledger.getProvider(doctor).encryptionKey == b32("relayed")
    with ape.reverts(ledger.ProviderNotRegistered):
        ledger.setProviderKey(b32("x"), ZERO32, sender=stranger)


# --- 10 -------------------------------------------------------------------------------------------
def test_p10_revoke_and_rekey_is_atomic(
    world: Any, patient: Any, doctor: Any, lab: Any, owner: Any, stranger: Any, chain: Any
) -> None:
    """v1: revokeBySig and setKeyringBySig were separate; a relayer could submit the revoke and
    drop the rotation. v2: one call (one signature) does revoke + keyring CAS + bundles."""
    grant_now(world, patient, doctor, chain)
    grant_now(world, patient, lab, chain)
    kr1, kr2 = keyring_of(1), b32("keyring-2")
    epoch = world.signatureEpoch(1)
    nonce = world.nonces(patient, nonce_key(doctor))
    deadline = deadline_of(world)
    bundles = [(lab.address, b32("lab-bundle-2"))]
    msg = {
        "patientId": 1,
        "grantee": doctor.address,
        "expectedKeyring": kr1,
        "newKeyring": kr2,
        "bundles": [{"grantee": lab.address, "keyBundle": b32("lab-bundle-2")}],
        "epoch": epoch,
        "nonce": nonce,
        "deadline": deadline,
    }
    sig = sign(patient, domain(world, chain_id_of(world)), REVOKE_AND_REKEY_TYPES, msg)
    # a relayer cannot split it: dropping the bundles or changing the keyring breaks the signature
    with ape.reverts(world.MedLedgerInvalidSignature):
        world.revokeAndRekeyBySig(
            1, doctor, kr1, kr2, [], epoch, nonce, deadline, sig, sender=stranger
        )
    r = world.revokeAndRekeyBySig(
        1, doctor, kr1, kr2, bundles, epoch, nonce, deadline, sig, sender=stranger
    )
    assert world.getConsent(1, doctor).validUntil == 0
    assert world.getPatient(1).keyring == kr2
    assert logs_of(r, world, "KeyBundleRefreshed")[0].grantee == lab.address
    # direct variant; a suspended remaining grantee is refused (reverts, nothing changes)
    grant_now(world, patient, doctor, chain)
    world.suspendProvider(lab, sender=owner)
    with ape.reverts(world.ConsentGranteeSuspended, grantee=lab.address):
        world.revokeAndRekey(doctor, kr2, b32("k3"), bundles, sender=patient)
    assert world.getConsent(1, doctor).validUntil != 0
    world.revokeAndRekey(doctor, kr2, b32("k3"), [], sender=patient)
    assert world.getPatient(1).keyring == b32("k3")


# --- 11 -------------------------------------------------------------------------------------------
def test_p11_keyring_updates_are_compare_and_swap(world: Any, patient: Any, stranger: Any) -> None:
    """v1: setKeyring was last-writer-wins: two concurrent flows each set their keyring and one
    epoch was silently lost. v2: the second writer reverts IdentityStaleKeyring."""
    kr1 = keyring_of(1)
    world.setKeyring(kr1, b32("flow-a"), sender=patient)
    with ape.reverts(world.IdentityStaleKeyring, expected=kr1, actual=b32("flow-a")):
        world.setKeyring(kr1, b32("flow-b"), sender=patient)
    deadline = deadline_of(world)
    nonce = world.nonces(patient, 0)
    msg = {
        "patientId": 1,
        "expectedKeyring": kr1,
        "newKeyring": b32("flow-c"),
        "epoch": 0,
        "nonce": nonce,
        "deadline": deadline,
    }
    sig = sign(patient, domain(world, chain_id_of(world)), SET_KEYRING_TYPES, msg)
    with ape.reverts(world.IdentityStaleKeyring):
        world.setKeyringBySig(1, kr1, b32("flow-c"), nonce, deadline, sig, sender=stranger)
    assert world.getPatient(1).keyring == b32("flow-a")


# --- 12 -------------------------------------------------------------------------------------------
def test_p12_times_past_2106_work(world: Any, patient: Any, doctor: Any, chain: Any) -> None:
    """v1: uint32 times; a grant ending after 2106 or a clock past 2**32 reverted with a panic.
    v2: stored times are uint40 (MedLedgerTimeOverflow only after year 36812)."""
    world.addRecord(1, b32("r"), CAT_LABS, RAW, keyring_of(1), sender=patient)
    far = 2**32 + 1000
    world.grant(doctor, mask(CAT_LABS), READ, 1, 0, far, ZERO32, sender=patient)
    assert world.getConsent(1, doctor).validUntil == far
    chain.pending_timestamp = 2**32 + 10
    r = world.recordAccess(1, b32("r"), P_TREATMENT, sender=doctor)
    assert outcomes(r, world) == [OK_CONSENT]
    assert logs_of(r, world, "AccessRecorded")[0].timestamp == r.timestamp > 2**32
    world.addRecord(1, b32("r2"), CAT_LABS, RAW, keyring_of(1), sender=patient)
    assert world.getRecord(1, b32("r2")).createdAt > 2**32


# --- 13 -------------------------------------------------------------------------------------------
def test_p13_smaller_points(
    world: Any, patient: Any, doctor: Any, lab: Any, owner: Any, chain: Any
) -> None:
    """v1: a narrowing re-grant emitted the same event as a new grant; grantBatch accepted
    duplicates; renounceOwnership was `view`; addRecord ignored the keyring."""
    a = grant_now(world, patient, doctor, chain)
    b = grant_now(world, patient, doctor, chain, categories=mask(CAT_LABS))
    assert not logs_of(a, world, "ConsentGranted")[0].replaced
    assert logs_of(b, world, "ConsentGranted")[0].replaced
    until = _until(chain)
    req = GrantArgs(doctor.address, mask(CAT_LABS), READ, 1, 0, until).as_tuple()
    with ape.reverts(world.ConsentBatchNotAscending):
        world.grantBatch([req, req], sender=patient)
    abi = [x for x in world.contract_type.abi if getattr(x, "name", "") == "renounceOwnership"]
    assert abi[0].stateMutability == "nonpayable"
    with ape.reverts(world.ProviderRegistryRenounceDisabled):
        world.renounceOwnership(sender=owner)
    world.setKeyring(keyring_of(1), b32("new"), sender=patient)
    with ape.reverts(world.RecordStaleKeyring, expected=keyring_of(1), actual=b32("new")):
        world.addRecord(1, b32("r"), CAT_LABS, RAW, keyring_of(1), sender=patient)
    world.addRecord(1, b32("r"), CAT_LABS, RAW, b32("new"), sender=patient)


def test_add_record_by_sig_names_keyring(
    world: Any, lab: Any, patient: Any, stranger: Any, chain: Any
) -> None:
    grant_now(world, patient, lab, chain, actions=WRITE)
    deadline = deadline_of(world)
    msg = {
        "patientId": 1,
        "recordId": b32("s"),
        "category": CAT_LABS,
        "cidCodec": RAW,
        "keyring": keyring_of(1),
        "author": lab.address,
        "nonce": world.nonces(lab, 1),
        "deadline": deadline,
    }
    sig = sign(lab, domain(world, chain_id_of(world)), ADD_RECORD_TYPES, msg)
    r = world.addRecordBySig(
        1, b32("s"), CAT_LABS, RAW, keyring_of(1), lab, msg["nonce"], deadline, sig, sender=stranger
    )
    assert logs_of(r, world, "RecordAdded")[0].author == lab.address
    assert world.getRecord(1, b32("s")).author == lab.address
