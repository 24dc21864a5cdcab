"""Issue 15 end to end: a patient who lost every key gets all their records back through 2 of 3
guardians (one holding a paper share), then grants, revokes, and the old key is worthless for
anything added afterwards. On the in-process chain and on Anvil with the js-ipfs daemon."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.recovery import DELAY, build, fresh
from medledger import Medledger
from medledger.client import Party
from medledger.crypto import IdentityKey, Keyring, Suite, open_record
from medledger.errors import AccessDenied, DecryptionFailed, KeyNotAvailable

NEW_LAB = b'{"resourceType":"Observation","code":{"text":"HbA1c"},"valueQuantity":{"value":5.7}}'
NEW_ALLERGY = b'{"resourceType":"AllergyIntolerance","code":{"text":"latex"}}'


def run_recovery(ml: Medledger) -> dict[str, float]:
    w, patient = build(ml)
    pid = w.pid
    # The thief's copy: whoever took the old device holds the old identity key. The recovery
    # below never sees it; it is only used at the end to show it opens nothing new.
    stolen = IdentityKey.from_private_bytes(patient.party.identity.private_bytes())
    paper_words = w.setup.paper_shares[w.guardians[2].address]
    # SLIP-39: a 16-byte secret is 20 words (X25519 patients), a 32-byte one 33 (hybrid, the
    # default for new parties)
    hybrid = stolen.suite is Suite.MLKEM768_X25519
    assert len(paper_words.split()) == (33 if hybrid else 20)
    # --- the loss: the keystore is gone, nothing of the patient's keys is used from here on ---
    del patient

    t0 = time.perf_counter()
    gas = 0
    device = fresh(ml, Party.generate())  # new phone: fresh account and identity key
    request = device.recovery.request(pid)
    g1, _, g3 = w.guardians
    # guardian 1 approves and reshares; guardian 3 (paper) approves and types the words in on
    # the new device; guardian 2 does nothing
    gas += g1.recovery.approve_request(request.request_id).gas_used
    gas += g1.recovery.reshare(request.request_id).gas_used
    gas += g3.recovery.approve_request(request.request_id).gas_used
    ml.increase_time(DELAY + 1)
    done = device.recovery.complete(pid, paper_shares=[paper_words])
    gas += done.gas_used
    wall = time.perf_counter() - t0
    assert device.identity.patient_id() == pid
    assert done.rotation.rotated  # every category moved to a new epoch
    assert set(done.rotation.refreshed) == {w.clinic.address, w.specialist.address}
    # fresh shares for the guardians, a new paper share for guardian 3 (the old one is dead)
    new_paper = done.rotation.paper_shares[g3.address]
    assert new_paper != paper_words
    assert device.recovery.shares().identity_key == device.party.identity.public_key

    # the patient reads every old record
    for rid, (_, data) in w.records.items():
        assert device.access.read(rid, "treatment") == data
    # the grantees still read (refreshed bundles), new records included
    new_lab = device.records.add(pid, NEW_LAB, "labs")
    assert w.clinic.access.read(new_lab.record_id, "treatment") == NEW_LAB
    assert w.specialist.access.read(new_lab.record_id, "treatment") == NEW_LAB
    # a new provider granted after the recovery
    device.consent.grant(w.newdoc.address, ["labs"], duration=86_400 * 30)
    assert w.newdoc.access.read(new_lab.record_id, "treatment") == NEW_LAB
    # an old grantee revoked cannot read what is added afterwards, not even with its bundle
    device.consent.revoke(w.specialist.address)
    after_revoke = device.records.add(pid, NEW_LAB + b" ", "labs")
    with pytest.raises(AccessDenied):
        w.specialist.access.read(after_revoke.record_id, "treatment")
    sealed = ml.store.get(after_revoke.cid)
    with pytest.raises(KeyNotAvailable):
        open_record(sealed, w.specialist.keys.latest_bundle(pid))
    assert w.clinic.access.read(after_revoke.record_id, "treatment") == NEW_LAB + b" "
    # the emergency kit was resealed: break-glass reads a record added after the recovery
    allergy = device.records.add(pid, NEW_ALLERGY, "allergies")
    w.er.emergency.break_glass(pid, "unconscious_patient", duration=3600)
    assert w.er.access.read(allergy.record_id, "emergency") == NEW_ALLERGY

    # the old identity key: no current keyring, and no key for anything added after recovery
    current = device.contract.get_patient(pid).keyring
    with pytest.raises(DecryptionFailed):
        Keyring.load(ml.documents.get(current), stolen)
    old_rings = [
        Keyring.load(ml.documents.get(bytes(e.args["keyring"])), stolen)
        for e in device.contract.get_events("KeyringUpdated", argument_filters={"patientId": pid})
        if _opens(ml, bytes(e.args["keyring"]), stolen)
    ]
    assert old_rings  # the thief does hold the pre-recovery keyrings ...
    for rec in (new_lab, after_revoke, allergy):
        for ring in old_rings:  # ... and they open nothing added after the recovery
            with pytest.raises(KeyNotAvailable):
                open_record(ml.store.get(rec.cid), ring)
    return {"gas": gas, "wall_s": wall}


def _opens(ml: Medledger, digest: bytes, key: IdentityKey) -> bool:
    try:
        Keyring.load(ml.documents.get(digest), key)
    except DecryptionFailed:
        return False
    return True


def test_full_recovery_in_process(tmp_path: Path) -> None:
    with Medledger.embedded(store_dir=tmp_path / "store") as ml:
        figures = run_recovery(ml)
    print(f"\nfull recovery (in-process): {figures['gas']:,} gas, {figures['wall_s']:.2f} s")


@pytest.fixture
def anvil_ipfs(anvil_url: str, ipfs_api: str) -> Iterator[Medledger]:
    with Medledger.open(anvil_url, store=ipfs_api, deploy=True) as ml:
        yield ml


@pytest.mark.anvil
@pytest.mark.ipfs
def test_full_recovery_on_anvil_with_ipfs(anvil_ipfs: Medledger) -> None:
    figures = run_recovery(anvil_ipfs)
    print(f"\nfull recovery (Anvil + js-ipfs): {figures['gas']:,} gas, {figures['wall_s']:.2f} s")
