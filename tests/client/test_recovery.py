"""session.recovery: guardians move the patient to a new controller."""

from __future__ import annotations

import pytest

from helpers.client import World
from medledger import InvalidInput, NotRegistered


def test_guardian_recovery(world: World) -> None:
    owner, g1, g2, new = (world.session(i) for i in (5, 6, 7, 8))
    pid = owner.identity.register().patient_id
    with pytest.raises(InvalidInput):
        owner.recovery.set_guardians([g1.address, g1.address], 1, 60)
    owner.recovery.set_guardians([g1.address, g2.address], 2, 3600)
    g1.recovery.approve(pid, new.address)
    g2.recovery.approve(pid, new.address)
    world.ml.increase_time(3601)
    world.er.recovery.execute(pid)
    assert new.identity.patient_id() == pid
    with pytest.raises(NotRegistered):
        owner.recovery.cancel()
