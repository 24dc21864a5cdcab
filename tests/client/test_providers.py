"""session.providers: the consortium's registry."""

from __future__ import annotations

import pytest

from helpers.client import World
from medledger import InvalidInput, NotAuthorized, Party


def test_only_the_owner_registers(world: World) -> None:
    with pytest.raises(NotAuthorized):
        world.patient.providers.register(Party.generate(), name="Rogue Clinic")
    with pytest.raises(InvalidInput):
        world.consortium.providers.register(Party.generate(), name="  ")


def test_register_suspend_reinstate(world: World) -> None:
    lab = Party.generate("mlkem768-x25519")
    world.consortium.providers.register(lab, name="North Lab")
    assert world.consortium.providers.name(lab.address) == "North Lab"
    entry = world.consortium.providers.get(lab.address)
    assert entry.status == 1
    # a post-quantum key is published as a key document, read back by digest
    key = world.ml.public_key_of_provider(entry)
    assert key == lab.identity.public_key
    world.consortium.providers.suspend(lab.address)
    assert world.consortium.providers.get(lab.address).status == 2
    with pytest.raises(InvalidInput, match="suspended"):
        world.patient.consent.grant(lab.address, ["labs"], duration=3600)
    world.consortium.providers.reinstate(lab.address)
    assert world.consortium.providers.get(lab.address).status == 1
    assert world.consortium.providers.name(world.patient.address) is None
