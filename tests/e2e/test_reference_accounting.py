"""The audit archive, HIPAA accounting and FHIR export over the reference scenario.

The scenario runs on the embedded chain; its events are indexed into an SQLite archive, verified
against the on-chain hash-chain head, and turned into the accounting of disclosures and a FHIR
Bundle, whose content is checked against what the scenario did.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from medledger.audit.accounting import accounting_of_disclosures, to_csv
from medledger.audit.archive import Archive
from medledger.audit.fhir import export_fhir_bundle
from medledger.audit.indexer import AuditIndexer
from medledger.audit.verify import verify_patient
from medledger.client import Medledger
from medledger.scenario import run_reference_scenario


def test_accounting_and_fhir_of_the_reference_scenario(tmp_path: Path) -> None:
    with Medledger.embedded(store_dir=tmp_path / "store") as ml:
        result = run_reference_scenario(ml)
        dep = ml.deployment
        archive = Archive.open(str(tmp_path / "audit.sqlite"))
        indexer = AuditIndexer(
            ml.chain.w3,
            archive,
            dep.medledger.address,
            anchor_registry=dep.anchors.address,
            start_block=dep.manifest.deploy_block,
        )
        indexer.sync()
        assert verify_patient(ml.chain.w3, archive, result.patient_id).ok

        now = datetime.fromtimestamp(ml.now(), UTC)
        report = accounting_of_disclosures(archive, result.patient_id, now=now)
        rows = report.rows
        parties = result.parties
        # every access of others to the patient's data, in order (the patient's own are excluded;
        # v2: the break-glass opening is an operation entry, listed in report.events, not a read)
        assert [r.recipient for r in rows] == [
            parties["specialist"],
            parties["er"],
            parties["er"],
            parties["specialist"],
        ]
        assert [r.recipient_name for r in rows] == [
            "Dr. Ada Okafor, Endocrinology",
            "City General Emergency Dept.",
            "City General Emergency Dept.",
            "Dr. Ada Okafor, Endocrinology",
        ]
        assert [r.denied for r in rows] == [False, False, True, True]
        assert [r.break_glass for r in rows] == [False, True, False, False]
        assert rows[0].category == "labs"
        assert rows[0].purpose == "treatment"
        assert rows[1].category == "allergies"
        assert rows[1].purpose == "emergency"
        assert "BreakGlassOpened" in [e.kind for e in report.events]
        csv_text = to_csv(report)
        assert csv_text.count("\n") >= len(rows) + 1
        assert "City General Emergency Dept." in csv_text

        bundle = export_fhir_bundle(
            archive, result.patient_id, ml.chain.chain_id, dep.medledger.address
        )
        assert bundle["resourceType"] == "Bundle"
        assert bundle["type"] == "collection"
        kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
        # one Consent per grant event (clinic, specialist, and the refreshed bundles), one
        # AuditEvent per access-log entry, one Provenance per record
        assert kinds.count("AuditEvent") == len(result.audit.entries)
        assert kinds.count("Provenance") == 3
        assert kinds.count("Consent") >= 2
