"""Issue 14 point 5: a post-quantum patient's keys are never silently sealed to a classical key.

Old code (verified): ``consent.grant`` of a mlkem768-x25519 patient to an X25519-only provider
and ``emergency.configure`` with an X25519-only responder both succeeded without a word, handing
the patient's epoch private keys to a harvest-now-decrypt-later attacker. Now both raise
:class:`PostQuantumDowngrade` naming the grantee/responder and the override, and go through only
with ``allow_classical=True``.
"""

from __future__ import annotations

import pytest

from helpers.client import World
from medledger import Party, Session
from medledger.crypto import IdentityKey, Suite
from medledger.errors import PostQuantumDowngrade


@pytest.fixture(scope="module")
def pq_patient(world: World) -> Session:
    party = Party(world.ml.dev_party(7).account, IdentityKey.generate(Suite.MLKEM768_X25519))
    session = world.ml.session(party)
    session.identity.register()
    return session


def test_grant_to_a_classical_grantee_needs_the_override(world: World, pq_patient: Session) -> None:
    assert world.specialist.party.identity.suite is Suite.X25519
    before = world.ml.chain.block_number()
    with pytest.raises(PostQuantumDowngrade) as caught:
        pq_patient.consent.grant(world.specialist.address, ["labs"], duration=3600)
    assert world.specialist.address in str(caught.value)
    assert caught.value.recipients == (world.specialist.address,)
    assert "allow_classical=True" in (caught.value.hint or "")
    with pytest.raises(PostQuantumDowngrade):
        pq_patient.consent.sign_grant(world.specialist.address, ["labs"], duration=3600)
    with pytest.raises(PostQuantumDowngrade):
        pq_patient.consent.grant_many(
            [{"grantee": world.specialist.address, "categories": ["labs"], "duration": 3600}]
        )
    assert world.ml.chain.block_number() == before  # refused before any transaction
    # the explicit override goes through, and the grantee reads
    pq_patient.consent.grant(
        world.specialist.address, ["labs"], duration=3600, allow_classical=True
    )
    rec = pq_patient.records.add(pq_patient.patient_id(), b"HbA1c 6.1%", "labs")
    assert world.specialist.access.read(rec.record_id, "treatment") == b"HbA1c 6.1%"


def test_grant_to_a_hybrid_grantee_needs_nothing(world: World, pq_patient: Session) -> None:
    lab = Party(world.ml.dev_party(8).account, IdentityKey.generate(Suite.MLKEM768_X25519))
    world.consortium.providers.register(lab, name="PQ Lab")
    pq_patient.consent.grant(lab.address, ["labs"], duration=3600)


def test_kit_for_a_classical_responder_needs_the_override(
    world: World, pq_patient: Session
) -> None:
    assert world.er.party.identity.suite is Suite.X25519
    with pytest.raises(PostQuantumDowngrade, match=world.er.address):
        pq_patient.emergency.configure(responders=[world.er.address])
    pq_patient.emergency.configure(responders=[world.er.address], allow_classical=True)


def test_new_parties_are_post_quantum_by_default() -> None:
    assert Party.generate().identity.suite is Suite.MLKEM768_X25519
    assert IdentityKey.generate().suite is Suite.MLKEM768_X25519
