"""The ``CapabilityStatement`` (``GET /metadata``): exactly what the API supports."""

from __future__ import annotations

from typing import Any

from medledger import __version__
from medledger.fhir.api.chainview import CHAIN_TYPES
from medledger.fhir.api.outcomes import PURPOSE_HEADER
from medledger.fhir.categories import CLINICAL_TYPES

#: Bundle page size when the request names none, and the largest accepted.
DEFAULT_COUNT = 50
MAX_COUNT = 1000
FHIR_VERSION = "4.0.1"

_PATIENT_PARAM = {
    "name": "patient",
    "type": "reference",
    "documentation": "Required: the patient (`<id>` or `Patient/<id>`); `subject` is accepted too.",
}
_COUNT_PARAM = {
    "name": "_count",
    "type": "number",
    "documentation": f"Page size, 1..{MAX_COUNT} (default {DEFAULT_COUNT}); follow `next` links.",
}
_SECURITY = (
    "Every read of clinical data is checked against the patient's on-chain consent and logged "
    "on-chain before anything is returned (HTTP 403 with an OperationOutcome when refused). "
    f"The purpose of use is the `{PURPOSE_HEADER}` request header: an HL7 v3 ActReason "
    "PurposeOfUse code (TREAT, ETREAT, HPAYMT, HOPERAT, HRESCH, PUBHLTH, PATRQT, HLEGAL) or a "
    "medledger purpose name; default TREAT. The server acts as one provider (its own keys); it "
    "listens on loopback unless told otherwise and does no client authentication: run it next "
    "to the EHR, behind the hospital's own access control."
)


def capability_statement(date: str, base_url: str) -> dict[str, Any]:
    clinical: list[dict[str, Any]] = [
        {
            "type": kind,
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": [_PATIENT_PARAM, _COUNT_PARAM],
        }
        for kind in sorted(CLINICAL_TYPES)
    ]
    chain: list[dict[str, Any]] = [
        {
            "type": kind,
            "interaction": [{"code": "search-type"}],
            "searchParam": [_PATIENT_PARAM, _COUNT_PARAM],
            "documentation": "From the chain's public events (the audit export), live.",
        }
        for kind in CHAIN_TYPES
    ]
    patient: dict[str, Any] = {
        "type": "Patient",
        "interaction": [{"code": "read"}, {"code": "search-type"}],
        "searchParam": [
            {"name": "_id", "type": "token", "documentation": "Required for a Patient search."}
        ],
        "operation": [
            {
                "name": "everything",
                "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
                "documentation": "Every resource of the patient the consent covers, one "
                "searchset Bundle; withheld categories are named in an OperationOutcome entry.",
            }
        ],
    }
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": date,
        "publisher": "medledger",
        "kind": "instance",
        "software": {"name": "medledger fhir serve", "version": __version__},
        "implementation": {
            "description": "medledger FHIR read API for one provider",
            "url": base_url,
        },
        "fhirVersion": FHIR_VERSION,
        "format": ["application/fhir+json", "json"],
        "rest": [
            {
                "mode": "server",
                "security": {"description": _SECURITY},
                "resource": [patient, *clinical, *chain],
            }
        ],
    }
