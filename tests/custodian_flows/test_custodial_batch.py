"""Custodian mode for batched writes (``session.records.add_batch``, what the FHIR importer uses),
against real custodian processes on Anvil.

The attack: a provider with write consent adds a batch holding records of a category the patient
put in custodian mode. If the batch sealed them to the category's key epochs like direct records,
every grantee holding a key bundle would decrypt them offline, forever, with no log entry.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.custodian_mode import CustodianWorld, make_custodian_world
from helpers.fhir_import import synthea_dir
from medledger.codes import Category
from medledger.crypto.pre import is_custodial, read_custodial_header, seal_custodial
from medledger.custodian import protocol as p
from medledger.errors import CustodianRefused, CustodiansUnavailable, KeyNotAvailable
from medledger.fhir.importer import Importer, Summary
from medledger.fhir.journal import Journal
from medledger.fhir.patients import PatientMap
from medledger.fhir.reader import Source
from medledger.fhir.sample import resource_counts, subset

pytestmark = [pytest.mark.anvil]

HOUR = 3600


@pytest.fixture(scope="module")
def cw(anvil_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CustodianWorld]:
    w = make_custodian_world(anvil_url, Path(tmp_path_factory.mktemp("custodial-batch")))
    # the clinic writes (and reads) every category (allergies, conditions and labs are
    # custodial); the specialist only reads allergies and medications (direct)
    every = [c.name.lower() for c in Category]
    w.patient.consent.grant(
        w.clinic.address, every, ["treatment"], ["read", "write"], duration=4 * HOUR
    )
    w.patient.consent.grant(
        w.specialist.address, ["allergies", "medications"], ["treatment"], duration=4 * HOUR
    )
    yield w
    w.stop()


def _served(cw: CustodianWorld, rid: bytes, reader: str) -> int:
    """Custodians whose decision log shows a served re-encryption of ``rid`` for ``reader``."""
    want = ("reencryption", "served", "0x" + rid.hex(), reader)
    return sum(
        any(
            (d["action"], d["outcome"], d["subject"], d["reader"]) == want
            for d in c.client.decisions(cw.pid)
        )
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
    assert len({r.tx.tx_hash for r in added if r.tx is not None}) == 1

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
    # the patient keeps the direct path (its own Umbral key, no custodian asked)
    own = cw.patient.custodians.read(a_rid, "treatment")
    assert own.plaintext == allergy
    assert own.served_by == ()
    # ... and opens it locally, unlogged, like its direct records (was: "bad magic")
    entries = len(cw.patient.audit.trail().entries)
    assert cw.patient.access.open_own(a_rid) == allergy
    assert cw.patient.access.open_own(m_rid) == medication
    assert len(cw.patient.audit.trail().entries) == entries


def _restart(cw: CustodianWorld, stopped: list[int]) -> None:
    for i in stopped:
        cw.custodians[i].start()
    for i in stopped:
        cw.custodians[i].wait_ready()


def test_a_full_batch_of_custodial_records_registers_and_reads_back(
    cw: CustodianWorld,
) -> None:
    texts = [f"allergy #{i}".encode() for i in range(256)]
    added = cw.clinic.records.add_batch(cw.pid, [(t, "allergies") for t in texts])
    subjects = {"0x" + r.record_id.hex() for r in added}
    for c in cw.custodians:  # every record checked on-chain and its capsule stored
        decisions = c.client.decisions(cw.pid)
        stored = {
            d["subject"] for d in decisions if (d["action"], d["outcome"]) == ("capsule", "stored")
        }
        assert subjects <= stored
    for i in (0, 63, 64, 255):  # across the custodians' batched chain lookups
        read = cw.specialist.custodians.read(added[i].record_id, "treatment", patient_id=cw.pid)
        assert read.plaintext == texts[i]


def test_custodians_down_after_the_batch_landed_then_registration_completes(
    cw: CustodianWorld,
) -> None:
    for i in (1, 2):  # k = 2: one custodian left is not enough
        cw.custodians[i].stop()
    try:
        with pytest.raises(CustodiansUnavailable) as exc:
            cw.clinic.records.add_batch(cw.pid, [(b"allergy: peanuts", "allergies")])
        assert set(exc.value.unavailable) == {cw.addresses[1], cw.addresses[2]}
        assert exc.value.hint is not None
        assert "complete_registration" in exc.value.hint
        # on-chain: the chain cannot take it back, so the custodians must learn its capsule
        added = cw.clinic.records.timeline(cw.pid)[-1]
        assert added.category is Category.ALLERGIES
        assert is_custodial(cw.clinic.records.fetch_sealed(added.record_id, patient_id=cw.pid))
    finally:
        _restart(cw, [1, 2])
    # the custodians that were down never heard of it: a read finds too few fragments
    with pytest.raises(CustodiansUnavailable):
        cw.clinic.custodians.read(added.record_id, "treatment", patient_id=cw.pid)
    assert cw.clinic.custodians.complete_registration([(cw.pid, added.record_id)]) == 1
    # idempotent: a second completion changes nothing and is accepted
    assert cw.clinic.custodians.complete_registration([(cw.pid, added.record_id)]) == 1
    read = cw.clinic.custodians.read(added.record_id, "treatment", patient_id=cw.pid)
    assert read.plaintext == b"allergy: peanuts"


def _import(cw: CustodianWorld, src: Path, state: Path) -> Summary:
    scope = {
        "chain_id": cw.ml.chain.chain_id,
        "contract": cw.ml.contracts.medledger.address,
        "author": cw.clinic.address,
    }
    mapping = PatientMap.load(state / "patients.json")
    with Journal.open(state / "journal", scope) as journal:
        return Importer(cw.clinic, Source(src), journal, mapping, batch_size=8).run()


def test_an_import_stopped_by_custodians_down_finishes_registration_on_rerun(
    cw: CustodianWorld, tmp_path: Path
) -> None:
    synthea = synthea_dir()
    counts = resource_counts(synthea)
    fhir_id = min(counts, key=lambda f: counts[f])
    src = subset(synthea, [fhir_id], tmp_path / "export")
    state = tmp_path / "state"
    state.mkdir()
    PatientMap.load(state / "patients.json").add(fhir_id, cw.pid)
    before = len(cw.clinic.records.timeline(cw.pid))

    for i in (0, 2):
        cw.custodians[i].stop()
    try:
        with pytest.raises(CustodiansUnavailable):
            _import(cw, src, state)
        stopped_after = len(cw.clinic.records.timeline(cw.pid)) - before
        assert stopped_after > 0  # the first batch holding custodial records landed
        # still down: the re-run stops at the start, before the journal settles anything
        with pytest.raises(CustodiansUnavailable):
            _import(cw, src, state)
        assert len(cw.clinic.records.timeline(cw.pid)) - before == stopped_after
    finally:
        _restart(cw, [0, 2])

    summary = _import(cw, src, state)
    # the batch the custodians stopped is settled (found on-chain), the rest imported
    assert summary.resumed_records == stopped_after
    assert summary.records_already_imported == stopped_after
    assert summary.records_added == summary.records_planned - stopped_after
    timeline = cw.clinic.records.timeline(cw.pid)[before:]
    assert len(timeline) == summary.records_planned  # nothing twice, nothing missing
    custodial = [r for r in timeline if r.category.name.lower() in ("allergies", "conditions")]
    assert custodial, "the patient's export has conditions"
    # every record of the import reads back through the path its mode needs; the custodial ones
    # only through the custodians, each of which stored its capsule
    for rec in timeline:
        blob = cw.clinic.records.fetch_sealed(rec.record_id, patient_id=cw.pid)
        assert is_custodial(blob) == (rec in custodial)
        assert cw.clinic.access.read(rec.record_id, "treatment", patient_id=cw.pid)
    for rec in custodial:
        with pytest.raises(KeyNotAvailable):
            cw.clinic.access.open_offline(rec.record_id, patient_id=cw.pid)
        assert _served(cw, rec.record_id, cw.clinic.address) >= 2
    # a re-run adds nothing
    again = _import(cw, src, state)
    assert again.records_added == 0
    assert again.records_already_imported == summary.records_planned


def _unregistered_custodial_record(cw: CustodianWorld, text: bytes) -> tuple[bytes, bytes]:
    """A custodial record on-chain whose capsule no custodian has heard of (what a writer that
    crashed between the transaction and the registration leaves): (record id, capsule)."""
    policy = cw.clinic.custodians.policy(cw.pid)
    blob = seal_custodial(
        text, policy.delegating_key, category=int(Category.ALLERGIES), patient_id=cw.pid,
        author=cw.clinic.address, created_at=cw.ml.chain.now(),
        domain=cw.clinic.custodians._domain(),
    )  # fmt: skip
    cid = cw.ml.store.put(blob)
    keyring = cw.ml.patient(cw.pid).keyring
    cw.clinic.contract.add_record_batch(
        cw.pid, keyring, [(cid.digest, int(Category.ALLERGIES), 0x55)]
    )
    return cid.digest, read_custodial_header(blob).capsule_bytes


def test_batch_registration_checks_every_record_all_or_nothing(cw: CustodianWorld) -> None:
    custodian = cw.custodians[0]
    chain_id, medledger = cw.ml.chain.chain_id, cw.ml.contracts.medledger.address
    added = cw.clinic.records.add_batch(cw.pid, [(b"a1", "allergies"), (b"a2", "allergies")])
    known = [
        (r.record_id, p.capsule_digest(read_custodial_header(
            cw.clinic.records.fetch_sealed(r.record_id, patient_id=cw.pid)).capsule_bytes))
        for r in added
    ]  # fmt: skip
    fresh_rid, fresh_capsule = _unregistered_custodial_record(cw, b"a3")
    fresh = (fresh_rid, p.capsule_digest(fresh_capsule))

    def signed(
        who: str, entries: list[tuple[bytes, bytes]], count: int | None = None
    ) -> tuple[p.CapsuleRegistrationBatch, bytes]:
        b = p.CapsuleRegistrationBatch(
            cw.pid, len(entries) if count is None else count, p.capsule_entries_digest(entries),
            p.new_nonce(), cw.ml.chain.now() + 120,
        )  # fmt: skip
        return b, getattr(cw, who).custodians._sign(b)

    def refused(who: str, entries: list[tuple[bytes, bytes]], **kw: int) -> str:
        b, sig = signed(who, entries, **kw)
        with pytest.raises(CustodianRefused) as exc:
            custodian.client.register_capsules(b, entries, sig)
        return str(exc.value.code)

    def stored(rid: bytes) -> bool:
        return any(
            (d["action"], d["outcome"], d["subject"]) == ("capsule", "stored", "0x" + rid.hex())
            for d in custodian.client.decisions(cw.pid)
        )

    # each record gets the single registration's checks; one failing refuses the whole batch
    assert refused("clinic", [fresh, (os.urandom(32), os.urandom(32))]) == "unknown_record"
    assert refused("specialist", [fresh]) == "not_author"  # a provider, not its author
    assert refused("clinic", [fresh, (known[0][0], os.urandom(32))]) == "capsule_conflict"
    assert refused("clinic", [fresh], count=2) == "bad_request"
    too_many = [(os.urandom(32), os.urandom(32)) for _ in range(p.MAX_CAPSULE_BATCH + 1)]
    assert refused("clinic", too_many) == "bad_request"
    b, sig = signed("clinic", [fresh])
    with pytest.raises(CustodianRefused) as exc:  # entries that are not the signed ones
        custodian.client.register_capsules(b, [(fresh_rid, os.urandom(32))], sig)
    assert exc.value.code == "bad_entries"
    assert not stored(fresh_rid)  # nothing of a refused batch was kept

    # accepted: a signed receipt for this request; known records again are idempotent
    receipt = custodian.client.register_capsules(b, [fresh], sig)
    receipt.verify(chain_id, medledger, custodian.keys.address,
                   request_digest=b.digest(chain_id, medledger))  # fmt: skip
    assert receipt.receipt.action == p.ACTION_CAPSULES_REGISTERED
    assert receipt.receipt.subject == b.entries_digest
    assert stored(fresh_rid)
    with pytest.raises(CustodianRefused) as exc:  # the same signed request twice
        custodian.client.register_capsules(b, [fresh], sig)
    assert exc.value.code == "replayed"
    b2, sig2 = signed("patient", [fresh, *known])  # the controller may register too
    custodian.client.register_capsules(b2, [fresh, *known], sig2)


def test_a_writer_does_not_trust_a_stale_no_policy_for_a_category(cw: CustodianWorld) -> None:
    """The writer's session read the policy a moment ago (vitals: not custodial), then the
    patient put vitals in custodian mode: the next batch seals them in custodian mode anyway."""
    assert not cw.clinic.custodians.covers(cw.pid, "vitals")  # now cached in the clinic's session
    cw.patient.custodians.configure(cw.addresses, 2, ["allergies", "conditions", "labs", "vitals"])
    added = cw.clinic.records.add_batch(cw.pid, [(b"bp 120/80", "vitals")])
    rid = added[0].record_id
    assert is_custodial(cw.clinic.records.fetch_sealed(rid, patient_id=cw.pid))
    with pytest.raises(KeyNotAvailable):
        cw.clinic.access.open_offline(rid, patient_id=cw.pid)
    assert cw.clinic.access.read(rid, "treatment", patient_id=cw.pid) == b"bp 120/80"


def test_a_single_write_does_not_trust_a_stale_no_policy_either(cw: CustodianWorld) -> None:
    """As above, for ``records.add``: the policy the writer saw a moment ago said "direct"."""
    cw.patient.custodians.configure(cw.addresses, 2, ["allergies", "conditions", "labs"])
    assert not cw.clinic.custodians.covers_any(cw.pid, ["vitals"])  # read now, and cached
    assert not cw.clinic.custodians.covers(cw.pid, "vitals")  # what the cache says
    cw.patient.custodians.configure(cw.addresses, 2, ["allergies", "conditions", "labs", "vitals"])
    rid = cw.clinic.records.add(cw.pid, b"pulse 62", "vitals").record_id
    assert is_custodial(cw.clinic.records.fetch_sealed(rid, patient_id=cw.pid))
    with pytest.raises(KeyNotAvailable):
        cw.clinic.access.open_offline(rid, patient_id=cw.pid)
    assert cw.clinic.access.read(rid, "treatment", patient_id=cw.pid) == b"pulse 62"
