"""session.consent: direct grants, batches, revocation with key rotation."""

from __future__ import annotations

import pytest

from helpers.client import World
from medledger import AccessDenied, InvalidInput, KeyNotAvailable, NotRegistered
from medledger.codes import Category, Purpose


def test_grant_read_revoke(world: World) -> None:
    rec = world.clinic.records.add(world.pid, b"A1c 6.1%", "labs")
    g = world.patient.consent.grant(world.specialist.address, ["labs"], duration=86400)
    assert g.categories == (Category.LABS,)
    assert g.purposes == (Purpose.TREATMENT,)
    assert g.valid_until - g.valid_from == 86400
    # the grant's end is a new epoch boundary: the keyring is published first
    assert len(g.extra_txs) == 1
    assert world.specialist.access.read(rec.record_id, "treatment") == b"A1c 6.1%"
    revoked = world.patient.consent.revoke(world.specialist.address)
    assert world.clinic.address in revoked.refreshed  # still active on labs
    later = world.clinic.records.add(world.pid, b"lipids", "labs")
    with pytest.raises(AccessDenied):
        world.specialist.access.read(later.record_id, "treatment")
    with pytest.raises(KeyNotAvailable):
        world.specialist.access.open_offline(later.record_id)
    assert world.clinic.access.read(later.record_id, "treatment") == b"lipids"


def test_grant_many_is_one_batch(world: World) -> None:
    a, b = world.session(5), world.session(6)
    world.consortium.providers.register(a.party, name="Lab A")
    world.consortium.providers.register(b.party, name="Lab B")
    infos = world.patient.consent.grant_many(
        [
            {"grantee": a.address, "categories": ["vitals"], "duration": 3600},
            {"grantee": b.address, "categories": "labs", "purposes": ["research"],
             "valid_until": world.ml.now() + 7200},
        ]
    )  # fmt: skip
    assert [i.grantee for i in infos] == [a.address, b.address]
    assert infos[0].tx.tx_hash == infos[1].tx.tx_hash
    with pytest.raises(InvalidInput, match="twice"):
        world.patient.consent.grant_many(
            [{"grantee": a.address, "categories": ["labs"], "duration": 60}] * 2
        )


def test_bad_requests_send_nothing(world: World) -> None:
    with pytest.raises(InvalidInput, match="exactly one"):
        world.patient.consent.grant(world.specialist.address, ["labs"])
    with pytest.raises(NotRegistered, match="not a registered provider"):
        world.patient.consent.grant(world.session(9).address, ["labs"], duration=60)
    with pytest.raises(InvalidInput, match="unknown action"):
        world.patient.consent.grant(world.clinic.address, ["labs"], actions="delete", duration=60)
    with pytest.raises(InvalidInput, match="holds no consent"):
        world.patient.consent.revoke(world.er.address)
