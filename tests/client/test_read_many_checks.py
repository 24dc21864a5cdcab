"""``read_many`` looks up a patient's directory and keys once per call, yet every record of the
batch is still checked on its own (a back-dated record among honest ones is refused), and the
keys are still checked against the published directory (a bundle with unpublished keys is
refused in a batch as in a single read)."""

from __future__ import annotations

import pytest

from helpers.client import World
from medledger import codes
from medledger.crypto import (
    Domain,
    Keyring,
    PrivateKey,
    PublicDirectory,
    seal_key_bundle,
    seal_record,
)
from medledger.crypto.epochs import EpochKey
from medledger.errors import KeyMismatch, RecordTimeMismatch


def _backdated(world: World) -> bytes:
    """A vitals record the clinic seals ten days back and registers now (raw calls)."""
    clinic = world.clinic
    p = clinic.contract.get_patient(world.pid)
    directory = PublicDirectory.from_document(world.ml.documents.get(p.keyring))
    sealed = seal_record(
        b"vitals: BP 120/80",
        directory,
        category=int(codes.Category.VITALS),
        author=clinic.address,
        created_at=world.ml.now() - 10 * 86400,
        domain=Domain.of(world.ml.chain.chain_id, clinic.contract.address),
    )
    cid = world.ml.store.put(sealed)
    clinic.contract.add_record(world.pid, cid.digest, int(codes.Category.VITALS), 0x55, p.keyring)
    return cid.digest


def test_a_back_dated_record_after_honest_ones_is_refused(world: World) -> None:
    honest = [
        world.clinic.records.add(world.pid, b"vitals: HR %d" % i, "vitals").record_id
        for i in range(3)
    ]
    assert world.clinic.access.read_many(honest, "treatment") == [
        b"vitals: HR 0", b"vitals: HR 1", b"vitals: HR 2"
    ]  # fmt: skip
    bad = _backdated(world)
    with pytest.raises(RecordTimeMismatch, match="back-dated or stale"):
        world.clinic.access.read_many([*honest, bad], "treatment")
    with pytest.raises(RecordTimeMismatch):
        world.patient.access.read_many([*honest, bad], "treatment")


def test_a_bundle_of_unpublished_keys_is_refused_in_a_batch(world: World) -> None:
    patient, specialist = world.patient, world.specialist
    allergies = int(codes.Category.ALLERGIES)
    honest = patient.keys.keyring(world.pid)
    fake = Keyring(
        world.pid,
        honest.suite,
        [
            EpochKey(
                e.category, e.epoch, e.valid_from, e.valid_until, PrivateKey.generate(honest.suite)
            )
            for e in honest.epochs(allergies)
        ],
    )
    last = honest.epochs(allergies)[-1].valid_until
    until = last or (world.ml.now() + 86400)
    bundle = seal_key_bundle(
        fake,
        categories=[allergies],
        valid_until=last,
        grantee=specialist.address,
        grantee_key=specialist.party.identity.public_key,
        domain=Domain.of(world.ml.chain.chain_id, patient.contract.address),
    )
    digest = world.ml.store.put(bundle).digest
    read, treatment = int(codes.Action.READ), codes.mask([codes.Purpose.TREATMENT])
    patient.contract.grant(specialist.address, 1 << allergies, read, treatment, 0, until, digest)
    recs = [patient.records.add(world.pid, b"allergy %d" % i, "allergies") for i in range(2)]
    with pytest.raises(KeyMismatch, match="not the one patient"):
        specialist.access.read_many([r.record_id for r in recs], "treatment")
