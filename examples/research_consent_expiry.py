"""A research study's consent that expires.

A patient joins a study: they consent to their lab results being read, for research only, for 14
days. The study reads the labs for research;
using the same consent for treatment is refused; after 14 days the consent has expired by itself
and the study is refused (the contract reports "expired", and the refusal is in the audit trail).
A lab added after expiry is sealed under a key epoch the study never received.

    python examples/research_consent_expiry.py [--rpc URL] [--store DIR|URL]
"""

from __future__ import annotations

from datetime import timedelta

from _common import Expectations, connect, parse_args
from medledger.codes import Outcome
from medledger.errors import AccessDenied, ConsentExpired, KeyNotAvailable


def main() -> None:
    args = parse_args(__doc__ or "")
    expect = Expectations()
    with connect(args) as ml:
        consortium = ml.session(ml.dev_party(0))
        study = ml.session(ml.dev_party(1))
        patient = ml.session(ml.dev_party(2))
        consortium.providers.register(study.party, name="Example Cardiology Study")
        pid = patient.identity.register().patient_id
        lab = patient.records.add(
            pid, b'{"resourceType":"Observation","code":{"text":"Troponin"}}', category="labs"
        )
        print(f"patient #{pid} has a lab record {lab.cid}")

        patient.consent.grant(
            study.address, categories=["labs"], purposes=["research"], duration=timedelta(days=14)
        )
        print("the patient granted the study 14 days of labs, for research only")

        data = study.access.read(lab.record_id, purpose="research")
        expect.check(b"Troponin" in data, "the study reads the lab for research")
        try:
            study.access.read(lab.record_id, purpose="treatment")
            expect.check(False, "reading for treatment is refused")
        except AccessDenied as exc:
            expect.check(
                exc.outcome == Outcome.DENIED_PURPOSE,
                "reading for treatment is refused (purpose not granted)",
            )

        ml.increase_time(int(timedelta(days=14, minutes=1).total_seconds()))
        print("14 days later ...")
        try:
            study.access.read(lab.record_id, purpose="research")
            expect.check(False, "the expired consent is refused")
        except ConsentExpired:
            expect.check(True, "the expired consent is refused (ConsentExpired)")
        except AccessDenied as exc:
            expect.check(False, f"refused, but not as expired (outcome {exc.outcome})")

        later = patient.records.add(
            pid, b'{"resourceType":"Observation","code":{"text":"BNP"}}', category="labs"
        )
        try:
            study.access.open_offline(later.record_id)
            expect.check(False, "a lab added after expiry cannot be decrypted by the study")
        except KeyNotAvailable:
            expect.check(True, "a lab added after expiry: the study holds no key for it")

        trail = patient.audit.trail()
        # the chain also records the registration, the grant and the records added: keep reads
        outcomes = [Outcome(e.outcome) for e in trail.entries if Outcome(e.outcome).is_access]
        print("audit trail (accesses): " + ", ".join(o.name.lower() for o in outcomes))
        expect.check(trail.verified, "the audit trail's hash chain verifies")
        expect.check(
            outcomes == [Outcome.ALLOWED_CONSENT, Outcome.DENIED_PURPOSE, Outcome.DENIED_EXPIRED],
            "the trail holds the read, the wrong-purpose and the expired attempts",
        )
    expect.finish()


if __name__ == "__main__":
    main()
