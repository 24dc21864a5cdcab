"""``session.custodians`` on the embedded chain: the policy, its checks, and what happens when no
custodian answers (the end-to-end flows with real custodians are in tests/custodian_flows)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helpers.client import World, make_world
from medledger.chain.transactions import TxSender
from medledger.crypto.pre import PatientUmbralKeys, is_custodial
from medledger.errors import ContractError, CustodiansUnavailable, NotAuthorized

#: loopback ports nothing listens on (the registry stores any endpoint text)
DEAD = ["http://127.0.0.1:9", "http://127.0.0.1:7", "http://127.0.0.1:13"]


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    w = make_world()
    registry = w.ml.contracts.custodians
    assert registry is not None
    for i, url in enumerate(DEAD):
        party = w.ml.dev_party(5 + i)
        w.consortium.consortium.register_custodian(party.address, f"C{i}", url)
        registry.connect_as(TxSender(w.ml.chain, party.account)).set_custodian_key(
            bytes([i + 1]) * 32
        )
    yield w
    w.ml.close()


def _custodians(w: World) -> list[str]:
    return [w.ml.dev_party(5 + i).address for i in range(3)]


def test_policy_is_set_by_the_patient_with_its_umbral_keys(world: World) -> None:
    policy = world.patient.custodians.configure(_custodians(world), 2, ["allergies", "labs"])
    assert (policy.threshold, policy.categories) == (2, 0b1001)
    assert sorted(policy.custodians) == sorted(_custodians(world))
    seed = world.patient.identity.keyring().umbral_seed  # the keyring's, not the identity's
    assert seed is not None
    keys = PatientUmbralKeys.from_seed(seed)
    assert policy.umbral_keys == keys.public_keys()
    assert world.patient.custodians.covers(world.pid, "labs")
    assert not world.patient.custodians.covers(world.pid, "vitals")
    # another party cannot set it (the contract checks the MedLedger controller)
    with pytest.raises(NotAuthorized):
        world.clinic.custodians.registry.set_policy(
            world.pid, _custodians(world), 2, 1, keys.public_keys()
        )


def test_unregistered_custodian_is_refused(world: World) -> None:
    with pytest.raises(ContractError) as exc:
        world.patient.custodians.configure([world.clinic.address], 1, ["allergies"])
    assert exc.value.name == "CustodianRegistryNotActive"


def test_no_custodian_answers_add_names_all_and_says_what_landed(world: World) -> None:
    world.patient.custodians.configure(_custodians(world), 2, ["allergies"])
    with pytest.raises(CustodiansUnavailable) as exc:
        world.patient.records.add(world.pid, b"allergy: peanuts", "allergies")
    assert set(exc.value.unavailable) == set(_custodians(world))
    assert "registered on-chain" in str(exc.value)
    timeline = world.patient.records.timeline(world.pid)
    blob = world.patient.access._sealed(timeline[-1].record_id, world.pid)
    assert is_custodial(blob)
    # the patient still opens it directly (no custodian involved)
    read = world.patient.custodians.read(timeline[-1].record_id, "treatment")
    assert read.plaintext == b"allergy: peanuts"
    # a direct category is untouched by custodian mode
    vid = world.patient.records.add(world.pid, b"bp 118/76", "vitals").record_id
    assert not is_custodial(world.patient.access._sealed(vid, world.pid))
