"""A patient with guardians, records, grantees and an emergency kit, for the recovery tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from medledger import Medledger, Session
from medledger.client import Party
from medledger.client.recovery import SetupInfo

WEI = 10**18
DELAY = 86_400
#: one record per category the patient uses (several categories, per issue 15)
RECORDS = {
    "labs": b'{"resourceType":"Observation","code":{"text":"HbA1c"},"valueQuantity":{"value":6.1}}',
    "allergies": b'{"resourceType":"AllergyIntolerance","code":{"text":"penicillin"}}',
    "medications": b'{"resourceType":"MedicationStatement","medication":{"text":"metformin"}}',
    "vitals": b'{"resourceType":"Observation","code":{"text":"blood pressure"}}',
}


@dataclass
class Guarded:
    """The world of a recovery: everything but the patient's keys is kept."""

    ml: Medledger
    pid: int
    clinic: Session
    specialist: Session
    newdoc: Session
    er: Session
    guardians: list[Session]
    setup: SetupInfo
    #: record id -> (category, plaintext) of the records added before the loss
    records: dict[bytes, tuple[str, bytes]] = field(default_factory=dict)


def fresh(ml: Medledger, party: Party | None = None) -> Session:
    """A session of a brand-new funded account (nothing derived from dev keys)."""
    party = party or Party.generate()
    ml.chain.fund(party.address, WEI)
    return ml.session(party)


def build(ml: Medledger, *, paper_guardian: bool = True) -> tuple[Guarded, Session]:
    """A patient (fresh keys) with records in four categories, two grantees, an emergency kit
    and a 2-of-3 guardian set (guardian 2 on paper); returns the world and the patient."""
    consortium = ml.session(ml.dev_party(0))
    clinic, specialist, newdoc, er = (fresh(ml) for _ in range(4))
    consortium.providers.register(clinic.party, name="Clinic")
    consortium.providers.register(specialist.party, name="Specialist")
    consortium.providers.register(newdoc.party, name="New doctor")
    consortium.providers.register(er.party, name="ER", emergency_responder=True)
    # guardians: a provider-like family doctor, a registered patient (sibling), a paper holder
    g1 = fresh(ml)
    consortium.providers.register(g1.party, name="Family doctor")
    g2 = fresh(ml)
    g2.identity.register()
    g3 = fresh(ml)
    patient = fresh(ml)
    pid = patient.identity.register().patient_id
    year = timedelta(days=365)
    patient.consent.grant(clinic.address, ["labs", "allergies", "vitals"], duration=year)
    patient.consent.grant(specialist.address, ["labs", "medications"], duration=year)
    patient.emergency.configure(responders=[er.address])
    records: dict[bytes, tuple[str, bytes]] = {}
    for cat, data in RECORDS.items():
        records[patient.records.add(pid, data, cat).record_id] = (cat, data)
    paper = [g3.address] if paper_guardian else []
    setup = patient.recovery.setup([g1.address, g2.address, g3.address], 2, DELAY, paper=paper)
    return Guarded(ml, pid, clinic, specialist, newdoc, er, [g1, g2, g3], setup, records), patient
