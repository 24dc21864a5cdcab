"""``Consent``, ``AuditEvent`` and ``Provenance`` of a patient, live from the chain.

The resources are those of the audit export (:func:`medledger.audit.fhir.export_fhir_bundle`),
built from an in-memory audit archive that is brought up to the chain head before each answer.
They describe public on-chain events (grants, the access log, record authorship), never record
content, so serving them logs nothing.
"""

from __future__ import annotations

from typing import Any

from medledger.audit.archive import Archive
from medledger.audit.fhir import export_fhir_bundle
from medledger.client.facade import Medledger

#: The resource types this view serves.
CHAIN_TYPES = ("Consent", "AuditEvent", "Provenance")


class ChainView:
    def __init__(self, ml: Medledger) -> None:
        self._ml = ml
        self._archive: Archive | None = None

    def _synced(self) -> Archive:
        # created on first use, on the thread that serves requests (SQLite connections stay on
        # the thread that made them)
        if self._archive is None:
            self._archive = Archive.open(":memory:")
        self._ml.sync_archive(self._archive)
        return self._archive

    def resources(self, patient_id: int, kind: str) -> list[dict[str, Any]]:
        """The patient's resources of type ``kind`` (a :data:`CHAIN_TYPES`), in export order."""
        bundle = export_fhir_bundle(
            self._synced(),
            patient_id,
            self._ml.chain.chain_id,
            self._ml.manifest.contracts["MedLedger"].address,
            as_of=self._ml.now(),
        )
        return [
            e["resource"] for e in bundle.get("entry", []) if e["resource"]["resourceType"] == kind
        ]

    def close(self) -> None:
        if self._archive is not None:
            self._archive.close()
            self._archive = None
