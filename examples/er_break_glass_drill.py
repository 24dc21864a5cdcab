"""An emergency-department break-glass drill.

Drills prove the emergency path works before a real emergency: the patient has chosen which
categories an ER may open (the default: allergies, medications, conditions) and which ER holds the
emergency kit. The drill checks that without break-glass the ER is refused (and the refusal is
logged), that break-glass opens the emergency categories only, that it closes by itself when the
window ends, and that the patient sees every step in a verified audit trail.

    python examples/er_break_glass_drill.py [--rpc URL] [--store DIR|URL]
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from _common import Expectations, connect, parse_args
from medledger.codes import Outcome
from medledger.errors import AccessDenied

if TYPE_CHECKING:
    from medledger.client import Session


def try_read(session: Session, record_id: bytes, purpose: str) -> AccessDenied | None:
    """The denial if the read is refused, None if it succeeds."""
    try:
        session.access.read(record_id, purpose=purpose)
    except AccessDenied as exc:
        return exc
    return None


def main() -> None:
    args = parse_args(__doc__ or "")
    expect = Expectations()
    with connect(args) as ml:
        consortium = ml.session(ml.dev_party(0))
        clinic = ml.session(ml.dev_party(1))
        er = ml.session(ml.dev_party(2))
        patient = ml.session(ml.dev_party(3))
        consortium.providers.register(clinic.party, name="Drill Family Clinic")
        consortium.providers.register(er.party, name="Drill ER", emergency_responder=True)
        pid = patient.identity.register().patient_id
        patient.emergency.configure(responders=[er.address])
        patient.consent.grant(
            clinic.address,
            categories=["allergies", "genomics"],
            purposes=["treatment"],
            actions=["read", "write"],
            duration=timedelta(days=365),
        )
        allergy = clinic.records.add(
            pid,
            b'{"resourceType":"AllergyIntolerance","code":{"text":"Latex"}}',
            category="allergies",
        )
        genome = clinic.records.add(
            pid, b'{"resourceType":"MolecularSequence"}', category="genomics"
        )
        print(f"patient #{pid}: an allergy and a genomics record; emergency kit sealed to the ER")

        print("\n1. before break-glass the ER is refused")
        denied = try_read(er, allergy.record_id, "emergency")
        expect.check(denied is not None, "ER read without break-glass is denied")

        print("2. the ER opens break-glass for 2 hours")
        bg = er.emergency.break_glass(
            pid,
            reason="unconscious_patient",
            duration=timedelta(hours=2),
            justification="Drill: unresponsive patient",
        )
        print(f"   open until chain time {bg.expires_at}")
        expect.check(
            try_read(er, allergy.record_id, "emergency") is None,
            "ER reads the allergy (an emergency category)",
        )
        expect.check(
            try_read(er, genome.record_id, "emergency") is not None,
            "ER is refused the genomics record (not an emergency category)",
        )

        print("3. three hours later the window has closed by itself")
        ml.increase_time(3 * 3600)
        expect.check(
            try_read(er, allergy.record_id, "emergency") is not None,
            "ER read after the window is denied",
        )

        print("4. the patient's audit trail")
        trail = patient.audit.trail()
        outcomes = [Outcome(e.outcome) for e in trail.entries]
        for e, o in zip(trail.entries, outcomes, strict=True):
            print(f"   #{e.seq} {o.name.lower()}")
        expect.check(trail.verified, "the hash chain verifies against the on-chain head")
        expect.check(Outcome.BREAK_GLASS_OPENED in outcomes, "the break-glass opening is logged")
        expect.check(outcomes.count(Outcome.ALLOWED_EMERGENCY) == 1, "one emergency read allowed")
        expect.check(sum(not o.allowed for o in outcomes) == 3, "three denials are logged")
    expect.finish()


if __name__ == "__main__":
    main()
