"""session.recovery: guardians move the patient to a new controller."""

from __future__ import annotations

import pytest

from helpers.client import World
from medledger import InvalidInput, NotRegistered, TransactionFailed


def test_guardian_recovery(world: World) -> None:
    owner, g1, g2, new = (world.session(i) for i in (5, 6, 7, 8))
    pid = owner.identity.register().patient_id
    with pytest.raises(InvalidInput):
        owner.recovery.set_guardians([g1.address, g1.address], 1, 60)
    with pytest.raises(InvalidInput):  # v2: the delay is 1 to 90 days
        owner.recovery.set_guardians([g1.address, g2.address], 2, 3600)
    owner.recovery.set_guardians([g1.address, g2.address], 2, 86_400)
    g1.recovery.approve(pid, new.address)
    g2.recovery.approve(pid, new.address)
    world.ml.increase_time(86_401)
    with pytest.raises(TransactionFailed):  # v2: only the candidate completes the recovery
        world.er.recovery.accept(pid)
    new.recovery.accept(pid)
    assert new.identity.patient_id() == pid
    with pytest.raises(NotRegistered):
        owner.recovery.cancel()
