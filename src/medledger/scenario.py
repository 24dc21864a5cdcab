"""The reference scenario, as SDK calls: what ``medledger demo`` plays and the e2e tests check.

A clinic adds allergy and lab records; the patient grants a specialist 30 days of labs for
treatment; the specialist reads (logged); an ER doctor opens 24 h break-glass and reads the
allergies; 25 h later the ER read is denied and the denial is logged; the patient revokes the
specialist; a lab record added later is unreadable to the specialist (on-chain denial *and* no key
among everything the specialist ever held); the audit trail shows every access and denial in order
and its hash chain verifies.

The scenario only uses the public facade, so it runs unchanged on the embedded default, Anvil,
Hardhat or any JSON-RPC endpoint with dev accounts, over either record store.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from medledger.chain.types import TxResult
from medledger.client import AuditTrail, Medledger, RecordInfo, Session
from medledger.codes import Outcome
from medledger.errors import AccessDenied, KeyNotAvailable, MedledgerError

# Synthetic FHIR resources: no real person's data, ever.
ALLERGY = {
    "resourceType": "AllergyIntolerance",
    "clinicalStatus": {"coding": [{"code": "active"}]},
    "code": {
        "coding": [
            {
                "system": "http://snomed.info/sct",
                "code": "91936005",
                "display": "Allergy to penicillin",
            }
        ]
    },
    "criticality": "high",
}
LAB_A1C = {
    "resourceType": "Observation",
    "status": "final",
    "code": {
        "coding": [
            {
                "system": "http://loinc.org",
                "code": "4548-4",
                "display": "Hemoglobin A1c/Hemoglobin.total in Blood",
            }
        ]
    },
    "valueQuantity": {"value": 6.1, "unit": "%"},
}
LAB_LIPIDS = {
    "resourceType": "Observation",
    "status": "final",
    "code": {
        "coding": [
            {
                "system": "http://loinc.org",
                "code": "2093-3",
                "display": "Cholesterol [Mass/volume] in Serum or Plasma",
            }
        ]
    },
    "valueQuantity": {"value": 182, "unit": "mg/dL"},
}


def _fhir(resource: dict[str, Any]) -> bytes:
    return json.dumps(resource, sort_keys=True).encode()


@dataclass
class Step:
    """One narrated step: what happened, in words and in data."""

    title: str
    narrative: str
    ok: bool
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class ScenarioResult:
    steps: list[Step]
    gas: dict[str, list[int]]
    audit: AuditTrail
    patient_id: int
    parties: dict[str, str]

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.steps)


class ScenarioFailed(MedledgerError):
    """An expectation of the reference scenario did not hold."""


class Narration:
    """The steps of a play: each is kept, shown to ``on_step``, and a failed one stops the play
    (``step(title, narrative, ok, **details)``)."""

    def __init__(self, on_step: Callable[[Step], None] | None) -> None:
        self.steps: list[Step] = []
        self._on_step = on_step

    def __call__(self, title: str, narrative: str, ok: bool = True, **details: Any) -> None:
        s = Step(title, narrative, ok, details)
        self.steps.append(s)
        if self._on_step is not None:
            self._on_step(s)
        if not ok:
            raise ScenarioFailed(f"{title}: {narrative}")


def run_reference_scenario(
    ml: Medledger, on_step: Callable[[Step], None] | None = None
) -> ScenarioResult:
    """Play the reference scenario on ``ml`` (needs dev accounts: embedded, Anvil or Hardhat)."""
    step = Narration(on_step)
    steps = step.steps
    gas: dict[str, list[int]] = {}

    def note(op: str, used: int) -> None:
        gas.setdefault(op, []).append(used)

    def read(who: Session, record: RecordInfo, purpose: str) -> bytes:
        """A logged read, its ``recordAccess`` gas noted."""
        data = who.access.read(record.record_id, purpose=purpose)
        note("recordAccess", who.access.last_gas)
        return data

    consortium = ml.session(ml.dev_party(0))
    patient = ml.session(ml.dev_party(1))
    clinic = ml.session(ml.dev_party(2))
    specialist = ml.session(ml.dev_party(3))
    er = ml.session(ml.dev_party(4))
    parties = {
        "consortium": consortium.address,
        "patient": patient.address,
        "clinic": clinic.address,
        "specialist": specialist.address,
        "er": er.address,
    }

    # The consortium: three member hospitals' keys, any two of which act, through a Safe 1.4.1
    # multisig behind a 48 h timelock (docs/governance.md). Dev account 0 deployed the registry
    # and hands it over; members' keys only sign (offline), dev account 0 relays.
    members = [ml.dev_party(i).account for i in (5, 6, 7)]
    # The CustodianRegistry stays with dev account 0 here: the custodian act registers its
    # loopback custodians directly (the governed path is tests/governance).
    setup = consortium.consortium.create([m.address for m in members], 2, custodians=False)
    gov = setup.consortium
    scheduled = []
    for who, name, emergency in (
        (clinic, "Riverside Family Clinic", False),
        (specialist, "Dr. Ada Okafor, Endocrinology", False),
        (er, "City General Emergency Dept.", True),
    ):
        ks = who.providers.sign_key(deadline=ml.now() + 7 * 86400)
        p = consortium.consortium.propose_register(ks, name, emergency)
        p = gov.sign(gov.sign(p, members[0]), members[2])
        note("Safe: schedule registerProvider", consortium.consortium.execute(p).gas_used)
        scheduled.append(p)
    upcoming = [s.summary for s in consortium.consortium.upcoming_responders()]
    ml.increase_time(gov.timelock.min_delay() + 60)
    for p in scheduled:
        run = gov.sign(gov.sign(gov.propose_execute(p), members[1]), members[2])
        note("Safe: execute registerProvider", consortium.consortium.execute(run).gas_used)
    registered = all(ml.providers.get(w.address).status == 1 for w in (clinic, specialist, er))
    step(
        "Consortium registers providers",
        "The consortium is a 2-of-3 Safe multisig behind a 48-hour timelock that owns the provider "
        "registry. Two of its three members sign the registration of a clinic, a specialist and "
        "an emergency department (flagged as emergency responder); for 48 hours every patient "
        f"can see the coming change ({len(upcoming)} scheduled emergency responder), then the "
        "registrations are executed.",
        ok=registered and len(upcoming) == 1,
        providers={"clinic": clinic.address, "specialist": specialist.address, "er": er.address},
        safe=gov.safe.address,
        timelock=gov.timelock.address,
        scheduled_responders=upcoming,
    )

    info = patient.identity.register()
    pid = info.patient_id
    note("registerPatient", info.tx.gas_used)
    tx = patient.emergency.configure(responders=[er.address])
    note("setEmergencyAccess", tx.gas_used)
    step(
        "Patient registers",
        f"The patient registers as patient #{pid}, publishing an X25519 encryption key and an "
        "encrypted keyring; the emergency kit (allergies, medications, conditions) is sealed to "
        "the emergency department.",
        patient_id=pid,
    )

    g = patient.consent.grant(
        clinic.address,
        categories=["allergies", "labs"],
        purposes=["treatment"],
        actions=["read", "write"],
        duration=timedelta(days=365),
    )
    note("grant", g.tx.gas_used)
    for extra in g.extra_txs:
        note("setKeyring", extra.gas_used)
    allergy = clinic.records.add(pid, _fhir(ALLERGY), category="allergies")
    lab1 = clinic.records.add(pid, _fhir(LAB_A1C), category="labs")
    note("addRecord", _gas(allergy.tx))
    note("addRecord", _gas(lab1.tx))
    step(
        "Clinic adds records",
        "With the patient's write consent the clinic encrypts an allergy and a lab result, stores "
        "them in the record store and registers their CIDs on-chain.",
        records=[_rec(allergy), _rec(lab1)],
    )

    g = patient.consent.grant(
        specialist.address,
        categories=["labs"],
        purposes=["treatment"],
        actions=["read"],
        duration=timedelta(days=30),
    )
    # The grant's end starts a new lab key epoch; the clinic's longer grant spans it, so its key
    # bundle is refreshed in the same transaction (grantBatch of two).
    note("grantBatch (grant + 1 refreshed bundle)" if g.refreshed else "grant", g.tx.gas_used)
    for extra in g.extra_txs:
        note("setKeyring", extra.gas_used)
    step(
        "Patient grants the specialist 30 days of labs",
        "Consent for category labs, purpose treatment, read only, expiring in 30 days; the "
        "specialist receives a key bundle for the lab category (sealed to their key).",
        valid_until=g.valid_until,
    )

    data = read(specialist, lab1, "treatment")
    step(
        "Specialist reads the lab result",
        "The read is logged on-chain first (consent checked by the contract), then the record is "
        "fetched, its CID verified and decrypted.",
        ok=data == _fhir(LAB_A1C),
        bytes=len(data),
    )

    bg = er.emergency.break_glass(
        pid,
        reason="unconscious_patient",
        duration=timedelta(hours=24),
        justification="Unresponsive on arrival; medication history needed",
    )
    note("openBreakGlass", bg.tx.gas_used)
    data = read(er, allergy, "emergency")
    step(
        "ER opens break-glass and reads the allergies",
        "The emergency department opens 24 h emergency access (logged with its reason, the "
        "patient's wallet sees the event) and reads the allergy record.",
        ok=data == _fhir(ALLERGY),
        expires_at=bg.expires_at,
    )

    ml.increase_time(25 * 3600)
    denied: AccessDenied | None = None
    try:
        er.access.read(allergy.record_id, purpose="emergency")
    except AccessDenied as exc:
        denied = exc
    note("recordAccess (denied)", er.access.last_gas)
    step(
        "25 hours later the ER read is denied",
        "Break-glass expired by itself; the attempt is still logged on-chain, as a denial.",
        ok=denied is not None,
        outcome=None if denied is None or denied.outcome is None else Outcome(denied.outcome).name,
    )

    revoked = patient.consent.revoke(specialist.address)
    # one atomic transaction: revoke + keyring compare-and-swap + refreshed bundles
    note("revokeAndRekey", revoked.gas_used)
    for extra in revoked.extra_txs:  # a resealed emergency kit, when affected
        note("setEmergencyAccess", extra.gas_used)
    lab2 = clinic.records.add(pid, _fhir(LAB_LIPIDS), category="labs")
    note("addRecord", _gas(lab2.tx))
    onchain_denied = False
    try:
        specialist.access.read(lab2.record_id, purpose="treatment")
    except AccessDenied:
        onchain_denied = True
    no_key = False
    try:
        specialist.access.open_offline(lab2.record_id)
    except KeyNotAvailable:
        no_key = True
    step(
        "Patient revokes the specialist; a later lab is unreadable to them",
        "Revocation rotates the lab category to a new key epoch in the same transaction "
        "(revokeAndRekey). The specialist's read of the new "
        "lab is denied on-chain, and even trying every key they were ever given on the ciphertext "
        "fetched straight from the store fails: they hold no key for the new epoch.",
        ok=onchain_denied and no_key,
        denied_on_chain=onchain_denied,
        no_key=no_key,
    )

    trail = patient.audit.trail()
    step(
        "The patient's audit trail",
        f"{len(trail.entries)} entries (registration, consent, records, accesses, denials, "
        "break-glass) in order; the archive's "
        "hash chain matches the on-chain head.",
        ok=trail.verified,
        entries=len(trail.entries),
    )

    return ScenarioResult(steps=steps, gas=gas, audit=trail, patient_id=pid, parties=parties)


def _gas(tx: TxResult | None) -> int:
    return 0 if tx is None else tx.gas_used


def _rec(r: RecordInfo) -> dict[str, Any]:
    return {"record_id": "0x" + r.record_id.hex(), "cid": str(r.cid), "category": r.category.name}
