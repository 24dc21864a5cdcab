"""SDK flows beyond the reference scenario: expiry, relayed consent, negative paths, erasure,
recovery, post-quantum patients, restoring on a new device. Embedded chain + embedded store
(real py-evm, real blockstore on disk); the Anvil variants run where the node matters."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from medledger.client import InclusionProof, Medledger, Party, SignedConsent
from medledger.codes import Outcome
from medledger.crypto import Keyring
from medledger.errors import (
    AccessDenied,
    ConsentExpired,
    ContractError,
    DecryptionFailed,
    IntegrityError,
    InvalidInput,
    KeyNotAvailable,
    MedledgerError,
    NotAuthorized,
    NotRegistered,
    SignatureError,
    TransactionFailed,
)
from medledger.storage import EmbeddedStore

LAB = b'{"resourceType":"Observation","code":{"text":"HbA1c"},"valueQuantity":{"value":6.1}}'


class World:
    """A deployment with a consortium, a registered patient and two providers."""

    def __init__(self, ml: Medledger) -> None:
        self.ml = ml
        self.consortium = ml.session(ml.dev_party(0))
        self.patient = ml.session(ml.dev_party(1))
        self.clinic = ml.session(ml.dev_party(2))
        self.specialist = ml.session(ml.dev_party(3))
        self.er = ml.session(ml.dev_party(4))
        self.consortium.providers.register(self.clinic.party, name="Clinic")
        self.consortium.providers.register(self.specialist.party, name="Specialist")
        self.consortium.providers.register(self.er.party, name="ER", emergency_responder=True)
        self.pid = self.patient.identity.register().patient_id
        self.patient.consent.grant(
            self.clinic.address,
            ["labs", "allergies"],
            ["treatment"],
            ["read", "write"],
            duration=timedelta(days=365),
        )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with Medledger.embedded(store_dir=tmp_path / "store") as ml:
        yield World(ml)


def test_expired_grant_cannot_read_records_added_after_expiry(world: World) -> None:
    w = world
    g = w.patient.consent.grant(
        w.specialist.address, ["labs"], ["treatment"], duration=timedelta(days=1)
    )
    before = w.clinic.records.add(w.pid, LAB, "labs")
    assert w.specialist.access.read(before.record_id, "treatment") == LAB

    w.ml.increase_time(g.valid_until - w.ml.now())  # exactly at the boundary second
    after = w.clinic.records.add(w.pid, LAB + b" ", "labs")
    assert after.created_at >= g.valid_until

    with pytest.raises(ConsentExpired) as denied:
        w.specialist.access.read(after.record_id, "treatment")
    assert denied.value.outcome == Outcome.DENIED_EXPIRED
    # Even with every key they ever held and the public ciphertext, no key fits the new record...
    with pytest.raises(KeyNotAvailable):
        w.specialist.access.open_offline(after.record_id)
    # ...while records from their access window stay readable to them (they had them already).
    assert w.specialist.access.open_offline(before.record_id) == LAB
    # The clinic, whose grant spans the new epoch, got a refreshed bundle and reads both.
    assert w.clinic.access.read(after.record_id, "treatment") == LAB + b" "


def test_revoked_grantee_cannot_read_later_records_but_others_can(world: World) -> None:
    w = world
    w.patient.consent.grant(
        w.specialist.address, ["labs"], ["treatment"], duration=timedelta(days=30)
    )
    old = w.clinic.records.add(w.pid, LAB, "labs")
    assert w.specialist.access.read(old.record_id, "treatment") == LAB
    w.patient.consent.revoke(w.specialist.address)
    new = w.clinic.records.add(w.pid, b"later lab", "labs")
    with pytest.raises(AccessDenied) as denied:
        w.specialist.access.read(new.record_id, "treatment")
    assert denied.value.outcome == Outcome.DENIED_NO_CONSENT
    with pytest.raises(KeyNotAvailable):
        w.specialist.access.open_offline(new.record_id)
    assert w.clinic.access.read(new.record_id, "treatment") == b"later lab"
    assert w.patient.access.read(new.record_id, "patient_request") == b"later lab"


def test_denied_read_is_logged_and_fetches_nothing(world: World) -> None:
    w = world
    rec = w.clinic.records.add(w.pid, LAB, "labs")
    count_before = w.ml.deployment.medledger.log_head(w.pid).count
    with pytest.raises(AccessDenied) as denied:
        w.specialist.access.read(rec.record_id, "treatment")
    assert denied.value.tx_hash is not None
    trail = w.patient.audit.trail()
    assert trail.verified
    assert trail.entries[-1].outcome == Outcome.DENIED_NO_CONSENT
    assert trail.entries[-1].accessor == w.specialist.address
    assert w.ml.deployment.medledger.log_head(w.pid).count == count_before + 1


def test_purpose_must_match_the_grant(world: World) -> None:
    w = world
    w.patient.consent.grant(
        w.specialist.address, ["labs"], ["research"], duration=timedelta(days=3)
    )
    rec = w.clinic.records.add(w.pid, LAB, "labs")
    with pytest.raises(AccessDenied) as denied:
        w.specialist.access.read(rec.record_id, "treatment")
    assert denied.value.outcome == Outcome.DENIED_PURPOSE
    assert w.specialist.access.read(rec.record_id, "research") == LAB


def test_tampered_ciphertext_in_the_store_is_detected(world: World) -> None:
    w = world
    rec = w.clinic.records.add(w.pid, LAB, "labs")
    store = w.ml.store
    assert isinstance(store, EmbeddedStore)
    path = store.block_path(rec.cid)
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.chmod(0o644)
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError):
        w.clinic.access.read(rec.record_id, "treatment")


def test_store_serving_other_content_is_detected(world: World) -> None:
    w = world
    a = w.clinic.records.add(w.pid, LAB, "labs")
    b = w.clinic.records.add(w.pid, b"another record", "labs")
    store = w.ml.store
    assert isinstance(store, EmbeddedStore)
    # the store answers a's CID with b's (valid, but other) sealed record
    path_a = store.block_path(a.cid)
    path_a.chmod(0o644)
    path_a.write_bytes(store.block_path(b.cid).read_bytes())
    with pytest.raises(IntegrityError):
        w.clinic.access.read(a.record_id, "treatment")


def test_wrong_identity_key_cannot_decrypt(world: World) -> None:
    w = world
    w.patient.consent.grant(
        w.specialist.address, ["labs"], ["treatment"], duration=timedelta(days=3)
    )
    rec = w.clinic.records.add(w.pid, LAB, "labs")
    impostor = w.ml.session(Party(w.specialist.party.account, Party.generate().identity))
    with pytest.raises(DecryptionFailed):
        impostor.access.read(rec.record_id, "treatment")


def test_unregistered_grantee_is_rejected_before_any_transaction(world: World) -> None:
    w = world
    stranger = Party.generate()
    nonce = w.ml.chain.w3.eth.get_transaction_count(w.patient.address)
    pins = set(w.ml.store.pins())  # type: ignore[attr-defined]
    with pytest.raises(NotRegistered):
        w.patient.consent.grant(stranger.address, ["labs"], ["treatment"], duration=3600)
    assert w.ml.chain.w3.eth.get_transaction_count(w.patient.address) == nonce
    assert set(w.ml.store.pins()) == pins  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"categories": ["x-rays"], "purposes": ["treatment"], "duration": 60}, InvalidInput),
        ({"categories": ["labs"], "purposes": ["curiosity"], "duration": 60}, InvalidInput),
        ({"categories": ["labs"], "purposes": ["treatment"], "duration": -5}, InvalidInput),
        ({"categories": [], "purposes": ["treatment"], "duration": 60}, InvalidInput),
        ({"categories": ["labs"], "purposes": ["treatment"]}, InvalidInput),
        (
            {
                "categories": ["labs"],
                "purposes": ["treatment"],
                "actions": ["delete"],
                "duration": 60,
            },
            InvalidInput,
        ),
    ],
)
def test_malformed_grants_are_rejected(world: World, kwargs: dict, error: type) -> None:
    with pytest.raises(error) as exc:
        world.patient.consent.grant(world.specialist.address, **kwargs)
    assert isinstance(exc.value, MedledgerError)


def test_malformed_record_ids_and_categories(world: World) -> None:
    w = world
    with pytest.raises(InvalidInput):
        w.clinic.access.read("0x1234", "treatment")
    with pytest.raises(InvalidInput):
        w.clinic.access.read("0x" + "00" * 32, "treatment")  # unknown record
    with pytest.raises(InvalidInput):
        w.clinic.records.add(w.pid, LAB, "xrays")
    with pytest.raises(NotRegistered):
        w.clinic.records.add(999, LAB, "labs")


def test_writer_without_write_consent_stores_nothing(world: World) -> None:
    w = world
    w.patient.consent.grant(
        w.specialist.address, ["labs"], ["treatment"], duration=3600
    )  # read only
    pins = set(w.ml.store.pins())  # type: ignore[attr-defined]
    with pytest.raises(AccessDenied) as denied:
        w.specialist.records.add(w.pid, LAB, "labs")
    # v2: the contract does not revert: it logs the denied write (read-only consent: 29)
    assert denied.value.outcome == Outcome.WRITE_DENIED_ACTION
    assert set(w.ml.store.pins()) == pins  # type: ignore[attr-defined]
    assert w.patient.records.timeline() == []
    last = w.patient.audit.trail().entries[-1]
    assert (last.accessor, last.outcome) == (w.specialist.address, Outcome.WRITE_DENIED_ACTION)


def test_failed_transaction_leaves_nothing_pinned(world: World) -> None:
    """A provider with write consent but no ETH: the record is sealed and stored, the
    transaction cannot be paid, and the SDK unpins what it stored."""
    w = world
    broke = Party.generate()
    w.consortium.providers.register(broke, name="Unfunded Lab")
    w.patient.consent.grant(
        broke.address, ["labs"], ["treatment"], ["read", "write"], duration=3600
    )
    session = w.ml.session(broke)
    pins = set(w.ml.store.pins())  # type: ignore[attr-defined]
    with pytest.raises(TransactionFailed) as exc:
        session.records.add(w.pid, LAB, "labs")
    assert "unpinned" in str(exc.value)
    assert set(w.ml.store.pins()) == pins  # type: ignore[attr-defined]
    assert w.patient.records.timeline() == []


def test_relayed_grant_and_revoke_cost_the_patient_nothing(world: World) -> None:
    w = world
    relayer = w.clinic
    rec_before = w.clinic.records.add(w.pid, LAB, "labs")
    balance = w.ml.chain.w3.eth.get_balance(w.patient.address)
    signed = w.patient.consent.sign_grant(
        w.specialist.address, ["labs"], ["treatment"], duration=timedelta(days=7)
    )
    # a new grant end needs a new key epoch: keyring update, the grant, the clinic's refreshed
    # bundle (its grant spans the new epoch), in nonce order
    assert [st.op for st in signed.steps] == ["setKeyring", "grant", "grant"]
    wire = json.loads(json.dumps(signed.to_json()))
    parsed = SignedConsent.from_json(wire)
    # the grants that come with a keyring update take the nonces after the keyring step's, in
    # the same key (0): the grant alone cannot skip the keyring update (attack of a relayer that
    # withholds the new epoch; it worked with per-grantee keys)
    me = w.patient.address
    first = w.patient.contract.nonces(me, 0)
    assert [st.nonce for st in parsed.steps] == [first, first + 1, first + 2]
    skipping = SignedConsent(
        parsed.kind,
        parsed.patient_id,
        parsed.grantee,
        parsed.deadline,
        parsed.steps[1:],
        parsed.epoch,
        parsed.kit,
    )
    with pytest.raises((SignatureError, ContractError)):
        relayer.relay.submit(skipping)
    assert not w.patient.contract.has_access(w.pid, w.specialist.address, 3, 1)
    relayer.relay.submit(parsed)
    assert w.specialist.access.read(rec_before.record_id, "treatment") == LAB
    # after the grant's end a new lab is out of the specialist's keys; the clinic reads it
    w.ml.increase_time(timedelta(days=7))
    later = w.clinic.records.add(w.pid, b"after the grant", "labs")
    with pytest.raises(KeyNotAvailable):
        w.specialist.access.open_offline(later.record_id)
    assert w.clinic.access.read(later.record_id, "treatment") == b"after the grant"
    # replaying the same signatures fails (nonces consumed)
    with pytest.raises((SignatureError, ContractError)):
        relayer.relay.submit(parsed)
    assert w.ml.chain.w3.eth.get_balance(w.patient.address) == balance


def test_relayed_revoke_rotates_keys(world: World) -> None:
    w = world
    w.patient.consent.grant(
        w.specialist.address, ["labs"], ["treatment"], duration=timedelta(days=30)
    )
    balance = w.ml.chain.w3.eth.get_balance(w.patient.address)
    signed = w.patient.consent.sign_revoke(w.specialist.address)
    # v2: one signature for revoke + keyring CAS + the clinic's refreshed bundle
    assert [st.op for st in signed.steps] == ["revokeAndRekey"]
    assert [b.grantee for b in signed.steps[0].bundles] == [w.clinic.address]
    [tx] = w.er.relay.submit(SignedConsent.from_json(json.loads(json.dumps(signed.to_json()))))
    assert [e.args["grantee"] for e in tx.events_named("KeyBundleRefreshed")] == [w.clinic.address]
    new = w.clinic.records.add(w.pid, b"post-revocation lab", "labs")
    with pytest.raises(AccessDenied):
        w.specialist.access.read(new.record_id, "treatment")
    with pytest.raises(KeyNotAvailable):
        w.specialist.access.open_offline(new.record_id)
    assert w.clinic.access.read(new.record_id, "treatment") == b"post-revocation lab"
    assert w.ml.chain.w3.eth.get_balance(w.patient.address) == balance


def test_malformed_signed_consent_is_rejected() -> None:
    with pytest.raises(InvalidInput):
        SignedConsent.from_json({"kind": "grant", "patientId": 1})
    with pytest.raises(InvalidInput):
        SignedConsent.from_json(
            {
                "kind": "steal",
                "patientId": 1,
                "grantee": "0x" + "11" * 20,
                "deadline": 1,
                "steps": [{"op": "grant", "signature": "0x00"}],
            }
        )


def test_longitudinal_timeline_and_streaming_add(world: World) -> None:
    w = world
    first = w.clinic.records.add(w.pid, LAB, "labs")
    big = bytes(range(256)) * 4096 * 3  # 3 MiB: several segments, several UnixFS chunks
    seen: list[int] = []
    second = w.clinic.records.add(w.pid, io.BytesIO(big), "allergies", progress=seen.append)
    assert sum(seen) == len(big) == second.size
    timeline = w.patient.records.timeline()
    assert [r.record_id for r in timeline] == [first.record_id, second.record_id]
    assert [r.category.name for r in timeline] == ["LABS", "ALLERGIES"]
    assert all(r.author == w.clinic.address for r in timeline)
    assert w.patient.access.read(second.record_id, "patient_request") == big


def test_erasure_tombstones_unpins_and_reports(world: World) -> None:
    w = world
    w.patient.consent.grant(w.specialist.address, ["labs"], ["treatment"], duration=3600)
    rec = w.clinic.records.add(w.pid, LAB, "labs")
    report = w.patient.records.erase(rec.record_id)
    assert report.complete
    assert report.tombstone_tx
    assert report.blocks_unpinned == (str(rec.cid),)
    assert {g.address for g in report.grantees_notified} == {w.clinic.address, w.specialist.address}
    assert report.cannot_undo  # stated honestly
    assert w.ml.store.has(rec.cid)  # erase runs no GC (the store may be a shared IPFS node)...
    w.ml.store.gc()  # ...the store's own collection deletes the unpinned blocks
    assert not w.ml.store.has(rec.cid)
    with pytest.raises(AccessDenied) as denied:
        w.clinic.access.read(rec.record_id, "treatment")
    assert denied.value.outcome == Outcome.DENIED_ERASED
    assert w.patient.records.timeline()[0].erased
    with pytest.raises(NotAuthorized):
        w.clinic.records.erase(rec.record_id)  # only the patient may erase


def test_guardian_recovery_moves_control_and_keeps_everything(world: World) -> None:
    w = world
    g1, g2, g3 = (w.ml.session(w.ml.dev_party(i)) for i in (5, 6, 7))
    w.patient.recovery.set_guardians([g1.address, g2.address, g3.address], threshold=2, delay=86400)
    new_device = Party(w.ml.dev_party(8).account, w.patient.party.identity)
    g1.recovery.approve(w.pid, new_device.address)
    g2.recovery.approve(w.pid, new_device.address)
    recovered = w.ml.session(new_device)
    with pytest.raises(MedledgerError):
        recovered.recovery.accept(w.pid)  # the delay has not passed
    w.ml.increase_time(86401)
    with pytest.raises(MedledgerError):
        g3.recovery.accept(w.pid)  # v2: only the candidate itself completes the recovery
    recovered.recovery.accept(w.pid)
    assert recovered.patient_id() == w.pid
    # the old key is powerless; consents and records survived
    with pytest.raises(NotRegistered):
        w.patient.consent.grant(w.specialist.address, ["labs"], ["treatment"], duration=3600)
    rec = w.clinic.records.add(w.pid, LAB, "labs")
    assert recovered.access.read(rec.record_id, "patient_request") == LAB
    recovered.consent.grant(w.specialist.address, ["labs"], ["treatment"], duration=3600)
    assert w.specialist.access.read(rec.record_id, "treatment") == LAB


def test_keyring_restores_on_a_new_device_from_the_identity_key(world: World) -> None:
    w = world
    rec = w.clinic.records.add(w.pid, LAB, "labs")
    # a fresh connection object: no caches, only chain + store + the party's keys
    fresh = Medledger(w.ml.deployment, EmbeddedStore(w.ml.store.root))  # type: ignore[attr-defined]
    device = fresh.session(w.patient.party)
    assert device.access.read(rec.record_id, "patient_request") == LAB


@pytest.mark.parametrize("suite", ["mlkem768-x25519"])
def test_post_quantum_patient_and_provider(tmp_path: Path, suite: str) -> None:
    with Medledger.embedded(store_dir=tmp_path / "store") as ml:
        consortium = ml.session(ml.dev_party(0))
        patient = ml.session(ml.dev_party(1, suite=suite))
        clinic = ml.session(ml.dev_party(2, suite=suite))
        consortium.providers.register(clinic.party, name="PQ Clinic")
        pid = patient.identity.register().patient_id
        assert ml.deployment.medledger.get_patient(pid).key_document != b"\0" * 32
        patient.consent.grant(
            clinic.address, ["labs"], ["treatment"], ["read", "write"], duration=3600
        )
        rec = clinic.records.add(pid, LAB, "labs")
        assert clinic.access.read(rec.record_id, "treatment") == LAB
        assert patient.access.read(rec.record_id, "patient_request") == LAB


def test_break_glass_needs_an_emergency_responder_and_the_kit(world: World) -> None:
    w = world
    rec = w.clinic.records.add(w.pid, b"penicillin allergy", "allergies")
    with pytest.raises(MedledgerError):
        w.specialist.emergency.break_glass(w.pid, "unconscious_patient")  # not a responder
    w.er.emergency.break_glass(w.pid, "unconscious_patient", duration=timedelta(hours=1))
    # allowed on-chain, but the patient never sealed an emergency kit to this ER
    with pytest.raises(KeyNotAvailable):
        w.er.access.read(rec.record_id, "emergency")
    w.patient.emergency.configure(responders=[w.er.address])
    assert w.er.access.read(rec.record_id, "emergency") == b"penicillin allergy"
    with pytest.raises(InvalidInput):
        w.er.emergency.break_glass(w.pid, "unconscious_patient", duration=timedelta(hours=25))


def test_grant_many_is_one_transaction(world: World) -> None:
    w = world
    infos = w.patient.consent.grant_many(
        [
            {"grantee": w.specialist.address, "categories": ["labs"], "duration": 3600},
            {
                "grantee": w.er.address,
                "categories": ["allergies"],
                "purposes": ["emergency"],
                "duration": 7200,
            },
        ]
    )
    assert infos[0].tx.tx_hash == infos[1].tx.tx_hash
    # the clinic's year-long grant spans both new epochs: its bundle is refreshed in the batch
    assert infos[0].refreshed == (w.clinic.address,)
    lab = w.clinic.records.add(w.pid, LAB, "labs")
    allergy = w.clinic.records.add(w.pid, b"latex", "allergies")
    assert w.specialist.access.read(lab.record_id, "treatment") == LAB
    assert w.er.access.read(allergy.record_id, "emergency") == b"latex"
    with pytest.raises(InvalidInput):
        w.patient.consent.grant_many(
            [{"grantee": w.er.address, "categories": ["labs"], "duration": 60}] * 2
        )


def test_failed_keyring_update_leaves_no_unpublished_epochs(world: World) -> None:
    """If the keyring transaction fails, the patient's view of its keyring stays what is
    on-chain, so a later grant cannot hand out an epoch boundary writers never saw."""
    w = world
    before = w.ml.deployment.medledger.get_patient(w.pid).keyring
    broke = w.ml.session(w.patient.party)
    drained = w.ml.chain.w3.eth.get_balance(w.patient.address)
    # spend the patient's ETH so that the next transaction cannot be paid
    w.patient.sender.transfer(w.ml.dev_party(9).address, drained - 10**15)
    with pytest.raises(TransactionFailed):
        broke.consent.grant(
            w.specialist.address, ["labs"], ["treatment"], duration=timedelta(days=2)
        )
    assert w.ml.deployment.medledger.get_patient(w.pid).keyring == before

    def bounds(ring: Keyring) -> list[tuple[int, int, int | None]]:
        return [(e.epoch, e.valid_from, e.valid_until) for e in ring.epochs(3)]

    on_chain = Keyring.load(w.ml.get_document(before), w.patient.party.identity)
    assert bounds(broke.identity.keyring()) == bounds(on_chain)


def test_anchored_batch_proves_items_in_python_and_on_chain(world: World) -> None:
    w = world
    w.patient.consent.grant(
        w.clinic.address, ["vitals"], ["treatment"], ["read", "write"], duration=timedelta(days=1)
    )
    readings = [f'{{"hr": {60 + i % 40}, "t": {i}}}'.encode() for i in range(1000)]
    anchored = w.clinic.anchors.anchor_batch(w.pid, "ward-7/heart-rate/2026-11-26", readings)
    # one anchor transaction for 1,000 items; the batch itself is an encrypted record
    # v2: anchors are namespaced by their submitter
    anchors = w.ml.deployment.anchors
    assert anchors.get_anchor(w.clinic.address, anchored.stream_id, anchored.root).count == 1000
    assert anchors.get_anchor(w.patient.address, anchored.stream_id, anchored.root).count == 0
    proof = w.clinic.anchors.prove_item(anchored.batch, readings[417])
    assert proof.index == 417
    wire = InclusionProof.from_json(json.loads(json.dumps(proof.to_json())))
    assert w.specialist.anchors.verify_item(wire)  # anyone can verify, no consent needed
    # a wrong item, a wrong root, a root never anchored for this stream: all rejected
    forged = InclusionProof(
        wire.stream_id,
        wire.root,
        w.clinic.anchors.prove_item(anchored.batch, readings[1]).item_digest,
        wire.index,
        wire.proof,
    )
    assert not w.specialist.anchors.verify_item(forged)
    assert not w.specialist.anchors.verify_item(
        InclusionProof(wire.stream_id, b"\x01" * 32, wire.item_digest, wire.index, wire.proof)
    )
    other_stream = InclusionProof(b"\x02" * 32, wire.root, wire.item_digest, wire.index, wire.proof)
    assert w.specialist.anchors.verify_item(
        other_stream, onchain=False
    )  # the tree alone is fine...
    assert not w.specialist.anchors.verify_item(
        other_stream
    )  # ...but that stream never anchored it
    # the stored batch reads back (logged) and matches its root
    assert w.clinic.anchors.open_batch(anchored.record.record_id, "treatment") == readings
