"""Which medledger category a FHIR resource is filed under (the table in docs/fhir.md).

The category is the unit of consent: a grant for ``labs`` must open laboratory results and
nothing else, so the mapping follows what a clinician would expect to be covered by the word.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from medledger.codes import Category

#: Resource types filed under one category whatever their content.
BY_TYPE: Mapping[str, Category] = {
    "AllergyIntolerance": Category.ALLERGIES,
    "MedicationRequest": Category.MEDICATIONS,
    "MedicationStatement": Category.MEDICATIONS,
    "MedicationAdministration": Category.MEDICATIONS,
    "MedicationDispense": Category.MEDICATIONS,
    "Condition": Category.CONDITIONS,
    "ImagingStudy": Category.IMAGING,
    "Immunization": Category.IMMUNIZATIONS,
    "Procedure": Category.PROCEDURES,
    "DocumentReference": Category.NOTES,
    "Encounter": Category.NOTES,
    "Device": Category.PROCEDURES,
    "MolecularSequence": Category.GENOMICS,
}

#: Observation categories (http://terminology.hl7.org/CodeSystem/observation-category) to ours.
_OBSERVATION: Mapping[str, Category] = {
    "vital-signs": Category.VITALS,
    "laboratory": Category.LABS,
    "imaging": Category.IMAGING,
    "procedure": Category.PROCEDURES,
    "survey": Category.NOTES,
    "social-history": Category.NOTES,
    "exam": Category.NOTES,
    "therapy": Category.PROCEDURES,
    "activity": Category.VITALS,
}

#: DiagnosticReport categories (v2-0074 section codes) filed as imaging; the rest are labs.
_IMAGING_SECTIONS = frozenset({"RAD", "CT", "MR", "US", "NMR", "XRC", "CUS", "RX", "VUS"})

#: Every resource type that can be imported as a clinical record.
CLINICAL_TYPES: frozenset[str] = frozenset({*BY_TYPE, "Observation", "DiagnosticReport"})


def _category_codes(resource: Mapping[str, Any]) -> list[str]:
    codes: list[str] = []
    raw = resource.get("category")
    concepts = raw if isinstance(raw, list) else [raw] if isinstance(raw, dict) else []
    for concept in concepts:
        if isinstance(concept, dict):
            for coding in concept.get("coding") or []:
                if isinstance(coding, dict) and isinstance(coding.get("code"), str):
                    codes.append(coding["code"])
    return codes


def category_for(resource: Mapping[str, Any]) -> Category | None:
    """The category ``resource`` is filed under, or None when it is not a clinical record
    (Patient, Organization, Practitioner... are context, not records)."""
    kind = resource.get("resourceType")
    if not isinstance(kind, str):
        return None
    if kind in BY_TYPE:
        return BY_TYPE[kind]
    if kind == "Observation":
        for code in _category_codes(resource):
            if code in _OBSERVATION:
                return _OBSERVATION[code]
        return Category.LABS
    if kind == "DiagnosticReport":
        codes = _category_codes(resource)
        return Category.IMAGING if _IMAGING_SECTIONS.intersection(codes) else Category.LABS
    return None


def categories_for_type(resource_type: str) -> frozenset[Category]:
    """Every category a resource of ``resource_type`` can be filed under (where a search for
    that type has to look)."""
    if resource_type in BY_TYPE:
        return frozenset({BY_TYPE[resource_type]})
    if resource_type == "Observation":
        return frozenset({*_OBSERVATION.values(), Category.LABS})
    if resource_type == "DiagnosticReport":
        return frozenset({Category.LABS, Category.IMAGING})
    return frozenset()
