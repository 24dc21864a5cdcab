"""Fault injection (issue 14, "the proof"): every multi-step flow, each step failing in turn.

For each flow, a dry run records its steps (the transactions it sends and the store writes it
makes). Then, from the same chain snapshot, step ``i`` fails, for every ``i``, in each way:
``revert`` (the transaction is refused), ``lost`` (it is mined, then the node is unreachable
before the receipt arrives), ``kill`` (it is mined, then the process dies: a ``BaseException``
nothing may catch), ``store`` (a store write fails). A node unreachable *before* sending is the
SDK's ``revert`` case (an error before anything landed; ``Injector`` kind ``unreachable``), so
the matrix leaves it out to keep the suite's run time down. After
the failure, and again after a FRESH session (a new process) retries the flow:

- the patient decrypts every record they own, after garbage collection of the store, and every
  document the chain references is in the store;
- a cut-off party (revoked grantee, removed responder) decrypts nothing written after the cut
  with every key it was ever given; writes are refused instead while a rotation is pending;
- the error the caller saw names the transactions that landed;
- the retry completes and leaves nothing pending (``complete_rotation()`` has nothing to do).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from helpers.faults import (
    MB,
    STORE,
    Injector,
    Killed,
    World,
    keys_ever,
    make_world,
    opens,
    referenced_present,
    sealed,
)
from medledger import Medledger
from medledger.crypto import emergency_kit_responders
from medledger.errors import InvalidInput, MedledgerError, RotationPending

DAY = 86400


@dataclass(frozen=True)
class Flow:
    name: str
    setup: Callable[[World], None]
    run: Callable[[World], object]
    #: the retry a user would run, from a fresh session; must end in the flow's goal
    retry: Callable[[World], object]
    #: the party cut off by the flow (checked for every later record), if any
    cut: Callable[[World], str | None] | None = None
    category: str = "labs"


def _nothing(w: World) -> None:
    return None


# --- flows -------------------------------------------------------------------------------------


def _register(w: World) -> object:
    assert w.specialist_patient is not None
    return w.specialist_patient.identity.register()


def _register_retry(w: World) -> object:
    assert w.specialist_patient is not None
    s = w.fresh(w.specialist_patient)
    pid = s.contract.patient_of(s.address)
    if pid == 0 or s.contract.get_patient(pid).keyring == bytes(32):
        s.identity.register()  # new, or finishing an interrupted registration
    w.ml.store.gc()
    w.ml.documents._cache.clear()
    return w.fresh(w.specialist_patient).identity.keyring()  # its keyring survived the GC


def _add(w: World) -> object:
    return w.clinic.records.add(w.pid, b"lab result", "labs")


def _grant(w: World) -> object:
    return w.patient.consent.grant(w.specialist.address, ["labs"], duration=timedelta(days=10))


def _grant_retry(w: World) -> object:
    return w.fresh(w.patient).consent.grant(
        w.specialist.address, ["labs"], duration=timedelta(days=10)
    )


def _grant_many(w: World) -> object:
    return w.patient.consent.grant_many(
        [
            {"grantee": w.specialist.address, "categories": ["labs"], "duration": 10 * DAY},
            {"grantee": w.er.address, "categories": ["labs"], "duration": 20 * DAY},
        ]
    )


def _grant_many_retry(w: World) -> object:
    return w.fresh(w.patient).consent.grant_many(
        [
            {"grantee": w.specialist.address, "categories": ["labs"], "duration": 10 * DAY},
            {"grantee": w.er.address, "categories": ["labs"], "duration": 20 * DAY},
        ]
    )


def _revoke_setup(w: World) -> None:
    w.patient.consent.grant(w.specialist.address, ["labs"], duration=timedelta(days=30))
    w.patient.consent.grant(w.er.address, ["labs"], duration=timedelta(days=10))


def _revoke(w: World) -> object:
    return w.patient.consent.revoke(w.specialist.address)


def _revoke_retry(w: World) -> object:
    s = w.fresh(w.patient)
    try:
        return s.consent.revoke(w.specialist.address)
    except InvalidInput:
        # already revoked, nothing pending: the first run completed
        assert s.consent.complete_rotation() == []
        return None


def _relayed_grant(w: World) -> object:
    signed = w.patient.consent.sign_grant(
        w.specialist.address, ["labs"], duration=timedelta(days=10)
    )
    return w.er.relay.submit(signed)


def _relayed_grant_retry(w: World) -> object:
    signed = w.fresh(w.patient).consent.sign_grant(
        w.specialist.address, ["labs"], duration=timedelta(days=10)
    )
    return w.fresh(w.er).relay.submit(signed)


def _relayed_revoke(w: World) -> object:
    return w.er.relay.submit(w.patient.consent.sign_revoke(w.specialist.address))


def _relayed_revoke_retry(w: World) -> object:
    s = w.fresh(w.patient)
    if not s.contract.get_consent(w.pid, w.specialist.address).exists:
        return s.consent.complete_rotation()
    return w.fresh(w.er).relay.submit(s.consent.sign_revoke(w.specialist.address))


def _kit_setup(w: World) -> None:
    w.patient.emergency.configure(responders=[w.er.address, w.er2.address])


def _remove_responder(w: World) -> object:
    return w.patient.emergency.configure(responders=[w.er2.address])


def _remove_responder_retry(w: World) -> object:
    return w.fresh(w.patient).emergency.configure(responders=[w.er2.address])


def _break_glass(w: World) -> object:
    return w.er.emergency.break_glass(w.pid, "unconscious_patient", justification="ED")


def _break_glass_retry(w: World) -> object:
    s = w.fresh(w.er)
    if s.contract.break_glass_until(w.pid, s.address) > w.ml.now():
        return None
    return s.emergency.break_glass(w.pid, "unconscious_patient", justification="ED")


def _erase_setup(w: World) -> None:
    w.erased = w.clinic.records.add(w.pid, b"to erase", "labs").record_id


def _erase(w: World) -> object:
    return w.patient.records.erase(w.erased)


def _erase_retry(w: World) -> object:
    s = w.fresh(w.patient)
    if s.records.get(w.erased, patient_id=w.pid).erased:
        return None
    return s.records.erase(w.erased)


def _revoked(w: World) -> str | None:
    gone = not w.ml.deployment.medledger.get_consent(w.pid, w.specialist.address).exists
    return w.specialist.address if gone else None


def _removed(w: World) -> str | None:
    kit = w.ml.deployment.medledger.get_patient(w.pid).emergency_kit
    holders = emergency_kit_responders(w.ml.documents.get(kit))[1] if kit != bytes(32) else []
    return None if w.er.address in holders else w.er.address


FLOWS = [
    Flow("register", _nothing, _register, _register_retry),
    Flow("add-record", _nothing, _add, lambda w: _add(_freshen(w))),
    Flow("grant", _nothing, _grant, _grant_retry),
    Flow("grant-many", _nothing, _grant_many, _grant_many_retry),
    Flow("revoke", _revoke_setup, _revoke, _revoke_retry, _revoked),
    Flow("relayed-grant", _nothing, _relayed_grant, _relayed_grant_retry),
    Flow(
        "relayed-revoke",
        _revoke_setup,
        _relayed_revoke,
        _relayed_revoke_retry,
        _revoked,
    ),
    Flow(
        "emergency-config",
        _kit_setup,
        _remove_responder,
        _remove_responder_retry,
        _removed,
        "allergies",
    ),
    Flow("break-glass", _kit_setup, _break_glass, _break_glass_retry),
    Flow("erase", _erase_setup, _erase, _erase_retry),
]
KINDS = ("revert", "lost", "kill", "store")


def _freshen(w: World) -> World:
    w.clinic = w.fresh(w.clinic)
    return w


# --- the harness -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base() -> Iterator[World]:
    w = make_world()
    yield w
    w.ml.close()


def _sessions(w: World) -> None:
    """New sessions for everyone (after a revert, no cache of the old timeline may survive)."""
    for name in ("consortium", "patient", "clinic", "specialist", "er", "er2"):
        setattr(w, name, w.fresh(getattr(w, name)))
    w.specialist_patient = w.ml.session(w.ml.dev_party(6))


def _cut_holds(w: World, flow: Flow, *, pending_ok: bool) -> None:
    """Once the cut is on-chain, a record written now is unreadable to the cut-off party, or
    refused while the rotation is pending (allowed only before the retry)."""
    cut = None if flow.cut is None else flow.cut(w)
    if cut is None:
        assert pending_ok or flow.cut is None, f"{flow.name}: the retry did not cut the party off"
        return
    party = {s.address: s for s in (w.specialist, w.er, w.er2)}[cut]
    try:
        rec = w.fresh(w.clinic).records.add(w.pid, MB, flow.category)
    except RotationPending:
        assert pending_ok, "a rotation is still pending after the retry"
        return
    for delta in (0, 11 * DAY):  # also past another grant's end (a future epoch)
        if delta:
            w.ml.increase_time(delta)
            rec = w.fresh(w.clinic).records.add(w.pid, MB, flow.category)
        assert not opens(keys_ever(w, party), sealed(w, rec.record_id)), (
            f"{cut} decrypts a record written after it was cut off"
        )


def _case(w: World, flow: Flow, inj: Injector, mp: pytest.MonkeyPatch) -> str | None:
    """Run ``flow`` with ``inj`` installed; the error text the caller saw (None: no failure)."""
    with mp.context() as m:
        inj.install(m, w)
        try:
            flow.run(w)
        except MedledgerError as exc:
            return str(exc)
        except Killed:
            return "killed"
    return None


class _StoreSnapshot:
    """The embedded store's files, restored with the chain (an iteration's unpin and GC must not
    leak into the next one, which starts from a chain that still references those blocks). An
    IPFS node store is not restored: the flows run on it do not unpin what a revert brings
    back."""

    def __init__(self, w: World, tmp: Path) -> None:
        self._root: Path | None = getattr(w.ml.store, "root", None)
        self._saved = tmp / "store-snapshot"
        if self._root is not None:
            shutil.rmtree(self._saved, ignore_errors=True)
            shutil.copytree(self._root, self._saved)

    def restore(self) -> None:
        if self._root is not None:
            shutil.rmtree(self._root)
            shutil.copytree(self._saved, self._root)


def _every_step(w: World, flow: Flow, kind: str, mp: pytest.MonkeyPatch, tmp: Path) -> None:
    start = w.ml.chain.snapshot()
    try:
        _sessions(w)
        flow.setup(w)
        _sessions(w)
        snap = w.ml.chain.snapshot()
        files = _StoreSnapshot(w, tmp)
        dry = Injector()
        assert _case(w, flow, dry, mp) is None
        steps = dry.steps
        targets = [i for i, s in enumerate(steps) if (s in STORE) == (kind == "store")]
        assert kind == "store" or targets, f"{flow.name} sends no transaction?"
        for i in targets:
            w.ml.chain.revert(snap)
            snap = w.ml.chain.snapshot()
            files.restore()
            w.ml.documents._cache.clear()
            _sessions(w)
            inj = Injector(at=i, kind=kind)
            seen = _case(w, flow, inj, mp)
            where = f"{flow.name}: {kind} at step {i} ({steps[i]}) of {steps}"
            assert seen is not None, f"{where}: the failure was not reported"
            landed_before = [s for s in steps[:i] if s not in STORE]
            if kind in ("revert", "unreachable", "store") and landed_before:
                assert "landed" in seen, f"{where}: the error hides what landed: {seen}"
            _sessions(w)
            referenced_present(w)
            _cut_holds(w, flow, pending_ok=True)
            flow.retry(w)
            _sessions(w)
            referenced_present(w)
            _cut_holds(w, flow, pending_ok=False)
            assert w.fresh(w.patient).consent.complete_rotation() == [], (
                f"{where}: the retry left a rotation or refresh undone"
            )
    finally:
        w.ml.chain.revert(start)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("flow", FLOWS, ids=lambda f: f.name)
def test_every_step_failing(
    base: World, flow: Flow, kind: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _every_step(base, flow, kind, monkeypatch, tmp_path)


ANVIL_FLOWS = [f for f in FLOWS if f.name in ("grant", "revoke", "emergency-config")]


@pytest.fixture(scope="module")
def anvil_world(anvil_url: str, ipfs_api: str) -> Iterator[World]:
    w = make_world(Medledger.open(rpc=anvil_url, store=ipfs_api, deploy=True))
    yield w
    w.ml.close()


@pytest.mark.anvil
@pytest.mark.ipfs
@pytest.mark.parametrize("kind", ["lost", "kill"])
@pytest.mark.parametrize("flow", ANVIL_FLOWS, ids=lambda f: f.name)
def test_every_step_failing_on_anvil_and_ipfs(
    anvil_world: World, flow: Flow, kind: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The subset that depends on the node: a mined transaction whose receipt never arrives, and
    a process killed after one, on Anvil with the real js-ipfs daemon (its GC runs)."""
    _every_step(anvil_world, flow, kind, monkeypatch, tmp_path)
