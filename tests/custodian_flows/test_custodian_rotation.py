"""A patient's Umbral keys survive identity rotation and guardian recovery (issue 16).

Custodial records are encapsulated to the patient's Umbral delegating key, and the custodians
check every key fragment against the kfrag-verifying key the patient's on-chain policy names.
If those keys followed the identity key, a rotated or recovered patient could no longer open its
own custodial records nor delegate them to a new grantee. Real custodian processes on Anvil.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.custodian_mode import ETHER, CustodianWorld, make_custodian_world
from medledger import codes
from medledger.client import Session
from medledger.client.types import Party
from medledger.crypto import IdentityKey, Keyring
from medledger.crypto.pre import PatientUmbralKeys

pytestmark = [pytest.mark.anvil]

DAY = 86_400
ALLERGY = b'{"resourceType":"AllergyIntolerance","code":{"text":"penicillin"}}'
LATER = b'{"resourceType":"AllergyIntolerance","code":{"text":"latex"}}'


@pytest.fixture(scope="module")
def cw(anvil_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CustodianWorld]:
    w = make_custodian_world(anvil_url, Path(tmp_path_factory.mktemp("custodian-rotation")))
    yield w
    w.stop()


def _fresh(cw: CustodianWorld, suite: str = "x25519") -> Session:
    party = Party.generate(suite)
    cw.ml.fund(party.address, ETHER)
    return cw.ml.session(party)


def _provider(cw: CustodianWorld, name: str) -> Session:
    s = _fresh(cw)
    cw.consortium.providers.register(s.party, name=name)
    return s


def _still_the_patients(cw: CustodianWorld, patient: Session, rid: bytes, policy: bytes) -> None:
    """``patient`` (a session of the new identity key) opens its old custodial record, its
    policy still names the same Umbral keys, and a provider granted only now reads the old
    record through the custodians (the delegation is signed with the unchanged kfrag key)."""
    assert patient.custodians.read(rid, "treatment").plaintext == ALLERGY
    assert patient.custodians.policy().umbral_keys == policy
    later = patient.records.add(patient.identity.patient_id(), LATER, "allergies").record_id
    assert patient.custodians.read(later, "treatment").plaintext == LATER
    newcomer = _provider(cw, "New clinic")
    patient.consent.grant(newcomer.address, ["allergies"], ["treatment"], duration=DAY)
    delegated = patient.custodians.last_receipts[newcomer.address]
    assert delegated.complete
    pid = patient.identity.patient_id()
    for rec, text in ((rid, ALLERGY), (later, LATER)):
        read = newcomer.custodians.read(rec, "treatment", patient_id=pid)
        assert read.plaintext == text
        assert not read.forged
    newcomer.custodians.close()


def test_rotated_patient_keeps_its_custodial_records(cw: CustodianWorld) -> None:
    patient = cw.patient
    rid = patient.records.add(cw.pid, ALLERGY, "allergies").record_id
    patient.consent.grant(cw.clinic.address, ["allergies"], ["treatment"], duration=DAY)
    assert cw.clinic.custodians.read(rid, "treatment", patient_id=cw.pid).plaintext == ALLERGY
    policy = patient.custodians.policy().umbral_keys
    new_identity = IdentityKey.generate(patient.party.identity.suite)
    info = patient.recovery.rotate(new_identity)
    # the clinic's receiving key follows the patient's encryption key: fresh fragments for it
    assert cw.clinic.address in info.redelegated
    rotated = cw.ml.session(Party(patient.party.account, new_identity))
    try:
        _still_the_patients(cw, rotated, rid, policy)
        # the grantee of before the rotation keeps reading (a fresh session: nothing cached)
        clinic = cw.ml.session(cw.clinic.party)
        read = clinic.custodians.read(rid, "treatment", patient_id=cw.pid)
        assert read.plaintext == ALLERGY
        clinic.custodians.close()
    finally:
        rotated.custodians.close()


def test_recovered_patient_keeps_its_custodial_records(cw: CustodianWorld) -> None:
    """Lost device: the new device's fresh identity key takes over through 2 of 3 guardians."""
    patient = _fresh(cw)
    pid = patient.identity.register().patient_id
    patient.custodians.configure(cw.addresses, 2, ["allergies"])
    rid = patient.records.add(pid, ALLERGY, "allergies").record_id
    patient.consent.grant(cw.clinic.address, ["allergies"], ["treatment"], duration=7 * DAY)
    policy = patient.custodians.policy().umbral_keys
    g1 = _provider(cw, "Family doctor")
    g2 = _fresh(cw)
    g2.identity.register()
    g3 = _fresh(cw)
    setup = patient.recovery.setup([g1.address, g2.address, g3.address], 2, DAY, paper=[g3.address])
    words = setup.paper_shares[g3.address]
    patient.custodians.close()
    del patient  # the device is gone, and its keys with it

    device = _fresh(cw)
    request = device.recovery.request(pid)
    g1.recovery.approve_request(request.request_id)
    g1.recovery.reshare(request.request_id)
    g3.recovery.approve_request(request.request_id)
    cw.ml.increase_time(DAY + 1)
    done = device.recovery.complete(pid, paper_shares=[words])
    assert device.identity.patient_id() == pid
    assert done.rotation.redelegated == (cw.clinic.address,)
    try:
        _still_the_patients(cw, device, rid, policy)
        clinic = cw.ml.session(cw.clinic.party)  # the grantee of before the loss keeps reading
        assert clinic.custodians.read(rid, "treatment", patient_id=pid).plaintext == ALLERGY
        clinic.custodians.close()
    finally:
        device.custodians.close()


def _as_before_seeds(cw: CustodianWorld, patient: Session) -> tuple[int, bytes]:
    """``patient`` as an SDK of before Umbral seeds left it: a keyring without a seed, and a
    policy naming the Umbral keys derived from its identity key, with one custodial record."""
    pid = patient.identity.register().patient_id
    ctx = patient.identity._ctx
    keyring = patient.identity.keyring()
    legacy = Keyring(pid, keyring.suite, [e for c in keyring.categories for e in keyring.epochs(c)])
    cid = ctx.store.put(legacy.to_document(patient.party.identity.public_key))
    ctx.contract.set_keyring(ctx.keys.keyring_digest(pid), cid.digest)
    assert patient.identity.keyring().umbral_seed is None
    derived = PatientUmbralKeys.derive(patient.party.identity, patient.custodians._domain(), pid)
    mask = codes.mask([int(codes.category("allergies"))])
    patient.custodians.registry.set_policy(pid, cw.addresses, 2, mask, derived.public_keys())
    rid = patient.records.add(pid, ALLERGY, "allergies").record_id
    assert patient.custodians.read(rid, "treatment").plaintext == ALLERGY  # the fallback
    return pid, rid


def test_a_patient_configured_before_seeds_keeps_its_keys_through_rotation(
    cw: CustodianWorld,
) -> None:
    patient = _fresh(cw)
    pid, rid = _as_before_seeds(cw, patient)
    policy = patient.custodians.policy().umbral_keys
    old = patient.party.identity
    new_identity = IdentityKey.generate(old.suite)
    patient.recovery.rotate(new_identity)  # the rotation writes the old derived seed in
    rotated = cw.ml.session(Party(patient.party.account, new_identity))
    try:
        domain = rotated.custodians._domain()
        assert rotated.identity.keyring().umbral_seed == PatientUmbralKeys.legacy_seed(
            old, domain, pid
        )
        _still_the_patients(cw, rotated, rid, policy)
    finally:
        rotated.custodians.close()
        patient.custodians.close()


def test_configure_moves_an_older_keyring_to_a_seed_keeping_its_keys(cw: CustodianWorld) -> None:
    patient = _fresh(cw)
    pid, rid = _as_before_seeds(cw, patient)
    policy = patient.custodians.policy().umbral_keys
    patient.custodians.configure(cw.addresses, 2, ["allergies", "labs"])
    seed = patient.identity.keyring().umbral_seed
    domain = patient.custodians._domain()
    assert seed == PatientUmbralKeys.legacy_seed(patient.party.identity, domain, pid)
    assert patient.custodians.policy().umbral_keys == policy  # same keys: nothing orphaned
    assert patient.custodians.read(rid, "treatment").plaintext == ALLERGY
    patient.custodians.close()
