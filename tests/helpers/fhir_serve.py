"""FHIR API test helpers: Synthea patients loaded as records through the SDK, and validators
(fhir.resources R4B models and the official HL7 JSON schema) for every response.

The loader is the test's own stand-in for the importer: one resource per record, filed under
``category_for(resource)``, packed with ``medledger.fhir.records.pack``; the Patient resource
goes into the provider's link file (the API serves it from there).
"""

from __future__ import annotations

import copy
import functools
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from medledger import Session
from medledger.fhir import records
from medledger.fhir.api import FhirLinks
from medledger.fhir.categories import category_for

SYNTHEA = Path(os.environ.get("MEDLEDGER_SYNTHEA", "/work/shared/data/synthea-10"))
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
    """Add each clinical resource as one record (the provider needs write consent); link the
    Patient. Returns the number of records added."""
    added = 0
    for resource in resources:
        if resource["resourceType"] == "Patient":
            links.link_patient(resource["id"], patient_id, resource)
            continue
        category = category_for(resource)
        assert category is not None, resource["resourceType"]
        info = provider.records.add(patient_id, records.pack([resource]), category)
        links.remember(resource["resourceType"], resource["id"], patient_id, info.record_id)
        added += 1
    return added


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
