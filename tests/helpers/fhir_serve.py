"""FHIR API test helpers: Synthea patients loaded as records through the SDK, and validators
(fhir.resources R4B models and the official HL7 JSON schema) for every response.

The loader is the test's own stand-in for the importer: one record per patient x category,
holding the resources ``category_for`` files there, packed with ``medledger.fhir.records.pack``;
the Patient resource goes into the provider's link file (the API serves it from there).
"""

from __future__ import annotations

import copy
import functools
import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medledger import Medledger, Session
from medledger.codes import Category
from medledger.fhir import records, sample
from medledger.fhir.api import FhirLinks
from medledger.fhir.categories import category_for

SYNTHEA = sample.location()
ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "node_modules" / "hl7.fhir.r4b.core" / "openapi" / "fhir.schema.json"

#: Two full Synthea patients: one with allergies (111 resources), one with a device (62).
WITH_ALLERGIES = "cbc86e51-9eca-3855-76ec-c058f72c5761"
WITH_DEVICE = "63ee2253-bdd5-da55-2ad2-b4984d0ad700"


def _patient_of(resource: Mapping[str, Any]) -> str | None:
    if resource.get("resourceType") == "Patient":
        return str(resource["id"])
    for key in ("patient", "subject"):
        ref = resource.get(key)
        if isinstance(ref, dict) and str(ref.get("reference", "")).startswith("Patient/"):
            return str(ref["reference"]).removeprefix("Patient/")
    return None


def synthea_resources(fhir_ids: set[str]) -> dict[str, list[dict[str, Any]]]:
    """Every resource of the given patients in the export (streamed, line by line), by patient;
    the Patient first."""
    out: dict[str, list[dict[str, Any]]] = {f: [] for f in fhir_ids}
    for path in sorted(SYNTHEA.glob("*.ndjson")):
        if path.name.startswith("log"):
            continue
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    continue
                resource = json.loads(line)
                owner = _patient_of(resource)
                if owner in out:
                    out[owner].append(resource)
    for items in out.values():
        items.sort(key=lambda r: r["resourceType"] != "Patient")
    return out


def load_patient(
    provider: Session, patient_id: int, resources: list[dict[str, Any]], links: FhirLinks
) -> int:
    """Add the patient's clinical resources as one record per category (the provider needs
    write consent), packed in export order; link the Patient. Returns the records added."""
    by_category: dict[Category, list[dict[str, Any]]] = {}
    for resource in resources:
        if resource["resourceType"] == "Patient":
            links.link_patient(resource["id"], patient_id, resource)
            continue
        category = category_for(resource)
        assert category is not None, resource["resourceType"]
        by_category.setdefault(category, []).append(resource)
    for category, group in sorted(by_category.items()):
        info = provider.records.add(patient_id, records.pack(group), category)
        for resource in group:
            links.remember(resource["resourceType"], resource["id"], patient_id, info.record_id)
    return len(by_category)


# --- validation ------------------------------------------------------------------------------


@functools.cache
def _schema_validators() -> tuple[Any, dict[str, Any]]:
    """One compiled validator per resource type, over the official schema (compiled once).

    The schema's ``ResourceList`` is a ``oneOf`` over every resource type, each fixed by its
    ``resourceType`` constant; contained resources (Bundle entries) are validated against their
    own type's definition instead, which is the same check without trying all 150 types."""
    import jsonschema

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    shallow = copy.deepcopy(schema)
    shallow["definitions"]["ResourceList"] = {"type": "object"}
    cls = jsonschema.validators.validator_for(schema)
    per_type: dict[str, Any] = {}

    def validator(kind: str) -> Any:
        if kind not in per_type:
            if kind not in schema["definitions"]:
                raise AssertionError(f"no such FHIR resource type {kind!r}")
            per_type[kind] = cls({"$ref": f"#/definitions/{kind}", **shallow})
        return per_type[kind]

    return validator, schema


def _contained(doc: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield doc
    if doc.get("resourceType") == "Bundle":
        for entry in doc.get("entry", []):
            yield from _contained(entry["resource"])


def validate_fhir(doc: Mapping[str, Any]) -> None:
    """Raise if ``doc`` is not a valid R4B resource (fhir.resources model and HL7 JSON schema)."""
    from fhir.resources.R4B import get_fhir_model_class

    get_fhir_model_class(str(doc["resourceType"])).model_validate(dict(doc))
    validator, _ = _schema_validators()
    for resource in _contained(doc):
        errors = list(validator(str(resource["resourceType"])).iter_errors(resource))
        assert not errors, f"{resource['resourceType']}: {errors[0].message[:300]}"


# --- the FHIR API test world ------------------------------------------------------------

#: The patient every test reads: 110 clinical resources in 6 categories, allergies included.
FHIR_ID = WITH_ALLERGIES


@dataclass
class FhirWorld:
    ml: Medledger
    patient: Session
    hospital: Session
    clinic: Session
    lab: Session
    pid: int
    resources: list[dict[str, Any]]  # as in the export, Patient first
    links: FhirLinks
    urls: dict[str, str]  # server of each provider

    def clinical(self) -> list[dict[str, Any]]:
        return [r for r in self.resources if r["resourceType"] != "Patient"]


class ApiLog(logging.Handler):
    """Every line the API and uvicorn log, kept for the no-PHI test."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def check(doc: dict[str, Any]) -> dict[str, Any]:
    validate_fhir(doc)
    return doc
