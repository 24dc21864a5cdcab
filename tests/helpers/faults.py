"""The world, the invariants and the fault injector of the key-safety and fault-injection tests.

Invariants (issue 14): the patient decrypts every record they own; a cut-off party (revoked or
expired grantee, removed or suspended responder) decrypts nothing added after the cut-off with
every key it could ever fetch (every bundle and every kit ever published for it); no document
the chain references is missing from the store after garbage collection.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from eth_utils.address import to_checksum_address

from helpers.client import World as ClientWorld
from medledger import Medledger, Session
from medledger.chain.types import ZERO32
from medledger.crypto import KeySet, open_emergency_kit, open_key_bundle, open_record
from medledger.errors import ChainUnavailable, MedledgerError, StorageError, TransactionFailed

MB = b'{"resourceType":"AllergyIntolerance","code":{"text":"penicillin"}}'


@dataclass
class World(ClientWorld):
    """The SDK tests' world plus a second emergency responder and what the flows leave."""

    er2: Session
    #: a party that registers as a second patient in the registration flow
    specialist_patient: Session | None = None
    #: the record of the erasure flow
    erased: bytes = b""

    def fresh(self, session: Session) -> Session:
        """A new process of the same party: no caches, same keys."""
        return self.ml.session(session.party)


def make_world(ml: Medledger | None = None) -> World:
    """Consortium, a patient (granting the clinic labs + allergies for a year), a clinic, a
    specialist and two emergency responders, on ``ml`` (default: a fresh embedded deployment)."""
    ml = Medledger.embedded() if ml is None else ml
    s = [ml.session(ml.dev_party(i)) for i in range(7)]
    consortium, patient, clinic, specialist, er, er2 = s[0], s[1], s[2], s[3], s[4], s[5]
    consortium.providers.register(clinic.party, name="Clinic")
    consortium.providers.register(specialist.party, name="Specialist")
    consortium.providers.register(er.party, name="ER", emergency_responder=True)
    consortium.providers.register(er2.party, name="ER two", emergency_responder=True)
    pid = patient.identity.register().patient_id
    patient.consent.grant(
        clinic.address,
        ["allergies", "labs"],
        ["treatment"],
        ["read", "write"],
        duration=365 * 86400,
    )
    return World(ml, consortium, patient, clinic, specialist, er, pid, er2=er2)


# --- what a party could ever hold --------------------------------------------------------------


def keys_ever(w: World, party: Session) -> list[KeySet]:
    """Every key set ``party`` could fetch from patient ``w.pid``: each bundle ever published to
    it (grants and refreshes) and each emergency kit ever published that names it."""
    c, pid, me = w.ml.deployment.medledger, w.pid, party.address
    held: list[KeySet] = []
    for name in ("ConsentGranted", "KeyBundleRefreshed"):
        for e in c.get_events(name, argument_filters={"patientId": pid, "grantee": me}):
            doc = w.ml.documents.get(bytes(e.args["keyBundle"]))
            held.append(open_key_bundle(doc, party.party.identity, patient_id=pid, grantee=me))
    for e in c.get_events("EmergencyAccessConfigured", argument_filters={"patientId": pid}):
        kit = bytes(e.args["emergencyKit"])
        if kit == ZERO32:
            continue
        with contextlib.suppress(MedledgerError):  # a kit that does not name this party
            held.append(
                open_emergency_kit(
                    w.ml.documents.get(kit), party.party.identity, patient_id=pid, responder=me
                )
            )
    return held


def opens(held: list[KeySet], blob: bytes) -> bool:
    """True if any held key set decrypts ``blob`` (every set is tried, not just matched)."""
    for ks in held:
        try:
            open_record(blob, ks)
        except MedledgerError:  # KeyNotAvailable / DecryptionFailed
            pass
        else:
            return True
    return False


def sealed(w: World, rid: bytes) -> bytes:
    return w.fresh(w.patient).records.fetch_sealed(rid, patient_id=w.pid)


# --- invariants --------------------------------------------------------------------------------


def patient_reads_everything(w: World) -> None:
    """A fresh session of the patient decrypts every record it owns (after a store GC)."""
    p = w.fresh(w.patient)
    keyring = p.identity.keyring()
    for info in p.records.timeline(w.pid):
        if info.erased:
            continue
        assert open_record(p.records.fetch_sealed(info.record_id), keyring).plaintext


def referenced_present(w: World) -> None:
    """Every document the chain references now is in the store after garbage collection."""
    w.ml.store.gc()
    c, pid = w.ml.deployment.medledger, w.pid
    patient = c.get_patient(pid)
    w.ml.documents._cache.clear()  # read from the store
    for digest in (patient.keyring, patient.emergency_kit):
        if digest != ZERO32:
            w.ml.documents.get(digest)
    newest: dict[str, bytes] = {}
    for name in ("ConsentGranted", "KeyBundleRefreshed"):
        for e in c.get_events(name, argument_filters={"patientId": pid}):
            newest[to_checksum_address(e.args["grantee"])] = bytes(e.args["keyBundle"])
    for grantee, digest in newest.items():
        if c.get_consent(pid, grantee).exists:
            w.ml.documents.get(digest)
    patient_reads_everything(w)


# --- the fault injector ------------------------------------------------------------------------


class Killed(BaseException):
    """The process died here (not an Exception: nothing of the SDK's may catch it)."""


#: contract calls that send a transaction
WRITES = (
    "register_patient", "set_keyring", "set_keyring_by_sig", "set_emergency_access", "grant",
    "grant_batch", "revoke", "revoke_and_rekey", "revoke_and_rekey_by_sig", "grant_by_sig",
    "revoke_by_sig", "add_record", "erase_record", "open_break_glass", "set_guardians",
    "approve_recovery", "accept_recovery", "execute_recovery",
)  # fmt: skip
STORE = ("put", "put_stream")


@dataclass
class Injector:
    """Counts the steps (transactions and store writes) of a flow; fails step ``at``."""

    at: int = -1
    kind: str = ""
    steps: list[str] = field(default_factory=list)
    fired: str | None = None

    def install(self, mp: pytest.MonkeyPatch, w: World) -> None:
        # each session's own bound contract (a clone per sender): never the deployment's, whose
        # attributes every later clone would copy
        targets: list[tuple[Any, str]] = [(w.ml.store, n) for n in STORE]
        sessions = [w.patient, w.clinic, w.specialist, w.er, w.er2, w.consortium]
        if w.specialist_patient is not None:
            sessions.append(w.specialist_patient)
        for s in sessions:
            targets += [(s.contract, n) for n in WRITES if hasattr(s.contract, n)]
        for obj, name in targets:
            mp.setattr(obj, name, self._wrap(name, getattr(obj, name)))

    def _wrap(self, name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def call(*a: Any, **kw: Any) -> Any:
            i = len(self.steps)
            self.steps.append(name)
            if i != self.at or self.fired is not None:
                return real(*a, **kw)
            self.fired = f"{self.kind}@{name}"
            if name in STORE:
                raise StorageError(f"injected store write failure in {name}")
            if self.kind == "revert":
                raise TransactionFailed(f"injected revert of {name}")
            if self.kind == "unreachable":
                raise ChainUnavailable(f"injected: node unreachable before {name}")
            real(*a, **kw)
            if self.kind == "lost":
                raise ChainUnavailable(f"injected: node gone after {name} was mined")
            raise Killed(name)

        return call
