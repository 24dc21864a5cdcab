"""RecordRegistry: addRecord authorisation, immutability, codecs, erasure tombstones."""

from __future__ import annotations

from typing import Any

import ape

from conftest import (
    CAT_GENOMICS,
    CAT_LABS,
    DAG_PB,
    DAY,
    EXPIRED,
    NO_ACTION,
    NO_CATEGORY,
    NO_CONSENT,
    RAW,
    READ,
    WRITE,
    ZERO32,
    ZERO_ADDRESS,
    b32,
    keyring_of,
    logs_of,
    mask,
)


def test_patient_adds_record(world: Any, patient: Any) -> None:
    receipt = world.addRecord(1, b32("r"), CAT_LABS, RAW, keyring_of(1), sender=patient)
    event = logs_of(receipt, world, "RecordAdded")[0]
    assert (event.patientId, event.recordId, event.author, event.category, event.cidCodec) == (
        1,
        b32("r"),
        patient.address,
        CAT_LABS,
        RAW,
    )
    rec = world.getRecord(1, b32("r"))
    assert tuple(rec) == (patient.address, CAT_LABS, RAW, receipt.timestamp, False)
    world.addRecord(1, b32("dag"), CAT_GENOMICS, DAG_PB, keyring_of(1), sender=patient)
    rec = world.getRecord(1, b32("dag"))
    assert (rec.category, rec.cidCodec) == (CAT_GENOMICS, DAG_PB)
    assert tuple(world.getRecord(1, b32("unknown"))) == (ZERO_ADDRESS, 0, 0, 0, False)


def test_provider_needs_current_write_consent(
    world: Any, patient: Any, doctor: Any, lab: Any, stranger: Any, chain: Any
) -> None:
    until = chain.pending_timestamp + DAY
    world.grant(doctor, mask(CAT_LABS), WRITE, 1, 0, until, ZERO32, sender=patient)
    world.grant(lab, mask(CAT_LABS), READ, 1, 0, until, ZERO32, sender=patient)
    receipt = world.addRecord(1, b32("by-doctor"), CAT_LABS, RAW, keyring_of(1), sender=doctor)
    assert world.getRecord(1, b32("by-doctor")).author == doctor.address
    assert logs_of(receipt, world, "RecordAdded")[0].author == doctor.address

    # v2: a registered provider's denied write is chained (outcome reason + 8) and returns false.
    def denied(pid: int, rid: bytes, cat: int, who: Any) -> int:
        r = world.addRecord(pid, rid, cat, RAW, keyring_of(pid), sender=who)
        assert r.return_value is False
        assert logs_of(r, world, "RecordAdded") == []
        assert next(iter(world.getRecord(pid, rid))) == ZERO_ADDRESS
        [e] = logs_of(r, world, "AccessRecorded")
        return int(e.outcome) - 8

    assert denied(1, b32("x"), CAT_GENOMICS, doctor) == NO_CATEGORY
    assert denied(1, b32("x"), CAT_LABS, lab) == NO_ACTION
    assert denied(2, b32("x"), CAT_LABS, doctor) == NO_CONSENT  # consent is per patient
    with ape.reverts(world.RecordNoStanding, patientId=1, author=stranger.address):
        world.addRecord(1, b32("x"), CAT_LABS, RAW, keyring_of(1), sender=stranger)
    with ape.reverts(world.RecordNoStanding, patientId=2, author=patient.address):
        world.addRecord(2, b32("x"), CAT_LABS, RAW, keyring_of(2), sender=patient)
    chain.pending_timestamp = until
    assert denied(1, b32("late"), CAT_LABS, doctor) == EXPIRED


def test_input_validation_and_immutability(world: Any, patient: Any) -> None:
    world.addRecord(1, b32("r"), CAT_LABS, RAW, keyring_of(1), sender=patient)
    with ape.reverts(world.RecordAlreadyExists, patientId=1, recordId=b32("r")):
        world.addRecord(1, b32("r"), CAT_GENOMICS, RAW, keyring_of(1), sender=patient)
    with ape.reverts(world.RecordInvalidId):
        world.addRecord(1, ZERO32, CAT_LABS, RAW, keyring_of(1), sender=patient)
    with ape.reverts(world.RecordInvalidCategory, category=10):
        world.addRecord(1, b32("c"), 10, RAW, keyring_of(1), sender=patient)
    with ape.reverts(world.RecordInvalidCodec, cidCodec=0x71):
        world.addRecord(1, b32("c"), CAT_LABS, 0x71, keyring_of(1), sender=patient)
    assert world.getRecord(1, b32("r")).category == CAT_LABS


def test_erase(world: Any, patient: Any, patient2: Any, stranger: Any) -> None:
    world.addRecord(1, b32("r"), CAT_LABS, RAW, keyring_of(1), sender=patient)
    with ape.reverts(world.RecordNotFound, patientId=2, recordId=b32("r")):
        world.eraseRecord(b32("r"), sender=patient2)  # not this patient's record
    with ape.reverts(world.MedLedgerNotController):
        world.eraseRecord(b32("r"), sender=stranger)
    receipt = world.eraseRecord(b32("r"), sender=patient)
    event = logs_of(receipt, world, "RecordErased")[0]
    assert (event.patientId, event.recordId) == (1, b32("r"))
    rec = world.getRecord(1, b32("r"))
    assert rec.erased is True
    assert (rec.author, rec.category) == (patient.address, CAT_LABS)
    with ape.reverts(world.RecordAlreadyErased, recordId=b32("r")):
        world.eraseRecord(b32("r"), sender=patient)
    with ape.reverts(world.RecordNotFound, patientId=1, recordId=b32("nope")):
        world.eraseRecord(b32("nope"), sender=patient)
    with ape.reverts(world.RecordAlreadyExists):  # a tombstoned id is never reused
        world.addRecord(1, b32("r"), CAT_LABS, RAW, keyring_of(1), sender=patient)
