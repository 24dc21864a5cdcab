"""session.relay: signed consent submitted by someone else (the patient pays no gas)."""

from __future__ import annotations

import json

import pytest

from helpers.client import World
from medledger import AccessDenied, ConsentExpired
from medledger.client import SignedConsent


def test_relayed_grant_honours_valid_from(world: World) -> None:
    rec = world.clinic.records.add(world.pid, b"thyroid panel", "labs")
    start = world.ml.now() + 3600
    signed = world.patient.consent.sign_grant(
        world.specialist.address, ["labs"], valid_from=start, duration=86400
    )
    ops = [s.op for s in signed.steps]
    assert ops[0] == "setKeyring"  # the grant's end is a new epoch boundary
    mine = [s.grant for s in signed.steps if s.grant and s.grant.grantee == signed.grantee]
    assert len(mine) == 1
    assert mine[0].valid_from == start
    parsed = SignedConsent.from_json(json.loads(json.dumps(signed.to_json())))
    world.er.relay.submit(parsed)
    with pytest.raises(AccessDenied):  # not yet valid
        world.specialist.access.read(rec.record_id, "treatment")
    world.ml.increase_time(3601)
    assert world.specialist.access.read(rec.record_id, "treatment") == b"thyroid panel"
    world.ml.increase_time(86400)
    with pytest.raises(ConsentExpired):
        world.specialist.access.read(rec.record_id, "treatment")


def test_relayed_revoke(world: World) -> None:
    world.patient.consent.grant(world.specialist.address, ["labs"], duration=86400)
    signed = world.patient.consent.sign_revoke(world.specialist.address)
    # v2: one signature, one atomic revokeAndRekey (revoke + keyring CAS + bundles)
    assert [st.op for st in signed.steps] == ["revokeAndRekey"]
    assert signed.epoch == world.patient.contract.signature_epoch(world.pid)
    parsed = SignedConsent.from_json(json.loads(json.dumps(signed.to_json())))
    assert parsed == signed
    txs = world.er.relay.submit(parsed)
    assert len(txs) == 1
    assert txs[0].events_named("ConsentRevoked")
    assert txs[0].events_named("KeyringUpdated")
    assert world.patient.contract.get_patient(world.pid).keyring == signed.steps[0].keyring
    assert not world.patient.contract.get_consent(world.pid, world.specialist.address).exists
