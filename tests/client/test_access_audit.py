"""session.access (logged reads) and session.audit (the verified trail)."""

from __future__ import annotations

import pytest

from helpers.client import World
from medledger import AccessDenied, InvalidInput
from medledger.codes import Outcome


def test_read_many_and_the_trail(world: World) -> None:
    lab = world.clinic.records.add(world.pid, b"lab", "labs")
    note = world.patient.records.add(world.pid, b"note", "notes")
    start = world.patient.audit.trail().entries
    got = world.clinic.access.read_many([lab.record_id, note.record_id], "treatment")
    assert got[0] == b"lab"
    assert isinstance(got[1], AccessDenied)
    result = world.clinic.access.log(lab.record_id, "treatment")
    assert result.allowed
    assert world.clinic.access.last_gas == result.tx.gas_used
    assert world.patient.access.read(note.record_id, "patient_request") == b"note"
    trail = world.patient.audit.trail()
    assert trail.verified
    new = trail.entries[len(start) :]
    assert [e.outcome for e in new] == [
        Outcome.ALLOWED_CONSENT,
        Outcome.DENIED_CATEGORY,
        Outcome.ALLOWED_CONSENT,
        Outcome.ALLOWED_PATIENT,
    ]
    assert new[0].accessor_name == "Riverside Clinic"
    assert new[3].accessor_name == "patient"
    with pytest.raises(InvalidInput):
        world.clinic.access.read_many([], "treatment")
