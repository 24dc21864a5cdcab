"""session.records: add, timeline, the sealed blob, erasure."""

from __future__ import annotations

import io

import pytest

from helpers.client import World
from medledger import AccessDenied, InvalidInput, NotAuthorized
from medledger.codes import Category, Outcome


def test_add_then_timeline(world: World) -> None:
    before = len(world.patient.records.timeline())
    rec = world.clinic.records.add(world.pid, b'{"resourceType": "Observation"}', "labs")
    streamed = world.patient.records.add(world.pid, io.BytesIO(b"x" * 5000), "notes")
    assert streamed.size == 5000
    timeline = world.patient.records.timeline()
    assert [r.record_id for r in timeline[before:]] == [rec.record_id, streamed.record_id]
    assert timeline[before].category is Category.LABS
    assert timeline[before].author == world.clinic.address
    onchain = world.specialist.records.get(rec.record_id_hex)
    assert onchain.patient_id == world.pid
    sealed = world.specialist.records.fetch_sealed(rec.cid)
    assert b"Observation" not in sealed  # ciphertext is public, plaintext is not


def test_add_needs_write_consent(world: World) -> None:
    # v2: the contract logs the refused write (the patient sees it) and stores nothing
    with pytest.raises(AccessDenied, match="may not write") as denied:
        world.specialist.records.add(world.pid, b"note", "labs")
    assert denied.value.outcome is not None
    assert Outcome(denied.value.outcome).is_write_denial
    with pytest.raises(NotAuthorized):  # neither the controller nor a provider: not sent
        world.session(9).records.add(world.pid, b"note", "labs")
    with pytest.raises(InvalidInput):
        world.clinic.records.get("0x" + "00" * 32)


def test_erase_tombstones_and_unpins(world: World) -> None:
    rec = world.clinic.records.add(world.pid, b"to be erased", "allergies")
    with pytest.raises(NotAuthorized):
        world.clinic.records.erase(rec.record_id)
    report = world.patient.records.erase(rec.record_id)
    assert report.blocks_unpinned == (str(rec.cid),)
    assert report.keys_destroyed == ()
    assert world.clinic.address in [g.address for g in report.grantees_notified]
    assert world.patient.records.get(rec.record_id).erased
    with pytest.raises(InvalidInput, match="already erased"):
        world.patient.records.erase(rec.record_id)
