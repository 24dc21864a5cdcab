"""``read_many`` looks up a patient's directory and keys once per call, yet every record of the
batch is still checked on its own (a back-dated record among honest ones is refused), and the
keys are still checked against the published directory (a bundle with unpublished keys is
refused in a batch as in a single read)."""

from __future__ import annotations

import pytest

from helpers.client import World, add_backdated_vitals, grant_unpublished_allergy_keys
from medledger.errors import KeyMismatch, RecordTimeMismatch


def test_a_back_dated_record_after_honest_ones_is_refused(world: World) -> None:
    honest = [
        world.clinic.records.add(world.pid, b"vitals: HR %d" % i, "vitals").record_id
        for i in range(3)
    ]
    assert world.clinic.access.read_many(honest, "treatment") == [
        b"vitals: HR 0", b"vitals: HR 1", b"vitals: HR 2"
    ]  # fmt: skip
    bad = add_backdated_vitals(world)
    with pytest.raises(RecordTimeMismatch, match="back-dated or stale"):
        world.clinic.access.read_many([*honest, bad], "treatment")
    with pytest.raises(RecordTimeMismatch):
        world.patient.access.read_many([*honest, bad], "treatment")


def test_a_bundle_of_unpublished_keys_is_refused_in_a_batch(world: World) -> None:
    patient, specialist = world.patient, world.specialist
    grant_unpublished_allergy_keys(world)
    recs = [patient.records.add(world.pid, b"allergy %d" % i, "allergies") for i in range(2)]
    with pytest.raises(KeyMismatch, match="not the one patient"):
        specialist.access.read_many([r.record_id for r in recs], "treatment")
