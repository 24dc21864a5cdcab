"""Issue 14 points 6, 7 and 8 through the SDK: what ``access.read`` checks before decrypting.

Each test runs a misbehaving patient or writer with the raw contract calls and crypto functions
an attacker has (the SDK's own flows refuse to do these things).
"""

from __future__ import annotations

import io

import pytest

from helpers.client import World, add_backdated_vitals, grant_unpublished_allergy_keys
from medledger import codes
from medledger.crypto import (
    Domain,
    read_header,
)
from medledger.errors import ContentTooLarge, KeyMismatch, RecordTimeMismatch, StaleKeyring


def _domain(world: World) -> Domain:
    return Domain.of(world.ml.chain.chain_id, world.patient.contract.address)


def test_a_bundle_key_the_patient_did_not_publish_is_refused(world: World) -> None:
    """Point 7: a malicious patient grants the specialist a bundle whose allergy keys are not the
    published ones (so that a crafted record reads differently to it than to the clinic: see
    tests/crypto/test_crypto_formats_v2.py, where old code gave "PENICILLIN – anaphylaxis" to one
    and "none known" to the other). Old code used the bundle's keys unchecked (verified: the read
    went on to decrypt); now the read stops with ``KeyMismatch`` before fetching the record."""
    patient, specialist = world.patient, world.specialist
    grant_unpublished_allergy_keys(world)
    rec = patient.records.add(world.pid, b"ALLERGIES: PENICILLIN - anaphylaxis", "allergies")
    with pytest.raises(KeyMismatch, match="not the one patient"):
        specialist.access.read(rec.record_id, "treatment")
    assert world.clinic.access.read(rec.record_id, "treatment").startswith(b"ALLERGIES")


def test_a_back_dated_record_is_refused(world: World) -> None:
    """Point 8: a writer with write consent seals a record dated ten days back (into an epoch
    former grantees hold) and registers it now. Old code (verified) let the patient read it
    without a word; now the header's ``created_at`` is checked against the block time the record
    was registered at (``RecordTimeMismatch``)."""
    record = add_backdated_vitals(world)
    with pytest.raises(RecordTimeMismatch, match="back-dated or stale"):
        world.patient.access.read(record, "treatment")


def test_a_writer_with_a_stale_keyring_fails_closed(world: World) -> None:
    """Point 8: ``addRecord`` names the keyring the record was sealed to; after the patient's
    keyring moved (a new grant's end makes a new epoch) the contract refuses the old one
    (``StaleKeyring``) and the SDK re-seals. This held on old code already (verified here so it
    stays so)."""
    clinic, patient = world.clinic, world.patient
    old = clinic.contract.get_patient(world.pid).keyring
    patient.consent.grant(world.specialist.address, ["vitals"], duration=12_345)
    assert clinic.contract.get_patient(world.pid).keyring != old
    cid = world.ml.store.put(b"sealed to the old keyring (contents do not matter here)")
    with pytest.raises(StaleKeyring):
        clinic.contract.add_record(world.pid, cid.digest, int(codes.Category.VITALS), 0x55, old)
    info = clinic.records.add(world.pid, b"vitals: HR 64", "vitals")  # the SDK names the new one
    assert patient.access.read(info.record_id, "treatment") == b"vitals: HR 64"


def test_reads_are_capped_and_large_records_stream(world: World) -> None:
    """Point 6 through the SDK: ``read`` refuses a sealed record above ``max_size`` before
    fetching it; ``read_into`` streams any size through a 0600 temp file into ``dst``."""
    data = bytes(range(256)) * 5000  # 1.28 MB
    info = world.patient.records.add(world.pid, data, "labs")
    with pytest.raises(ContentTooLarge):
        world.patient.access.read(info.record_id, "treatment", max_size=1 << 20)
    out = io.BytesIO()
    header = world.patient.access.read_into(info.record_id, "treatment", out)
    assert out.getvalue() == data
    assert header.version == 2
    assert world.patient.access.read(info.record_id, "treatment", max_size=2 << 20) == data


def test_records_name_their_deployment(world: World) -> None:
    """Point 10: new records are format v2, bound to this chain id and contract."""
    info = world.patient.records.add(world.pid, b"labs: Na 140", "labs")
    h = read_header(world.ml.store.get(info.cid))
    assert (h.version, h.domain) == (2, _domain(world))
