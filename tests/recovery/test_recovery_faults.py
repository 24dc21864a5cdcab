"""Issue 15 bad inputs and faults: missing, wrong and tampered shares, a silent guardian, a crash
between any two steps, a removed guardian, and ``keys rotate``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.recovery import DELAY, RECORDS, Guarded, build, fresh
from medledger import Medledger, Session
from medledger.client import Party
from medledger.client.recovery import RecoveryNotReady
from medledger.crypto import IdentityKey, Keyring
from medledger.crypto.shares import NotEnoughShares, ShareError, ShareSet
from medledger.errors import DecryptionFailed, NotAuthorized, SignatureError


class Killed(BaseException):
    """A process kill: not a MedledgerError, so nothing in the SDK cleans up after it."""


@pytest.fixture
def ml(tmp_path: Path) -> Iterator[Medledger]:
    with Medledger.embedded(store_dir=tmp_path / "store") as ml:
        yield ml


@pytest.fixture
def guarded(ml: Medledger) -> tuple[Guarded, Session]:
    return build(ml)


def _snapshot(s: Session, pid: int) -> tuple[Any, ...]:
    p = s.contract.get_patient(pid)
    return (p.controller, p.keyring, p.encryption_key, s.contract.get_guardians(pid).shares)


def _start(w: Guarded) -> tuple[Session, str]:
    device = fresh(w.ml, Party.generate())
    req = device.recovery.request(w.pid).request_id
    return device, req


def _assert_recovered(w: Guarded, device: Session) -> None:
    assert device.identity.patient_id() == w.pid
    for rid, (_, data) in w.records.items():
        assert device.access.read(rid, "treatment") == data
    rec = device.records.add(w.pid, RECORDS["labs"] + b" ", "labs")
    assert w.clinic.access.read(rec.record_id, "treatment") == RECORDS["labs"] + b" "
    assert device.recovery.shares().identity_key == device.party.identity.public_key
    assert device.contract.get_patient(w.pid).encryption_key == (
        device.party.identity.x25519_public_bytes()
    )


def test_fewer_than_m_shares_says_how_many_and_changes_nothing(
    guarded: tuple[Guarded, Session],
) -> None:
    w, _ = guarded
    g1, g2, _g3 = w.guardians
    device, req = _start(w)
    for g in (g1, g2):
        g.recovery.approve_request(req)
    g1.recovery.reshare(req)
    w.ml.increase_time(DELAY + 1)
    before = _snapshot(device, w.pid)
    with pytest.raises(NotEnoughShares) as err:
        device.recovery.complete(w.pid)
    assert (err.value.have, err.value.need, err.value.missing) == (1, 2, 1)
    assert "1 missing" in str(err.value)
    assert _snapshot(device, w.pid) == before  # not even the controller moved
    # the second share arrives: the same call now completes
    g2.recovery.reshare(req)
    device.recovery.complete(w.pid)
    _assert_recovered(w, device)


def test_guardian_that_approves_but_never_reshares_is_fine(
    guarded: tuple[Guarded, Session],
) -> None:
    w, _ = guarded
    g1, g2, g3 = w.guardians
    device, req = _start(w)
    for g in (g1, g2, g3):
        g.recovery.approve_request(req)
    g1.recovery.reshare(req)
    g2.recovery.reshare(req)  # g3 (paper) approved and then went silent
    w.ml.increase_time(DELAY + 1)
    done = device.recovery.complete(w.pid)
    assert done.rejected == {}
    _assert_recovered(w, device)


def test_tampered_sealed_share_is_named_and_changes_nothing(
    guarded: tuple[Guarded, Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    w, _ = guarded
    g1, g2, _g3 = w.guardians
    device, req = _start(w)
    for g in (g1, g2):
        g.recovery.approve_request(req)
    g1.recovery.reshare(req)
    # g2's reshare is altered in transit (one ciphertext byte flipped before it is stored)
    real_put = g2.recovery._store.put

    def flip(data: bytes) -> Any:
        return real_put(data[:-1] + bytes([data[-1] ^ 1]))

    monkeypatch.setattr(g2.recovery._store, "put", flip)
    g2.recovery.reshare(req)
    monkeypatch.undo()
    w.ml.increase_time(DELAY + 1)
    before = _snapshot(device, w.pid)
    with pytest.raises(ShareError) as err:
        device.recovery.complete(w.pid)
    assert err.value.guardian == g2.address
    assert g2.address in str(err.value)
    assert "1 of 2 valid shares" in str(err.value)
    assert _snapshot(device, w.pid) == before
    # g2 sends it again, intact (a guardian's newest post counts)
    g2.recovery.reshare(req)
    device.recovery.complete(w.pid)
    _assert_recovered(w, device)


def test_wrong_paper_share_is_detected_and_named(guarded: tuple[Guarded, Session]) -> None:
    w, _ = guarded
    g1, _, g3 = w.guardians
    words = w.setup.paper_shares[g3.address].split()
    device, req = _start(w)
    for g in (g1, g3):
        g.recovery.approve_request(req)
    g1.recovery.reshare(req)
    w.ml.increase_time(DELAY + 1)
    before = _snapshot(device, w.pid)
    typo = list(words)
    typo[5] = "academic" if typo[5] != "academic" else "acid"
    with pytest.raises(ShareError, match="checksum"):
        device.recovery.complete(w.pid, paper_shares=[" ".join(typo)])
    with pytest.raises(ShareError, match="word 3 is not in the word list"):
        device.recovery.complete(w.pid, paper_shares=[" ".join([*words[:2], "xyzzy", *words[3:]])])
    # a well-formed share of another patient's split
    other = fresh(w.ml)
    other.identity.register()
    foreign = other.recovery.setup([g3.address], 1, DELAY, paper=[g3.address]).paper_shares
    with pytest.raises(ShareError, match="not part of"):
        device.recovery.complete(w.pid, paper_shares=[foreign[g3.address]])
    assert _snapshot(device, w.pid) == before
    device.recovery.complete(w.pid, paper_shares=["  ".join(words).upper()])  # case/space-proof
    _assert_recovered(w, device)


@pytest.mark.parametrize(
    "step",
    ["accept_recovery", "set_keyring", "grant_batch", "set_emergency_access",
     "set_encryption_key", "set_guardians"],
)  # fmt: skip
def test_killed_between_steps_rerun_completes(
    guarded: tuple[Guarded, Session], monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    w, _ = guarded
    g1, _, g3 = w.guardians
    paper = w.setup.paper_shares[g3.address]
    device, req = _start(w)
    for g in (g1, g3):
        g.recovery.approve_request(req)
    g1.recovery.reshare(req)
    w.ml.increase_time(DELAY + 1)
    real = getattr(device.contract, step)

    def killed_after(*args: Any, **kwargs: Any) -> Any:
        real(*args, **kwargs)  # the transaction lands, then the process dies
        raise Killed(step)

    monkeypatch.setattr(device.contract, step, killed_after)
    with pytest.raises(Killed):
        device.recovery.complete(w.pid, paper_shares=[paper])
    monkeypatch.undo()
    # a new process: a new session with the device's keystore; the paper share typed again
    again = w.ml.session(device.party)
    done = again.recovery.complete(w.pid, paper_shares=[paper])
    assert done.accept_tx is None  # the controller had moved before the kill
    _assert_recovered(w, again)
    # a third run has nothing left to do
    assert again.recovery.complete(w.pid).rotation.txs == ()


def test_not_ready_until_threshold_and_delay(guarded: tuple[Guarded, Session]) -> None:
    w, _ = guarded
    g1, g2, _ = w.guardians
    device, req = _start(w)
    g1.recovery.approve_request(req)
    g1.recovery.reshare(req)
    with pytest.raises(NotAuthorized):  # g2 has not approved this candidate: no share for it
        g2.recovery.reshare(req)
    g2.recovery.approve_request(req)
    g2.recovery.reshare(req)
    with pytest.raises(RecoveryNotReady, match="delay"):
        device.recovery.complete(w.pid)
    assert device.contract.patient_of(device.address) == 0


def test_forged_request_is_refused(guarded: tuple[Guarded, Session]) -> None:
    w, _ = guarded
    _device, req = _start(w)
    doc = w.ml.documents.get(bytes.fromhex(req[2:])).decode()
    thief = Party.generate()  # swaps in its own key, keeps the device's signature
    forged = doc.replace(
        doc.split("\nkey 0x")[1].split("\n")[0], thief.identity.public_key.encode().hex()
    )
    cid = w.ml.documents.put(forged.encode())
    with pytest.raises(SignatureError):
        w.guardians[0].recovery.approve_request("0x" + cid.digest.hex())


def test_removed_guardian_share_is_useless_after_reshare(
    guarded: tuple[Guarded, Session],
) -> None:
    w, patient = guarded
    g1, g2, g3 = w.guardians
    old_paper = w.setup.paper_shares[g3.address]
    old_g1 = ShareSet.from_document(w.ml.documents.get(w.setup.shares_digest)).open_share(
        g1.address, g1.party.identity
    )
    g4 = fresh(w.ml)
    g4.identity.register()
    new = patient.recovery.setup([g1.address, g2.address, g4.address], 2, DELAY)  # g3 removed
    shares = patient.recovery.shares()
    assert g3.address not in shares.guardians
    with pytest.raises(ShareError, match="not part of"):
        shares.verify(old_paper)
    new_g1 = shares.open_share(g1.address, g1.party.identity)
    assert new_g1 != old_g1  # fresh shares for the guardians who stay
    with pytest.raises(ShareError):
        shares.recover({g1.address: new_g1, g3.address: old_paper})
    # on the recovery path: g3's old words are refused even with g3 approving
    device, req = _start(w)
    for g in (g1, g2):
        g.recovery.approve_request(req)
    g1.recovery.reshare(req)
    w.ml.increase_time(DELAY + 1)
    with pytest.raises(ShareError, match="not part of"):
        device.recovery.complete(w.pid, paper_shares=[old_paper])
    assert new.paper_shares == {}
    g2.recovery.reshare(req)
    device.recovery.complete(w.pid)
    _assert_recovered(w, device)


def test_keys_rotate(guarded: tuple[Guarded, Session], monkeypatch: pytest.MonkeyPatch) -> None:
    w, patient = guarded
    old = patient.party.identity
    new_key = IdentityKey.generate()
    real = patient.contract.set_encryption_key

    def killed_after(*args: Any, **kwargs: Any) -> Any:
        real(*args, **kwargs)
        raise Killed("set_encryption_key")

    monkeypatch.setattr(patient.contract, "set_encryption_key", killed_after)
    with pytest.raises(Killed):
        patient.recovery.rotate(new_key)
    monkeypatch.undo()
    info = w.ml.session(patient.party).recovery.rotate(new_key)  # rerun with the same two keys
    assert info.rotated == ()
    assert len(info.txs) == 1
    assert set(info.paper_shares) == {w.guardians[2].address}
    rotated = w.ml.session(Party(patient.party.account, new_key))
    for rid, (_, data) in w.records.items():
        assert rotated.access.read(rid, "treatment") == data
    rec = rotated.records.add(w.pid, b"after rotation", "labs")
    assert w.clinic.access.read(rec.record_id, "treatment") == b"after rotation"
    with pytest.raises(DecryptionFailed):
        Keyring.load(w.ml.documents.get(rotated.contract.get_patient(w.pid).keyring), old)
    assert rotated.recovery.shares().identity_key == new_key.public_key
