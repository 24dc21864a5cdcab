"""The SDK reads the patient portal lists with: active grants, the provider registry by name,
emergency settings and open break-glass windows, and the patient's own unlogged decryption."""

from __future__ import annotations

from datetime import timedelta

import pytest

from helpers.client import World
from medledger.codes import Category, Purpose
from medledger.errors import NotRegistered


def test_active_grants_follow_grant_revoke_and_expiry(world: World) -> None:
    p = world.patient
    before = {g.grantee for g in p.consent.active()}
    assert world.clinic.address in before
    p.consent.grant(world.specialist.address, ["labs"], ["research"], duration=3600)
    (g,) = [g for g in p.consent.active() if g.grantee == world.specialist.address]
    assert g.grantee_name == "Dr. Lee, endocrinology"
    assert (g.categories, g.purposes, g.action_names) == (
        (Category.LABS,), (Purpose.RESEARCH,), ("read",)
    )  # fmt: skip
    assert (
        g.valid_until
        == world.ml.contracts.medledger.get_consent(world.pid, world.specialist.address).valid_until
    )
    p.consent.revoke(world.specialist.address)
    assert world.specialist.address not in {g.grantee for g in p.consent.active()}
    p.consent.grant(world.specialist.address, ["labs"], ["treatment"], duration=60)
    world.ml.increase_time(120)
    assert world.specialist.address not in {g.grantee for g in p.consent.active()}


def test_provider_registry_by_name(world: World) -> None:
    listed = world.ml.providers.all()
    assert [p.name for _, p in listed] == sorted(
        ["Riverside Clinic", "Dr. Lee, endocrinology", "City ER"], key=str.lower
    )
    world.consortium.providers.suspend(world.specialist.address)
    try:
        assert world.specialist.address not in [a for a, _ in world.ml.providers.all()]
        everyone = world.ml.providers.all(active_only=False)
        assert world.specialist.address in [a for a, _ in everyone]
    finally:
        world.consortium.providers.reinstate(world.specialist.address)


def test_emergency_settings_and_open_windows(world: World) -> None:
    p = world.patient
    p.emergency.configure(responders=[world.er.address])
    st = p.emergency.settings()
    assert st.responders == (world.er.address,)
    assert st.categories == (Category.ALLERGIES, Category.MEDICATIONS, Category.CONDITIONS)
    assert p.emergency.open_windows() == []
    bg = world.er.emergency.break_glass(world.pid, "life_threatening", timedelta(hours=2), "x")
    (w,) = p.emergency.open_windows()
    assert (w.responder, w.responder_name, w.expires_at) == (
        world.er.address,
        "City ER",
        bg.expires_at,
    )
    assert w.reason.name == "LIFE_THREATENING"
    p.emergency.close_break_glass(world.pid, world.er.address)
    assert p.emergency.open_windows() == []


def test_open_own_decrypts_without_a_log_entry(world: World) -> None:
    rec = world.clinic.records.add(world.pid, b"vitals: 120/80", category="vitals")
    entries = len(world.patient.audit.trail().entries)
    assert world.patient.access.open_own(rec.record_id) == b"vitals: 120/80"
    assert len(world.patient.audit.trail().entries) == entries
    with pytest.raises(NotRegistered):
        world.clinic.access.open_own(rec.record_id)  # only the patient's controller
