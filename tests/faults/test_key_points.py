"""Issue 14, points 1-4, 9 and 11 (and issue 13 point 2): each test is the reproduction of the
old failure (run against commit aa8567b, as its docstring says) and shows it gone."""

from __future__ import annotations

from datetime import timedelta

import pytest

from helpers.faults import (
    MB,
    World,
    keys_ever,
    opens,
    patient_reads_everything,
    referenced_present,
    sealed,
)
from medledger import errors
from medledger.errors import ChainUnavailable, MedledgerError

DAY = 86400


def test_lost_keyring_update_is_never_unpinned(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Point 1. The keyring update of a grant is mined, but the node goes away before the SDK sees
    the receipt. Old code: the rollback unpinned the keyring document the chain now pointed to;
    after GC the patient could not load their keyring (BlockNotFound) and no record sealed to
    it was readable. Now the rollback asks the chain first and keeps it."""
    w = world
    contract = w.patient.contract
    real = contract.set_keyring

    def mined_then_lost(*a: object, **kw: object) -> object:
        real(*a, **kw)  # type: ignore[arg-type]
        raise ChainUnavailable("node gone after the keyring update was mined")

    monkeypatch.setattr(contract, "set_keyring", mined_then_lost)
    with pytest.raises(ChainUnavailable) as seen:
        w.patient.consent.grant(w.specialist.address, ["labs"], duration=timedelta(days=3))
    assert "stay pinned" in str(seen.value)
    monkeypatch.undo()
    w.ml.store.gc()
    w.ml.documents._cache.clear()  # the next read comes from the store
    rec = w.clinic.records.add(w.pid, MB, "labs")  # sealed to the landed keyring
    patient_reads_everything(w)
    assert w.fresh(w.patient).access.read(rec.record_id, "patient_request") == MB


def test_lost_record_registration_keeps_the_record(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Point 1, records. ``addRecord`` is mined and the caller sees a node error. Old code:
    the ciphertext was unpinned although the chain registered it (gone after GC)."""
    w = world
    contract = w.clinic.contract
    real = contract.add_record

    def mined_then_lost(*a: object, **kw: object) -> object:
        real(*a, **kw)  # type: ignore[arg-type]
        raise ChainUnavailable("node gone after addRecord was mined")

    monkeypatch.setattr(contract, "add_record", mined_then_lost)
    with pytest.raises(ChainUnavailable):
        w.clinic.records.add(w.pid, MB, "allergies")
    monkeypatch.undo()
    referenced_present(w)  # runs GC first, then opens every registered record


def test_withheld_rotation_is_refused_then_completed_by_revoking_again(world: World) -> None:
    """Point 2 and issue 13 point 2. The revocation landed without its key rotation (a plain
    ``revoke`` sent by an older client or a relayer; or a flow that died). Old code (aa8567b,
    run): the clinic's write was accepted, sealed to epochs the revoked specialist holds, and
    revoking again failed with "holds no consent". Now the write is refused (``RotationPending``,
    naming the fix) and revoking again completes the rotation."""
    w = world
    w.patient.consent.grant(w.specialist.address, ["labs"], duration=timedelta(days=30))
    w.patient.contract.revoke(w.specialist.address)  # the revoke alone: no rotation
    with pytest.raises(errors.RotationPending) as refused:
        w.clinic.records.add(w.pid, b"later lab", "labs")
    assert "complete_rotation" in (refused.value.hint or "")
    assert w.specialist.address in refused.value.parties
    with pytest.raises(errors.RotationPending):
        w.patient.consent.grant(w.er.address, ["labs"], duration=timedelta(days=1))
    info = w.fresh(w.patient).consent.revoke(w.specialist.address)  # issue 13.2: run it again
    assert info.completed
    assert w.clinic.address in info.refreshed
    rec = w.clinic.records.add(w.pid, b"later lab", "labs")
    assert not opens(keys_ever(w, w.specialist), sealed(w, rec.record_id))
    assert w.clinic.access.read(rec.record_id, "treatment") == b"later lab"
    assert w.fresh(w.patient).consent.complete_rotation() == []  # nothing left to do


def test_revocation_rekeys_future_epochs_the_grantee_holds(world: World) -> None:
    """Point 2. The specialist (30 days) received, in a refreshed bundle, the epoch that starts
    at another grant's end (day 10). Old code: revoking split only at now, so that future epoch
    kept its key and the revoked specialist decrypted every record written after day 10."""
    w = world
    w.patient.consent.grant(w.specialist.address, ["labs"], duration=timedelta(days=30))
    w.patient.consent.grant(w.er.address, ["labs"], duration=timedelta(days=10))  # split at day 10
    w.patient.consent.revoke(w.specialist.address)
    w.ml.increase_time(11 * DAY)
    rec = w.clinic.records.add(w.pid, b"day-11 lab", "labs")
    assert not opens(keys_ever(w, w.specialist), sealed(w, rec.record_id))
    assert w.clinic.access.read(rec.record_id, "treatment") == b"day-11 lab"


def test_relayed_revoke_is_one_signed_atomic_step(world: World) -> None:
    """Point 2, relayed: the relayer cannot land the revoke and withhold the rotation, because
    there is one signed step (``revokeAndRekey``). Attack: submit only a plain ``revokeBySig``
    made from the same signature -> the contract refuses it (different typed data)."""
    w = world
    w.patient.consent.grant(w.specialist.address, ["labs"], duration=timedelta(days=30))
    signed = w.patient.consent.sign_revoke(w.specialist.address)
    assert [s.op for s in signed.steps] == ["revokeAndRekey"]
    st = signed.steps[0]
    with pytest.raises(MedledgerError):
        w.er.contract.revoke_by_sig(
            w.pid, w.specialist.address, signed.epoch, st.nonce, signed.deadline, st.signature
        )
    w.er.relay.submit(signed)
    rec = w.clinic.records.add(w.pid, b"after relayed revoke", "labs")
    assert not opens(keys_ever(w, w.specialist), sealed(w, rec.record_id))


def test_removed_responder_is_cut_off(world: World) -> None:
    """Point 3. Old code: removing a responder resealed the kit for the others and rotated
    nothing, so the removed responder kept the keys of every later emergency record."""
    w = world
    w.patient.emergency.configure(responders=[w.er.address, w.er2.address])
    w.patient.emergency.configure(responders=[w.er2.address])  # ER removed
    rec = w.clinic.records.add(w.pid, MB, "allergies")
    assert not opens(keys_ever(w, w.er), sealed(w, rec.record_id))
    assert opens(keys_ever(w, w.er2), sealed(w, rec.record_id))
    patient_reads_everything(w)


def test_opt_out_cuts_off_every_responder(world: World) -> None:
    """Point 3, opting out. Old code: the kit was cleared but the keys stayed the same."""
    w = world
    w.patient.emergency.configure(responders=[w.er.address])
    w.patient.emergency.configure(opt_out=True)
    rec = w.clinic.records.add(w.pid, MB, "allergies")
    assert not opens(keys_ever(w, w.er), sealed(w, rec.record_id))


def test_suspended_responder_is_noticed_and_cut_off(world: World) -> None:
    """Point 3, suspension. Old code: the next kit rebuild (any grant touching an emergency
    category) sealed the new epochs to the suspended responder too, and nothing rotated (run
    against aa8567b: the write was accepted, no ``RotationPending``). Now the next write is
    refused until the patient completes the rotation (``medledger rotate``), which rebuilds the
    kit for active responders only."""
    w = world
    w.patient.emergency.configure(responders=[w.er.address, w.er2.address])
    w.consortium.providers.suspend(w.er.address)
    with pytest.raises(errors.RotationPending) as refused:
        w.clinic.records.add(w.pid, MB, "allergies")
    assert w.er.address in refused.value.parties
    with pytest.raises(errors.RotationPending):
        w.patient.consent.grant(w.specialist.address, ["allergies"], duration=timedelta(days=2))
    sent = w.fresh(w.patient).consent.complete_rotation()
    assert sent
    rec = w.clinic.records.add(w.pid, MB, "allergies")
    assert not opens(keys_ever(w, w.er), sealed(w, rec.record_id))
    assert opens(keys_ever(w, w.er2), sealed(w, rec.record_id))
    assert w.clinic.access.read(rec.record_id, "treatment") == MB


def test_narrowed_regrant_rotates_the_dropped_categories(world: World) -> None:
    """Point 4. Old code: re-granting the specialist labs only (was labs + allergies) left the
    allergies keys in its hands until the old end date: it decrypted later allergy records."""
    w = world
    w.patient.consent.grant(
        w.specialist.address, ["labs", "allergies"], duration=timedelta(days=30)
    )
    w.patient.consent.grant(w.specialist.address, ["labs"], duration=timedelta(days=30))
    rec = w.clinic.records.add(w.pid, MB, "allergies")
    assert not opens(keys_ever(w, w.specialist), sealed(w, rec.record_id))
    lab = w.clinic.records.add(w.pid, b"lab", "labs")
    assert opens(keys_ever(w, w.specialist), sealed(w, lab.record_id))  # kept category still works
    assert w.clinic.access.read(rec.record_id, "treatment") == MB


def test_future_dated_grant_publishes_history_at_grant_time(world: World) -> None:
    """Point 9 (documented choice, docs/crypto.md "Future-dated grants"): the key bundle is
    published when the grant is made, so a grantee that ignores the contract can decrypt the
    category's history offline before the start; the contract refuses (and logs) its reads
    until then. This test pins that behaviour down so the docs stay true."""
    w = world
    old = w.clinic.records.add(w.pid, b"history", "labs")
    start = w.ml.now() + 5 * DAY
    w.patient.consent.grant(
        w.specialist.address, ["labs"], valid_from=start, valid_until=start + 10 * DAY
    )
    with pytest.raises(errors.AccessDenied):
        w.specialist.access.read(old.record_id, "treatment")
    assert w.specialist.access.open_offline(old.record_id) == b"history"


def test_erasure_report_claims_only_what_happened(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Point 11. Old code: the report said past grantees were "notified" (nothing is sent), left
    out responders holding the category's keys in the emergency kit, and ``erase`` ran a
    node-wide garbage collection on the store (on a shared IPFS node: everyone's unpinned
    blocks)."""
    from medledger.audit.erasure import render_text

    w = world
    w.patient.emergency.configure(responders=[w.er.address])
    rec = w.clinic.records.add(w.pid, MB, "allergies")
    gc_calls: list[int] = []
    monkeypatch.setattr(w.ml.store, "gc", lambda *a, **k: gc_calls.append(1))
    report = w.patient.records.erase(rec.record_id)
    text = render_text(report).lower()
    assert gc_calls == []
    assert "(notified)" not in text
    assert "grantees of this category notified" not in text
    assert "medledger sent no notification" in text
    assert w.er.address.lower() in text
    assert w.clinic.address.lower() in text


def test_keyring_compare_and_swap_keeps_a_concurrent_writers_epochs(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Point 1 / issue 13 point 1 (verification: the CAS existed before this change). Another
    process of the patient publishes a keyring (its grant's end boundary) between this grant's
    planning and its ``setKeyring``: the CAS fails, this grant re-plans on the fresh keyring, and
    both boundaries survive, so the shorter grant's grantee reads nothing after its end."""
    w = world
    other = w.fresh(w.patient)
    contract = w.patient.contract
    real = contract.set_keyring
    raced: list[int] = []

    def racing(*a: object, **kw: object) -> object:
        if not raced:
            raced.append(1)
            other.consent.grant(w.er.address, ["labs"], duration=timedelta(days=2))
        return real(*a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(contract, "set_keyring", racing)
    w.patient.consent.grant(w.specialist.address, ["labs"], duration=timedelta(days=20))
    monkeypatch.undo()
    assert raced
    w.ml.increase_time(3 * DAY)
    rec = w.clinic.records.add(w.pid, b"day-3 lab", "labs")
    assert not opens(keys_ever(w, w.er), sealed(w, rec.record_id))
    assert w.specialist.access.read(rec.record_id, "treatment") == b"day-3 lab"


def test_keyring_compare_and_swap_gives_up_after_three_attempts(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A keyring that moves on every attempt ends in ``StaleKeyring`` (3 attempts), with
    nothing half-written: the grant is not on-chain."""
    w = world
    contract = w.patient.contract
    real = contract.set_keyring
    attempts: list[int] = []

    def always_raced(*a: object, **kw: object) -> object:
        attempts.append(1)
        w.fresh(w.patient).consent.grant(
            w.er.address, ["labs"], duration=timedelta(days=len(attempts))
        )
        return real(*a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(contract, "set_keyring", always_raced)
    with pytest.raises(errors.StaleKeyring):
        w.patient.consent.grant(w.specialist.address, ["labs"], duration=timedelta(days=20))
    monkeypatch.undo()
    assert len(attempts) == 3
    assert not w.ml.deployment.medledger.get_consent(w.pid, w.specialist.address).exists
    referenced_present(w)
