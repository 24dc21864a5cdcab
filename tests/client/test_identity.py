"""session.identity: patient registration and the keyring."""

from __future__ import annotations

import pytest

from helpers.client import World
from medledger import InvalidInput, NotRegistered
from medledger.codes import Category


def test_register_publishes_identity_and_keyring(world: World) -> None:
    newcomer = world.session(7)
    with pytest.raises(NotRegistered):
        newcomer.identity.patient_id()
    info = newcomer.identity.register()
    assert newcomer.identity.patient_id() == info.patient_id == world.pid + 1
    assert info.controller == newcomer.address
    patient = newcomer.contract.get_patient(info.patient_id)
    assert patient.keyring == info.keyring_cid.digest
    keyring = newcomer.identity.keyring()
    assert keyring.patient_id == info.patient_id
    assert int(Category.LABS) in keyring.categories


def test_register_twice_or_as_provider_is_refused(world: World) -> None:
    with pytest.raises(InvalidInput, match="already controls"):
        world.patient.identity.register()
    with pytest.raises(InvalidInput, match="is a provider"):
        world.clinic.identity.register()
    with pytest.raises(InvalidInput, match="identity key is"):
        world.session(8).identity.register(suite="mlkem768-x25519")
