"""Custodian mode end to end (issue 16): the SDK against real custodian processes on Anvil.

One world per module (3 custodians, k = 2); tests that move the chain clock or stop custodians
come last in the file and leave the world usable for the ones after them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import umbral_pre as umbral

from helpers.custodian_mode import CustodianWorld, make_custodian_world
from medledger.client import Session
from medledger.client.custodial_read import through_custodians
from medledger.client.custodial_types import CustodialRead
from medledger.client.types import AccessResult, Party
from medledger.crypto.pre import (
    PatientUmbralKeys,
    is_custodial,
    open_custodial_reencrypted,
    read_custodial_header,
    receiving_key,
    verify_cfrag,
)
from medledger.custodian import protocol as p
from medledger.errors import (
    AccessDenied,
    ConsentExpired,
    CustodiansUnavailable,
    DecryptionFailed,
    KeyNotAvailable,
)
from medledger.hashing import keccak

pytestmark = [pytest.mark.anvil]

HOUR = 3600


@pytest.fixture(scope="module")
def cw(anvil_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CustodianWorld]:
    w = make_custodian_world(anvil_url, Path(tmp_path_factory.mktemp("custodians")))
    yield w
    w.stop()


def _add(cw: CustodianWorld, text: bytes, category: str = "allergies") -> bytes:
    return cw.patient.records.add(cw.pid, text, category).record_id


def _blob(cw: CustodianWorld, rid: bytes) -> bytes:
    return cw.clinic.access._sealed(rid, cw.pid)


def _refused_by_all(cw: CustodianWorld, reader: str, access: AccessResult, blob: bytes) -> set[str]:
    """Present ``access`` (a logged access) to every custodian for ``blob``'s capsule: all
    must refuse; returns their reason codes."""
    return _refused_by_all_for(getattr(cw, reader), cw, access, blob)


def _refused_by_all_for(
    session: Session, cw: CustodianWorld, access: AccessResult, blob: bytes
) -> set[str]:
    capsule = read_custodial_header(blob).capsule_bytes
    with pytest.raises(CustodiansUnavailable) as exc:
        through_custodians(session.custodians, blob, access, capsule)
    assert set(exc.value.unavailable) == set(cw.addresses)
    return {why.split(":")[0] for why in exc.value.unavailable.values()}


def _try_with_everything(
    cw: CustodianWorld, reader: str, held: list[CustodialRead], rid: bytes
) -> None:
    """What a reader holding everything it ever received can attempt offline on ``rid``."""
    session = getattr(cw, reader)
    blob = _blob(cw, rid)
    header = read_custodial_header(blob)
    patient_key = cw.ml.patient(cw.pid).encryption_key
    domain = session.custodians._domain()
    rk = receiving_key(session.party.identity, patient_key, domain, cw.pid, session.address)
    policy = session.custodians.policy(cw.pid)
    keys = {
        "verifying_pk": umbral.PublicKey.from_compressed_bytes(policy.verifying_key),
        "delegating_pk": umbral.PublicKey.from_compressed_bytes(policy.delegating_key),
        "receiving_pk": rk.public_key(),
    }
    cfrags = [c for read in held for c in read.cfrags]
    assert cfrags, "the reader did receive fragments before"
    for c in cfrags:  # every fragment belongs to another record's capsule
        with pytest.raises(DecryptionFailed):
            verify_cfrag(c, header.capsule, **keys)
    # and unverified, they do not open it either
    unchecked = [umbral.CapsuleFrag.from_bytes(c).skip_verification() for c in cfrags[:2]]
    with pytest.raises(DecryptionFailed):
        open_custodial_reencrypted(blob, rk, unchecked)
    # no key bundle or kit key opens a custodial record
    with pytest.raises(KeyNotAvailable):
        session.access.open_offline(rid, patient_id=cw.pid)


def test_grant_delegates_and_reads_go_through_custodians(cw: CustodianWorld) -> None:
    grant = cw.patient.consent.grant(
        cw.clinic.address, ["allergies", "labs"], ["treatment"], duration=2 * HOUR
    )
    delegated = cw.patient.custodians.last_receipts[cw.clinic.address]
    assert sorted(delegated.receipts) == sorted(cw.addresses)
    assert delegated.complete
    for addr, r in delegated.receipts.items():  # verified in the SDK; checked again here
        assert r.receipt.action == p.ACTION_DELEGATED
        assert r.receipt.custodian == addr
    assert grant.grantee == cw.clinic.address

    rid = _add(cw, b"allergy: penicillin (anaphylaxis)")
    assert is_custodial(_blob(cw, rid))
    read = cw.clinic.custodians.read(rid, "treatment", patient_id=cw.pid)
    assert read.plaintext == b"allergy: penicillin (anaphylaxis)"
    assert len(read.served_by) == 2
    assert not read.forged
    assert not read.unavailable
    assert read.access.allowed
    cw.held.setdefault("clinic", []).append(read)
    # the ordinary read path routes custodial records through the custodians too
    assert cw.clinic.access.read(rid, "treatment", patient_id=cw.pid) == read.plaintext
    # the patient's direct path needs no custodian
    own = cw.patient.custodians.read(rid, "treatment")
    assert own.plaintext == read.plaintext
    assert own.served_by == ()
    # non-custodial categories are unchanged (vitals are not in custodian mode)
    vid = _add(cw, b"bp 120/80", "vitals")
    assert not is_custodial(_blob(cw, vid))


def test_patient_umbral_keys_come_from_the_keyring_seed(cw: CustodianWorld) -> None:
    """The patient's Umbral keys are made from the seed its keyring keeps (re-sealed by identity
    rotation and recovery: tests/custodian_flows/test_custodian_rotation.py), not from its
    identity key."""
    seed = cw.patient.identity.keyring().umbral_seed
    assert seed is not None
    keys = PatientUmbralKeys.from_seed(seed)
    assert keys.public_keys() == cw.patient.custodians.policy().umbral_keys
    derived = PatientUmbralKeys.derive(
        cw.patient.party.identity, cw.patient.custodians._domain(), cw.pid
    )
    assert derived.public_keys() != keys.public_keys()


def test_no_read_without_an_allowed_logged_access(cw: CustodianWorld) -> None:
    rid = _add(cw, b"condition: asthma", "conditions")
    # the specialist has no grant: the logged access is denied and nothing is fetched
    with pytest.raises(AccessDenied):
        cw.specialist.access.read(rid, "treatment", patient_id=cw.pid)
    # presenting that denied access to the custodians anyway: every one refuses
    denied, _ = cw.specialist.access._log(rid, "treatment", cw.pid)
    assert not denied.allowed
    blob = _blob(cw, rid)
    assert _refused_by_all(cw, "specialist", denied, blob) == {"access_denied"}
    # the clinic's allowed access to one record does not open another (conditions: ungranted)
    allergy = _add(cw, b"allergy: latex")
    ok = cw.clinic.custodians.read(allergy, "treatment", patient_id=cw.pid)
    cw.held.setdefault("clinic", []).append(ok)
    other = AccessResult(rid, cw.pid, ok.access.outcome, ok.access.seq, ok.access.tx)
    assert _refused_by_all(cw, "clinic", other, blob) == {"wrong_record"}


def test_revocation_deletes_fragments_at_every_custodian(cw: CustodianWorld) -> None:
    cw.patient.consent.grant(cw.specialist.address, ["labs"], ["treatment"], duration=HOUR)
    first = _add(cw, b"HbA1c 6.1%", "labs")
    held = [cw.specialist.custodians.read(first, "treatment", patient_id=cw.pid)]
    before = held[0].access
    cw.patient.consent.revoke(cw.specialist.address)
    revoked = cw.patient.custodians.last_receipts[cw.specialist.address]
    assert sorted(revoked.receipts) == sorted(cw.addresses)
    assert revoked.complete
    for addr, r in revoked.receipts.items():
        assert r.receipt.action == p.ACTION_REVOKED
        assert r.receipt.subject == p.subject_of_address(cw.specialist.address)
        assert r.receipt.deleted >= 1, f"custodian {addr} deleted nothing"
    # its allowed access of a moment ago is refused at once by every custodian
    reasons = _refused_by_all(cw, "specialist", before, _blob(cw, first))
    assert reasons <= {"no_delegation", "grant_not_live"}
    # a record it never read is unreadable, holding everything it received
    unread = _add(cw, b"LDL 2.9 mmol/L", "labs")
    with pytest.raises(AccessDenied):
        cw.specialist.access.read(unread, "treatment", patient_id=cw.pid)
    _try_with_everything(cw, "specialist", held, unread)


def test_erasure_receipts_and_report(cw: CustodianWorld) -> None:
    rid = _add(cw, b"allergy: sulfonamides")
    blob = _blob(cw, rid)
    read = cw.clinic.custodians.read(rid, "treatment", patient_id=cw.pid)
    cw.held.setdefault("clinic", []).append(read)
    report = cw.patient.records.erase(rid)
    assert report.tombstone_tx is not None
    erasure = cw.patient.custodians.last_erasure
    assert erasure is not None
    assert erasure.record_id == "0x" + rid.hex()
    assert sorted(erasure.receipts.receipts) == sorted(cw.addresses)
    for r in erasure.receipts.receipts.values():
        assert r.receipt.action == p.ACTION_ERASED
        assert r.receipt.subject == rid
    # exactly who could still decrypt: the patient and the clinic that read it; nobody else
    assert set(erasure.could_still_decrypt) == {cw.patient.address, cw.clinic.address}
    assert "cannot be recalled" in erasure.cannot_recall
    # the clinic's allowed access of a moment ago no longer gets a fragment from anyone
    assert _refused_by_all(cw, "clinic", read.access, blob) == {"erased"}


def test_forged_fragment_is_detected_named_and_the_read_succeeds(cw: CustodianWorld) -> None:
    """One custodian holds a fragment the patient's key never signed (as a lying custodian
    would serve): its cfrag fails verification, it is named, the other two serve the read."""
    liar = cw.custodians[0]
    rogue = PatientUmbralKeys(umbral.SecretKey.random(), umbral.SecretKey.random())
    ns = cw.patient.custodians
    domain = ns._domain()
    clinic_key = cw.ml.contracts.medledger.get_provider(cw.clinic.address).encryption_key
    rk = receiving_key(cw.patient.party.identity, clinic_key, domain, cw.pid, cw.clinic.address)
    kfrag = rogue.kfrags(rk.public_key(), 1, 1)[0]
    sealed = p.seal_kfrag(
        liar.keys.encryption_key, kfrag, chain_id=cw.ml.chain.chain_id,
        medledger=cw.ml.contracts.medledger.address, custodian=liar.keys.address,
        patient_id=cw.pid, grantee=cw.clinic.address, kind=p.KIND_GRANT,
    )  # fmt: skip
    dpk, vpk = (umbral_bytes(rogue.delegating_pk), umbral_bytes(rogue.verifying_pk))
    rpk = umbral_bytes(rk.public_key())
    d = p.Delegation(cw.pid, cw.clinic.address, p.KIND_GRANT, keccak(sealed), p.key_digest(dpk),
                     p.key_digest(rpk), p.new_nonce(), ns._deadline())  # fmt: skip
    liar.client.delegate(d, sealed, dpk, rpk, vpk, ns._sign(d))

    rid = _add(cw, b"allergy: iodine contrast")
    read = cw.clinic.custodians.read(rid, "treatment", patient_id=cw.pid)
    assert read.plaintext == b"allergy: iodine contrast"
    assert set(read.forged) == {liar.keys.address}
    assert liar.keys.address not in read.served_by
    assert len(read.served_by) == 2
    # restore the honest fragment for the tests after this one
    cw.patient.custodians.delegate(cw.clinic.address)


def umbral_bytes(key: umbral.PublicKey) -> bytes:
    return bytes(key.to_compressed_bytes())


def test_one_custodian_down_reads_work_two_down_names_them(cw: CustodianWorld) -> None:
    rid = _add(cw, b"allergy: bee stings")
    a, b = cw.custodians[1], cw.custodians[2]
    a.stop()
    try:
        read = cw.clinic.custodians.read(rid, "treatment", patient_id=cw.pid)
        assert read.plaintext == b"allergy: bee stings"
        assert set(read.unavailable) == {a.keys.address}
        b.stop()
        with pytest.raises(CustodiansUnavailable) as exc:
            cw.clinic.custodians.read(rid, "treatment", patient_id=cw.pid)
        assert set(exc.value.unavailable) == {a.keys.address, b.keys.address}
        assert a.keys.address in str(exc.value)
        assert b.keys.address in str(exc.value)
    finally:
        for c in (a, b):
            if c.proc is None:
                c.start()
        for c in (a, b):
            c.wait_ready()
    # restarted on the same database: nothing was lost, reads work again
    again = cw.clinic.custodians.read(rid, "treatment", patient_id=cw.pid)
    assert again.plaintext == b"allergy: bee stings"
    assert not again.unavailable


def test_break_glass_through_custodians_then_25h_later_nothing(cw: CustodianWorld) -> None:
    cw.patient.emergency.configure(["allergies"], max_duration=24 * HOUR)
    cw.patient.custodians.delegate(cw.er.address, emergency=True)
    rid = _add(cw, b"allergy: morphine")
    # no window open: the custodians refuse even a logged access
    with pytest.raises(AccessDenied):
        cw.er.access.read(rid, "emergency", patient_id=cw.pid)
    cw.er.emergency.break_glass(cw.pid, "unconscious-patient", duration=HOUR)
    held = [cw.er.custodians.read(rid, "emergency", patient_id=cw.pid)]
    assert held[0].plaintext == b"allergy: morphine"
    assert held[0].access.outcome.name == "ALLOWED_EMERGENCY"
    unread = _add(cw, b"allergy: aspirin")
    cw.ml.increase_time(25 * HOUR)
    with pytest.raises(AccessDenied):
        cw.er.access.read(unread, "emergency", patient_id=cw.pid)
    _try_with_everything(cw, "er", held, unread)
    # and the access it logged inside the window is refused by every custodian now
    reasons = _refused_by_all(cw, "er", held[0].access, _blob(cw, rid))
    assert reasons <= {"stale_access", "window_closed"}


def test_the_offline_attack_works_on_direct_records_and_not_on_custodial_ones(
    cw: CustodianWorld,
) -> None:
    """The issue's attack: a grantee keeps what it was given and, after its grant has expired,
    decrypts the records it never read, offline, with no log entry. Against the direct format
    (what every record was before custodian mode, and vitals still are here) it succeeds;
    against a custodial record added at the same moment it fails."""
    lab = cw.ml.session(Party.generate("x25519"))
    cw.ml.fund(lab.address, 10**18)
    cw.consortium.providers.register(lab.party, name="Night Lab")
    cw.patient.consent.grant(lab.address, ["allergies", "vitals"], ["treatment"], duration=HOUR)
    direct = _add(cw, b"bp 150/95", "vitals")
    custodial = _add(cw, b"allergy: latex gloves")
    assert not is_custodial(_blob(cw, direct))
    assert is_custodial(_blob(cw, custodial))
    cw.ml.increase_time(2 * HOUR)  # the grant has expired; the lab read neither record
    with pytest.raises(ConsentExpired):
        lab.access.read(direct, "treatment", patient_id=cw.pid)
    # the attack on the direct format: the key bundle it was given still opens the record
    assert lab.access.open_offline(direct, patient_id=cw.pid) == b"bp 150/95"
    # the same on the custodial record: no key it holds fits, and every custodian refuses the
    # access it can still log (denied: expired)
    with pytest.raises(KeyNotAvailable):
        lab.access.open_offline(custodial, patient_id=cw.pid)
    denied, _ = lab.access._log(custodial, "treatment", cw.pid)
    assert not denied.allowed
    lab_reasons = _refused_by_all_for(lab, cw, denied, _blob(cw, custodial))
    assert lab_reasons == {"access_denied"}


def test_expired_grant_unread_records_unreadable(cw: CustodianWorld) -> None:
    """Runs after the 25 h jump: the clinic's 2-hour grant has expired. Holding every fragment
    it was given, it opens none of the records it did not read."""
    rid = _add(cw, b"allergy: cats")
    with pytest.raises(ConsentExpired):
        cw.clinic.access.read(rid, "treatment", patient_id=cw.pid)
    _try_with_everything(cw, "clinic", cw.held["clinic"], rid)
    # the patient still reads it directly
    assert cw.patient.custodians.read(rid, "treatment").plaintext == b"allergy: cats"
