"""Audit trail and compliance: the event archive, its verification against the on-chain hash
chain, HIPAA accounting of disclosures, FHIR export and erasure reports.

Typical use::

    archive = Archive.open("audit.sqlite")
    AuditIndexer(w3, archive, medledger_address, anchor_registry_address).sync()
    report = verify_patient(w3, archive, patient_id)
    accounting = accounting_of_disclosures(archive, patient_id)
    html = to_html(accounting, report)
    bundle = export_fhir_bundle(archive, patient_id, chain_id, medledger_address)
"""

from medledger.audit.accounting import (
    AccountingReport,
    Disclosure,
    accounting_of_disclosures,
    table_rows,
    to_csv,
    to_json,
)
from medledger.audit.archive import (
    AccessEntry,
    Archive,
    ChainEntry,
    ChainLog,
    chain_entries_from_logs,
)
from medledger.audit.db import Database, SQLiteDatabase
from medledger.audit.erasure import (
    ErasureReport,
    KeyHolder,
    NotifiedGrantee,
    past_grantees,
    render_json,
    render_text,
)
from medledger.audit.fhir import export_fhir_bundle
from medledger.audit.indexer import AuditIndexer, Reorg, SyncResult
from medledger.audit.report_html import to_html
from medledger.audit.verify import Problem, VerificationReport, verify_entries, verify_patient

__all__ = [
    "AccessEntry",
    "AccountingReport",
    "Archive",
    "AuditIndexer",
    "ChainEntry",
    "ChainLog",
    "Database",
    "Disclosure",
    "ErasureReport",
    "KeyHolder",
    "NotifiedGrantee",
    "Problem",
    "Reorg",
    "SQLiteDatabase",
    "SyncResult",
    "VerificationReport",
    "accounting_of_disclosures",
    "chain_entries_from_logs",
    "export_fhir_bundle",
    "past_grantees",
    "render_json",
    "render_text",
    "table_rows",
    "to_csv",
    "to_html",
    "to_json",
    "verify_entries",
    "verify_patient",
]
