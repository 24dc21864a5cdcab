"""session.identity: patient registration and the keyring."""

from __future__ import annotations

import pytest

from helpers.client import World
from medledger import InvalidInput, NotAuthorized, NotRegistered, SignatureError
from medledger.client import Party
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


def test_controller_change_is_two_step_and_kills_outstanding_signatures(world: World) -> None:
    owner = world.session(8)
    pid = owner.identity.register().patient_id
    owner.consent.grant(world.clinic.address, ["labs"], ["treatment"], duration=86400)
    signed = owner.consent.sign_grant(world.specialist.address, ["labs"], duration=3600)
    new_device = world.ml.session(Party(world.ml.dev_party(9).account, owner.party.identity))
    with pytest.raises(NotAuthorized):  # nothing proposed yet
        new_device.identity.accept_controller(pid)
    owner.identity.propose_controller(new_device.address)
    assert owner.contract.get_patient(pid).pending_controller == new_device.address
    new_device.identity.accept_controller(pid)
    assert new_device.identity.patient_id() == pid
    with pytest.raises(NotRegistered):
        owner.identity.patient_id()
    # the controller change moved the signature epoch: the old controller's signature is dead
    with pytest.raises(SignatureError):
        world.er.relay.submit(signed)
    assert not new_device.contract.get_consent(pid, world.specialist.address).exists
