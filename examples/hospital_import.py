"""A hospital integration job: import a nightly batch of records for several patients.

The hospital's interface engine hands over FHIR resources for patients who consented to the
hospital reading and writing the categories it produces. The job encrypts and registers every
record (one transaction each, signed by the hospital's key) and then checks that each patient's
timeline holds exactly what was imported, that a sample reads back byte for byte, and that the
read is the one entry of the patient's verified audit trail.

    python examples/hospital_import.py [--rpc URL] [--store DIR|URL]
"""

from __future__ import annotations

import json
from datetime import timedelta

from _common import Expectations, connect, parse_args
from medledger.codes import Category

# Synthetic resources only: no real person's data.
BATCH: dict[str, list[tuple[str, dict[str, object]]]] = {
    "patient-a": [
        (
            "labs",
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"text": "Hemoglobin A1c"},
                "valueQuantity": {"value": 5.6, "unit": "%"},
            },
        ),
        (
            "medications",
            {
                "resourceType": "MedicationStatement",
                "status": "active",
                "medicationCodeableConcept": {"text": "Metformin 500 mg"},
            },
        ),
    ],
    "patient-b": [
        (
            "immunizations",
            {
                "resourceType": "Immunization",
                "status": "completed",
                "vaccineCode": {"text": "Influenza, seasonal"},
            },
        ),
        (
            "labs",
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"text": "LDL cholesterol"},
                "valueQuantity": {"value": 128, "unit": "mg/dL"},
            },
        ),
        ("conditions", {"resourceType": "Condition", "code": {"text": "Essential hypertension"}}),
    ],
    "patient-c": [
        (
            "allergies",
            {
                "resourceType": "AllergyIntolerance",
                "code": {"text": "Peanut"},
                "criticality": "high",
            },
        ),
    ],
}


def main() -> None:
    args = parse_args(__doc__ or "")
    expect = Expectations()
    with connect(args) as ml:
        consortium = ml.session(ml.dev_party(0))
        hospital = ml.session(ml.dev_party(1))
        print(f"registering the hospital {hospital.address} as a provider")
        consortium.providers.register(hospital.party, name="St. Example Hospital")

        patients = {}
        for i, label in enumerate(BATCH, start=2):
            session = ml.session(ml.dev_party(i))
            pid = session.identity.register().patient_id
            categories = sorted({c for c, _ in BATCH[label]})
            session.consent.grant(
                hospital.address,
                categories=categories,
                purposes=["treatment"],
                actions=["read", "write"],
                duration=timedelta(days=365),
            )
            patients[label] = (session, pid)
            print(f"{label}: patient #{pid} consented to {', '.join(categories)} for 1 year")

        print("\nimporting the batch")
        imported: dict[str, list[tuple[bytes, str, bytes]]] = {}
        for label, items in BATCH.items():
            _, pid = patients[label]
            for category, resource in items:
                payload = json.dumps(resource, sort_keys=True).encode()
                rec = hospital.records.add(pid, payload, category=category)
                imported.setdefault(label, []).append((rec.record_id, category, payload))
                gas = rec.tx.gas_used if rec.tx else 0
                print(f"  {label} #{pid}: {category:<13} {rec.cid}  gas {gas:,}")

        print("\nchecking every timeline")
        for label, done in imported.items():
            session, pid = patients[label]
            timeline = session.records.timeline()
            got = sorted((r.record_id, r.category) for r in timeline)
            want = sorted((rid, Category[c.upper()]) for rid, c, _ in done)
            expect.check(got == want, f"{label}: timeline has the {len(done)} imported records")
            rid, _, payload = done[0]
            data = hospital.access.read(rid, purpose="treatment")
            expect.check(data == payload, f"{label}: first record reads back byte for byte")
            trail = session.audit.trail()
            # the chain also records the registration, the grant and every record added
            reads = [e for e in trail.entries if e.outcome.is_access]
            expect.check(
                trail.verified and len(reads) == 1 and reads[0].accessor == hospital.address,
                f"{label}: the read is the one access in the verified audit trail",
            )
    expect.finish()


if __name__ == "__main__":
    main()
