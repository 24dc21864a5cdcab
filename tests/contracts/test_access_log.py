"""AccessLog: consent-checked recordAccess, denial codes, the per-patient hash chain, batches."""

from __future__ import annotations

from typing import Any

import ape
import pytest

from conftest import (
    CAT_GENOMICS,
    CAT_LABS,
    ERASED,
    NO_ACTION,
    NO_CATEGORY,
    NO_CONSENT,
    NO_PURPOSE,
    OK_CONSENT,
    OK_PATIENT,
    P_PAYMENT,
    P_RESEARCH,
    P_TREATMENT,
    RAW,
    READ,
    WRITE,
    ZERO32,
    access_entries,
    b32,
    chain_head,
    keyring_of,
    mask,
    outcomes,
)


@pytest.fixture
def setup(world: Any, patient: Any, patient2: Any, doctor: Any, lab: Any, chain: Any) -> Any:
    """Labs + genomics records of patient 1; doctor reads labs (treatment, payment); lab writes."""
    world.addRecord(1, b32("labs"), CAT_LABS, RAW, keyring_of(1), sender=patient)
    world.addRecord(1, b32("genome"), CAT_GENOMICS, RAW, keyring_of(1), sender=patient)
    world.addRecord(2, b32("p2"), CAT_LABS, RAW, keyring_of(2), sender=patient2)
    until = chain.pending_timestamp + 30 * 86400
    world.grant(
        doctor, mask(CAT_LABS), READ, mask(P_TREATMENT, P_PAYMENT), 0, until, ZERO32, sender=patient
    )
    world.grant(lab, mask(CAT_LABS), WRITE, mask(P_TREATMENT), 0, until, ZERO32, sender=patient)
    return world


def test_outcomes(setup: Any, patient: Any, doctor: Any, lab: Any, responder: Any) -> None:
    w = setup
    base = w.logHead(1).count  # registration, records and grants are chain entries too
    cases = [
        (doctor, b32("labs"), P_TREATMENT, OK_CONSENT),
        (doctor, b32("labs"), P_PAYMENT, OK_CONSENT),
        (patient, b32("genome"), P_RESEARCH, OK_PATIENT),
        (doctor, b32("genome"), P_TREATMENT, NO_CATEGORY),
        (doctor, b32("labs"), P_RESEARCH, NO_PURPOSE),
        (lab, b32("labs"), P_TREATMENT, NO_ACTION),
        (responder, b32("labs"), P_PAYMENT, NO_CONSENT),
    ]
    for accessor, rid, purpose, expected in cases:
        assert (
            w.checkAccess(
                1, accessor, CAT_LABS if rid == b32("labs") else CAT_GENOMICS, READ, purpose
            )
            == expected
        )
        receipt = w.recordAccess(1, rid, purpose, sender=accessor)
        assert outcomes(receipt, w) == [expected], (accessor, purpose)
        assert receipt.return_value is (expected < 16)
    assert w.logHead(1).count == base + len(cases)


def test_hash_chain_matches_offchain_recomputation(
    setup: Any, patient: Any, doctor: Any, lab: Any
) -> None:
    w = setup
    head, base = w.logHead(1)
    head2, base2 = w.logHead(2)
    receipts = [
        w.recordAccess(1, b32("labs"), P_TREATMENT, sender=doctor),
        w.recordAccess(1, b32("labs"), P_TREATMENT, sender=lab),
        w.recordAccess(1, b32("genome"), P_RESEARCH, sender=patient),
        w.recordAccess(2, b32("p2"), P_TREATMENT, sender=doctor),  # separate chain
    ]
    head = bytes(head)
    for i, receipt in enumerate(receipts[:3]):
        seq = base + i
        [e] = access_entries(receipt, w)
        assert (e.patientId, e.seq, e.timestamp) == (1, seq, receipt.timestamp)
        head = chain_head(head, 1, seq, e.accessor, e.recordId, e.purpose, e.outcome, e.timestamp)
        assert e.head == head
    assert tuple(w.logHead(1)) == (head, base + 3)
    [e2] = access_entries(receipts[3], w)
    assert e2.seq == base2
    assert tuple(w.logHead(2)) == (
        chain_head(
            bytes(head2), 2, base2, doctor.address, b32("p2"), P_TREATMENT, NO_CONSENT, e2.timestamp
        ),
        base2 + 1,
    )


def test_unknown_or_foreign_record_reverts(setup: Any, doctor: Any) -> None:
    w = setup
    base = w.logHead(1).count
    with ape.reverts(w.AccessLogUnknownRecord, patientId=1, recordId=b32("nope")):
        w.recordAccess(1, b32("nope"), P_TREATMENT, sender=doctor)
    with ape.reverts(w.AccessLogUnknownRecord, patientId=1, recordId=b32("p2")):
        w.recordAccess(1, b32("p2"), P_TREATMENT, sender=doctor)
    with ape.reverts(w.AccessLogUnknownRecord, patientId=0, recordId=ZERO32):
        w.recordAccess(0, ZERO32, P_TREATMENT, sender=doctor)
    with ape.reverts(w.AccessLogInvalidPurpose, purpose=8):
        w.recordAccess(1, b32("labs"), 8, sender=doctor)
    with ape.reverts(w.AccessLogInvalidPurpose, purpose=8):
        w.checkAccess(1, doctor, CAT_LABS, READ, 8)
    assert w.logHead(1).count == base


def test_erased_record_is_denied_even_to_the_patient(setup: Any, patient: Any, doctor: Any) -> None:
    w = setup
    w.eraseRecord(b32("labs"), sender=patient)
    assert outcomes(w.recordAccess(1, b32("labs"), P_TREATMENT, sender=doctor), w) == [ERASED]
    assert outcomes(w.recordAccess(1, b32("labs"), P_TREATMENT, sender=patient), w) == [ERASED]


def test_batch(setup: Any, doctor: Any) -> None:
    w = setup
    base, base2 = w.logHead(1).count, w.logHead(2).count
    requests = [
        (1, b32("labs"), P_TREATMENT),
        (1, b32("genome"), P_TREATMENT),
        (2, b32("p2"), P_TREATMENT),
    ]
    receipt = w.recordAccessBatch(requests, sender=doctor)
    assert list(receipt.return_value) == [True, False, False]
    assert outcomes(receipt, w) == [OK_CONSENT, NO_CATEGORY, NO_CONSENT]
    assert [e.seq for e in access_entries(receipt, w)] == [base, base + 1, base2]
    assert w.logHead(1).count == base + 2

    with ape.reverts(w.AccessLogUnknownRecord):  # one bad id reverts the whole batch
        w.recordAccessBatch(
            [(1, b32("labs"), P_TREATMENT), (1, b32("x"), P_TREATMENT)], sender=doctor
        )
    assert w.logHead(1).count == base + 2
    with ape.reverts(w.MedLedgerBatchTooLarge, length=257, max=256):
        w.recordAccessBatch([(1, b32("labs"), P_TREATMENT)] * 257, sender=doctor)
    assert list(w.recordAccessBatch([], sender=doctor).return_value) == []


def test_check_access_for_writes_and_the_patient(
    setup: Any, patient: Any, lab: Any, doctor: Any
) -> None:
    w = setup
    assert w.checkAccess(1, lab, CAT_LABS, WRITE, P_TREATMENT) == OK_CONSENT
    assert w.checkAccess(1, doctor, CAT_LABS, WRITE, P_TREATMENT) == NO_ACTION
    assert w.checkAccess(1, patient, CAT_GENOMICS, WRITE, P_TREATMENT) == OK_PATIENT
    assert w.checkAccess(2, patient, CAT_GENOMICS, READ, P_TREATMENT) == NO_CONSENT
    assert w.checkAccess(0, doctor, CAT_LABS, READ, P_TREATMENT) == NO_CONSENT
