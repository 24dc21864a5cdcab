"""session.emergency: the kit, break-glass, and kit reseal on rotation (direct and relayed)."""

from __future__ import annotations

import pytest

from helpers.client import World
from medledger import AccessDenied, InvalidInput


def test_break_glass_reads_with_the_kit(world: World) -> None:
    world.patient.emergency.configure(responders=[world.er.address])
    rec = world.clinic.records.add(world.pid, b"penicillin allergy", "allergies")
    with pytest.raises(AccessDenied):
        world.er.access.read(rec.record_id, "emergency")
    with pytest.raises(InvalidInput, match="reason"):
        world.er.emergency.break_glass(world.pid, reason="bored")
    bg = world.er.emergency.break_glass(world.pid, "unconscious-patient", duration=3600)
    assert bg.expires_at > world.ml.now()
    assert world.er.access.read(rec.record_id, "emergency") == b"penicillin allergy"


def test_rotation_of_an_emergency_category_reseals_the_kit(world: World) -> None:
    world.patient.emergency.configure(responders=[world.er.address])
    kit_before = world.patient.contract.get_patient(world.pid).emergency_kit
    g = world.patient.consent.grant(world.specialist.address, ["allergies"], duration=600)
    assert len(g.extra_txs) == 2  # keyring, then kit
    kit_after = world.patient.contract.get_patient(world.pid).emergency_kit
    assert kit_after != kit_before
    # the relayed path reseals it too; the patient publishes it with one own transaction
    signed = world.patient.consent.sign_revoke(world.specialist.address)
    assert signed.kit is not None
    world.er.relay.submit(signed)
    assert world.patient.emergency.apply_kit(signed) is not None
    assert world.patient.contract.get_patient(world.pid).emergency_kit == signed.kit.emergency_kit
    later = world.clinic.records.add(world.pid, b"latex allergy", "allergies")
    # v2: a responder's window is closed explicitly (or expires) and a cooldown follows
    if world.er.contract.break_glass_until(world.pid, world.er.address) > world.ml.now():
        world.patient.emergency.close_break_glass(world.pid, world.er.address)
        assert world.er.contract.break_glass_until(world.pid, world.er.address) <= world.ml.now()
        with pytest.raises(AccessDenied):  # cooling down
            world.er.emergency.break_glass(world.pid, "life_threatening", duration=600)
        world.ml.increase_time(world.patient.contract.get_patient(world.pid).break_glass_cooldown)
    world.er.emergency.break_glass(world.pid, "life_threatening", duration=600)
    assert world.er.access.read(later.record_id, "emergency") == b"latex allergy"


def test_limits(world: World) -> None:
    with pytest.raises(InvalidInput, match="24 hours"):
        world.patient.emergency.configure(max_duration=2 * 86400)
