"""Readable one-line summaries of FHIR resources and plain-language times and durations.

A record's plaintext is shown as FHIR summaries when it is a packed FHIR record
(:func:`medledger.fhir.records.is_fhir`) or a single FHIR resource as JSON (what the reference
scenario stores); anything else is offered as a file download.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from medledger.errors import InvalidInput
from medledger.fhir.records import is_fhir, unpack

#: duration units of the grant form: name -> seconds
UNITS: dict[str, int] = {
    "hours": 3600,
    "days": 86400,
    "weeks": 7 * 86400,
    "months": 30 * 86400,
    "years": 365 * 86400,
}


@dataclass(frozen=True)
class Summary:
    kind: str  # "Allergy", "Medication", ...
    title: str
    details: tuple[str, ...]


def resources_of(plaintext: bytes) -> list[dict[str, Any]] | None:
    """The FHIR resources of a record, or None when it is not FHIR (offer a download)."""
    if is_fhir(plaintext):
        try:
            return unpack(plaintext)
        except InvalidInput:
            return None
    if not plaintext.lstrip().startswith(b"{"):
        return None
    try:
        body = json.loads(plaintext)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if isinstance(body, dict) and isinstance(body.get("resourceType"), str):
        return [body]
    return None


def _text(concept: Any) -> str | None:
    if not isinstance(concept, dict):
        return None
    if isinstance(concept.get("text"), str):
        return str(concept["text"])
    for coding in concept.get("coding") or []:
        if isinstance(coding, dict):
            shown = coding.get("display") or coding.get("code")
            if shown:
                return str(shown)
    return None


def _status(resource: dict[str, Any], key: str) -> str | None:
    value = resource.get(key)
    return _text(value) if isinstance(value, dict) else (str(value) if value else None)


def _value(resource: dict[str, Any]) -> str | None:
    q = resource.get("valueQuantity")
    if isinstance(q, dict) and "value" in q:
        return f"{q['value']} {q.get('unit') or q.get('code') or ''}".strip()
    for key in ("valueString", "valueBoolean", "valueInteger"):
        if key in resource:
            return str(resource[key])
    return _text(resource.get("valueCodeableConcept"))


def summarize(resource: dict[str, Any]) -> Summary:
    rtype = str(resource.get("resourceType", "Resource"))
    details: list[str] = []

    def add(label: str, value: object) -> None:
        if value not in (None, "", []):
            details.append(f"{label}: {value}")

    when = next(
        (
            resource[k]
            for k in (
                "effectiveDateTime",
                "onsetDateTime",
                "occurrenceDateTime",
                "performedDateTime",
                "recordedDate",
                "authoredOn",
                "issued",
            )
            if isinstance(resource.get(k), str)
        ),
        None,
    )
    if rtype == "AllergyIntolerance":
        title = _text(resource.get("code")) or "Allergy"
        add("criticality", resource.get("criticality"))
        add("status", _status(resource, "clinicalStatus"))
        for reaction in resource.get("reaction") or []:
            for m in reaction.get("manifestation") or [] if isinstance(reaction, dict) else []:
                add("reaction", _text(m))
        kind = "Allergy"
    elif rtype in ("MedicationStatement", "MedicationRequest", "MedicationAdministration"):
        title = _text(resource.get("medicationCodeableConcept")) or "Medication"
        add("status", resource.get("status"))
        for dosage in resource.get("dosage") or resource.get("dosageInstruction") or []:
            if isinstance(dosage, dict):
                add("dosage", dosage.get("text"))
        kind = "Medication"
    elif rtype == "Condition":
        title = _text(resource.get("code")) or "Condition"
        add("status", _status(resource, "clinicalStatus"))
        kind = "Condition"
    elif rtype == "Observation":
        title = _text(resource.get("code")) or "Observation"
        add("value", _value(resource))
        add("status", resource.get("status"))
        kind = "Lab / observation"
    elif rtype == "Immunization":
        title = _text(resource.get("vaccineCode")) or "Immunization"
        add("status", resource.get("status"))
        kind = "Immunization"
    elif rtype == "Procedure":
        title = _text(resource.get("code")) or "Procedure"
        add("status", resource.get("status"))
        kind = "Procedure"
    elif rtype == "DiagnosticReport":
        title = _text(resource.get("code")) or "Report"
        add("conclusion", resource.get("conclusion"))
        kind = "Report"
    else:
        title = _text(resource.get("code")) or rtype
        kind = rtype
    add("date", when)
    return Summary(kind, title, tuple(details))


def date_time(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def span(seconds: int) -> str:
    """A duration in words, two units at most: "29 days 23 hours", "5 minutes"."""
    seconds = max(0, int(seconds))
    parts: list[str] = []
    for name, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        n, seconds = divmod(seconds, size)
        if n:
            parts.append(f"{n} {name}{'' if n == 1 else 's'}")
        if len(parts) == 2:
            break
    return " ".join(parts) or "0 seconds"


def parse_duration(amount: str, unit: str) -> int:
    """The grant form's duration in seconds (typed error for anything else)."""
    if unit not in UNITS:
        raise InvalidInput(f"unknown duration unit {unit!r}", hint=", ".join(UNITS))
    try:
        n = int(amount.strip())
    except ValueError:
        raise InvalidInput(f"the duration {amount!r} is not a whole number") from None
    if not 1 <= n <= 100_000:
        raise InvalidInput("the duration must be between 1 and 100000 units")
    total = n * UNITS[unit]
    if total > 100 * 365 * 86400:
        raise InvalidInput("a grant lasts at most 100 years")
    return total
