"""The serving provider's local link file: which medledger patient a FHIR Patient id is, and
which record holds which resource.

Nothing here ever goes on-chain. A hospital already keeps its master patient index (MRN, FHIR
Patient id, demographics); medledger only adds the link to the patient's on-chain number. The
record index (``Type/id`` -> patient, record) holds resource ids, never resource content, so a
read always goes through a consent-checked, logged read of the record itself. The file is
written 0600 (it links local identifiers to on-chain patients).

Format (JSON)::

    {"format": "medledger-fhir-links/1",
     "patients": {"<FHIR Patient id>": {"patient_id": 7, "resource": {...Patient as imported...}}},
     "resources": {"Condition/<id>": [7, "0x<record id>"]}}
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medledger.errors import InvalidInput
from medledger.fsutil import atomic_write

FORMAT = "medledger-fhir-links/1"


@dataclass(frozen=True)
class PatientLink:
    """A FHIR Patient id linked to a medledger patient (with the Patient resource as imported,
    when the import kept it)."""

    fhir_id: str
    patient_id: int
    resource: Mapping[str, Any] | None = None


class FhirLinks:
    """The link file in memory; :meth:`save` writes it back (0600, atomically)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = None if path is None else Path(path)
        self._patients: dict[str, PatientLink] = {}
        self._by_pid: dict[int, str] = {}
        self._resources: dict[str, tuple[int, bytes]] = {}
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: str | Path) -> FhirLinks:
        """Read a link file (a missing file is an empty index that :meth:`save` creates), or the
        importer's patient mapping (``{"<FHIR id>": <patient id>}``; kept in memory only)."""
        links = cls(path)
        p = Path(path)
        if not p.exists():
            return links
        try:
            doc = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidInput(f"cannot read the FHIR link file {p}: {exc}") from None
        if (
            isinstance(doc, dict)
            and "format" not in doc
            and all(isinstance(v, int) and not isinstance(v, bool) for v in doc.values())
        ):
            # the importer's patient mapping ({FHIR id: patient id}): read it, never rewrite it
            plain = cls(None)
            for fhir_id, pid in doc.items():
                plain.link_patient(str(fhir_id), pid)
            return plain
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise InvalidInput(f"{p} is not a {FORMAT} file")
        for fhir_id, entry in (doc.get("patients") or {}).items():
            if not isinstance(entry, dict) or not isinstance(entry.get("patient_id"), int):
                raise InvalidInput(f"{p}: patient {fhir_id!r} has no integer patient_id")
            links.link_patient(fhir_id, entry["patient_id"], entry.get("resource"))
        for key, value in (doc.get("resources") or {}).items():
            if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], int)):
                raise InvalidInput(f"{p}: resource {key!r} is not [patient_id, record_id]")
            kind, _, rid = key.partition("/")
            links.remember(kind, rid, value[0], bytes.fromhex(str(value[1]).removeprefix("0x")))
        return links

    def save(self) -> Path:
        if self.path is None:
            raise InvalidInput("this link index has no file")
        with self._lock:
            doc = {
                "format": FORMAT,
                "patients": {
                    k: {
                        "patient_id": v.patient_id,
                        **({"resource": dict(v.resource)} if v.resource is not None else {}),
                    }
                    for k, v in sorted(self._patients.items())
                },
                "resources": {
                    k: [pid, "0x" + rid.hex()] for k, (pid, rid) in sorted(self._resources.items())
                },
            }
        return atomic_write(self.path, json.dumps(doc, indent=1), mode=0o600)

    # --- patients ------------------------------------------------------------------------------

    def link_patient(
        self, fhir_id: str, patient_id: int, resource: Mapping[str, Any] | None = None
    ) -> PatientLink:
        """Link FHIR Patient ``fhir_id`` to medledger patient ``patient_id``."""
        if not fhir_id or patient_id < 1:
            raise InvalidInput(f"bad patient link {fhir_id!r} -> {patient_id}")
        if resource is not None and (
            resource.get("resourceType") != "Patient" or resource.get("id") != fhir_id
        ):
            raise InvalidInput(f"the resource linked to Patient/{fhir_id} is not that Patient")
        link = PatientLink(fhir_id, patient_id, resource)
        with self._lock:
            self._patients[fhir_id] = link
            self._by_pid[patient_id] = fhir_id
        return link

    def patient(self, fhir_id: str) -> PatientLink | None:
        return self._patients.get(fhir_id)

    def fhir_id_of(self, patient_id: int) -> str | None:
        return self._by_pid.get(patient_id)

    def patients(self) -> list[PatientLink]:
        return list(self._patients.values())

    # --- where resources are ---------------------------------------------------------------

    def remember(self, kind: str, resource_id: str, patient_id: int, record_id: bytes) -> None:
        """Note that ``kind/resource_id`` is in record ``record_id`` of ``patient_id``."""
        with self._lock:
            self._resources[f"{kind}/{resource_id}"] = (patient_id, bytes(record_id))

    def locate(self, kind: str, resource_id: str) -> tuple[int, bytes] | None:
        """(patient id, record id) of ``kind/resource_id``, if known."""
        return self._resources.get(f"{kind}/{resource_id}")

    def __len__(self) -> int:
        return len(self._resources)
