"""A small world on the embedded chain for the SDK namespace tests (one per test module)."""

from __future__ import annotations

from dataclasses import dataclass

from medledger import Medledger, Session


@dataclass
class World:
    ml: Medledger
    consortium: Session
    patient: Session
    clinic: Session
    specialist: Session
    er: Session
    pid: int

    def session(self, index: int) -> Session:
        return self.ml.session(self.ml.dev_party(index))


def make_world() -> World:
    ml = Medledger.embedded()
    consortium, patient, clinic, specialist, er = (ml.session(ml.dev_party(i)) for i in range(5))
    consortium.providers.register(clinic.party, name="Riverside Clinic")
    consortium.providers.register(specialist.party, name="Dr. Lee, endocrinology")
    consortium.providers.register(er.party, name="City ER", emergency_responder=True)
    pid = patient.identity.register().patient_id
    patient.consent.grant(
        clinic.address, ["allergies", "labs", "vitals"], ["treatment"], ["read", "write"],
        duration=365 * 86400,
    )  # fmt: skip
    return World(ml, consortium, patient, clinic, specialist, er, pid)
