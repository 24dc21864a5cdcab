"""Readable one-line summaries of FHIR resources and plain-language times and durations.

A record's plaintext is shown as FHIR summaries when it is a packed FHIR record
(:func:`medledger.fhir.records.is_fhir`) or a single FHIR resource as JSON (what the reference
scenario stores); anything else is offered as a file download.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
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


Resource = dict[str, Any]


def _allergy_details(r: Resource) -> Iterator[tuple[str, object]]:
    yield "criticality", r.get("criticality")
    yield "status", _status(r, "clinicalStatus")
    for reaction in r.get("reaction") or []:
        for m in reaction.get("manifestation") or [] if isinstance(reaction, dict) else []:
            yield "reaction", _text(m)


def _medication_details(r: Resource) -> Iterator[tuple[str, object]]:
    yield "status", r.get("status")
    for dosage in r.get("dosage") or r.get("dosageInstruction") or []:
        if isinstance(dosage, dict):
            yield "dosage", dosage.get("text")


def _status_only(r: Resource) -> Iterable[tuple[str, object]]:
    return [("status", r.get("status"))]


@dataclass(frozen=True)
class _Kind:
    """How one resource type is summarized: its kind label, where its title is (and the title
    when that is empty), and its (label, value) details in order."""

    kind: str
    title_key: str
    untitled: str
    details: Callable[[Resource], Iterable[tuple[str, object]]]


_MEDICATION = _Kind("Medication", "medicationCodeableConcept", "Medication", _medication_details)

_KINDS: dict[str, _Kind] = {
    "AllergyIntolerance": _Kind("Allergy", "code", "Allergy", _allergy_details),
    "MedicationStatement": _MEDICATION,
    "MedicationRequest": _MEDICATION,
    "MedicationAdministration": _MEDICATION,
    "Condition": _Kind(
        "Condition", "code", "Condition", lambda r: [("status", _status(r, "clinicalStatus"))]
    ),
    "Observation": _Kind(
        "Lab / observation",
        "code",
        "Observation",
        lambda r: [("value", _value(r)), ("status", r.get("status"))],
    ),
    "Immunization": _Kind("Immunization", "vaccineCode", "Immunization", _status_only),
    "Procedure": _Kind("Procedure", "code", "Procedure", _status_only),
    "DiagnosticReport": _Kind(
        "Report", "code", "Report", lambda r: [("conclusion", r.get("conclusion"))]
    ),
}

_WHEN_KEYS = (
    "effectiveDateTime",
    "onsetDateTime",
    "occurrenceDateTime",
    "performedDateTime",
    "recordedDate",
    "authoredOn",
    "issued",
)


def summarize(resource: Resource) -> Summary:
    rtype = str(resource.get("resourceType", "Resource"))
    how = _KINDS.get(rtype) or _Kind(rtype, "code", rtype, lambda r: ())
    when = next((resource[k] for k in _WHEN_KEYS if isinstance(resource.get(k), str)), None)
    details = (*how.details(resource), ("date", when))
    return Summary(
        how.kind,
        _text(resource.get(how.title_key)) or how.untitled,
        tuple(f"{label}: {value}" for label, value in details if value not in (None, "", [])),
    )


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
