"""Custodian mode for batched writes (``session.records.add_batch``, what the FHIR importer uses),
against real custodian processes on Anvil.

The attack: a provider with write consent adds a batch holding records of a category the patient
put in custodian mode. If the batch sealed them to the category's key epochs like direct records,
every grantee holding a key bundle would decrypt them offline, forever, with no log entry.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.custodian_mode import CustodianWorld, make_custodian_world
from medledger.crypto.pre import is_custodial
from medledger.errors import KeyNotAvailable

pytestmark = [pytest.mark.anvil]

HOUR = 3600


@pytest.fixture(scope="module")
def cw(anvil_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CustodianWorld]:
    w = make_custodian_world(anvil_url, Path(tmp_path_factory.mktemp("custodial-batch")))
    # the clinic writes (and reads) allergies (custodial) and medications (direct); the
    # specialist only reads both
    w.patient.consent.grant(
        w.clinic.address, ["allergies", "medications"], ["treatment"], ["read", "write"],
        duration=4 * HOUR,
    )  # fmt: skip
    w.patient.consent.grant(
        w.specialist.address, ["allergies", "medications"], ["treatment"], duration=4 * HOUR
    )
    yield w
    w.stop()


def _served(cw: CustodianWorld, rid: bytes, reader: str) -> int:
    """Custodians whose decision log shows a served re-encryption of ``rid`` for ``reader``."""
    subject = "0x" + rid.hex()
    return sum(
        any(
            d["action"] == "reencryption" and d["outcome"] == "served"
            and d["subject"] == subject and d["reader"] == reader
            for d in c.client.decisions(cw.pid)
        )  # fmt: skip
        for c in cw.custodians
    )


def test_a_batch_does_not_hand_grantees_offline_keys_to_custodial_records(
    cw: CustodianWorld,
) -> None:
    allergy, medication = b"allergy: latex (urticaria)", b"medication: lisinopril 10 mg"
    added = cw.clinic.records.add_batch(
        cw.pid, [(allergy, "allergies"), (medication, "medications")]
    )
    a_rid, m_rid = (r.record_id for r in added)
    # one addRecordBatch transaction registered both
    assert added[0].tx is not None and added[1].tx is not None
    assert added[0].tx.tx_hash == added[1].tx.tx_hash

    # the attack: grantees try every key they hold, offline, without any log entry
    for grantee in (cw.specialist, cw.clinic):
        with pytest.raises(KeyNotAvailable):
            grantee.access.open_offline(a_rid, patient_id=cw.pid)
        # the direct record of the same batch is what key bundles are for
        assert grantee.access.open_offline(m_rid, patient_id=cw.pid) == medication
    assert is_custodial(cw.specialist.records.fetch_sealed(a_rid, patient_id=cw.pid))

    # a logged read through the custodians works, and they logged serving it
    read = cw.specialist.custodians.read(a_rid, "treatment", patient_id=cw.pid)
    assert read.plaintext == allergy
    assert len(read.served_by) == 2
    assert _served(cw, a_rid, cw.specialist.address) >= 2
    # and the plain SDK read path goes through them too
    assert cw.clinic.access.read(a_rid, "treatment", patient_id=cw.pid) == allergy
    assert _served(cw, a_rid, cw.clinic.address) >= 2
    # the patient keeps the direct path
    assert cw.patient.access.open_own(a_rid) == allergy
