"""The first pass of an import: which patients exist, which resources make which record, and
what is wrong with the input.

Granularity (docs/fhir.md, "Granularity"): one record per patient x category x encounter. The
category is the unit of consent, so every resource of a record is opened by exactly the grants
that would open it alone; resources without an encounter share one record per patient and
category. Only locations are kept (:class:`~medledger.fhir.reader.Item` spans), never content.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from medledger.codes import Category
from medledger.fhir.categories import CLINICAL_TYPES, category_for
from medledger.fhir.reader import Item, Location, Source

#: Resource types read for context (who, where, what) and not imported as records.
CONTEXT_TYPES: frozenset[str] = frozenset(
    {
        "Patient", "Organization", "Location", "Practitioner", "PractitionerRole",
        "RelatedPerson", "Medication", "Substance", "Group", "Provenance", "HealthcareService",
        "Endpoint", "Coverage", "Claim", "ExplanationOfBenefit", "CareTeam", "CarePlan",
        "Goal", "ServiceRequest", "Specimen", "SupplyDelivery", "SupplyRequest",
    }
)  # fmt: skip

#: Problem kinds, as counted in the summary.
MALFORMED = "malformed"
UNKNOWN_TYPE = "unknown_type"
NO_PATIENT = "no_patient"
UNKNOWN_PATIENT = "unknown_patient"
NOT_JSON = "not_json"
KINDS = (MALFORMED, UNKNOWN_TYPE, NO_PATIENT, UNKNOWN_PATIENT, NOT_JSON)

#: Where a resource keeps its clinical time, most specific first.
_TIME_FIELDS = (
    ("effectiveDateTime",), ("effectivePeriod", "start"), ("effectiveInstant",),
    ("occurrenceDateTime",), ("performedDateTime",), ("performedPeriod", "start"),
    ("onsetDateTime",), ("onsetPeriod", "start"), ("authoredOn",), ("recordedDate",),
    ("dateAsserted",), ("issued",), ("period", "start"), ("started",), ("date",),
    ("effectivePeriod", "end"), ("period", "end"), ("manufactureDate",), ("recorded",),
)  # fmt: skip


@dataclass(frozen=True)
class Problem:
    """One piece of bad input: what kind, where, and why."""

    kind: str
    at: Location
    message: str

    def __str__(self) -> str:
        return f"{self.at}: {self.message}"


@dataclass(frozen=True)
class GroupKey:
    """The identity of one record: patient reference, category, encounter reference."""

    patient: str
    category: Category
    encounter: str

    def digest(self) -> str:
        """The idempotence key (local journal only; never on-chain: it derives from FHIR ids)."""
        text = f"medledger-fhir-import/v1\n{self.patient}\n{self.category.name}\n{self.encounter}"
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Group:
    """The resources of one record, by location, with their clinical times."""

    key: GroupKey
    members: list[tuple[str, int, Item]] = field(default_factory=list)  # (time, order, slim item)

    @property
    def time(self) -> str:
        """The earliest clinical time of the record ('' if no resource has one)."""
        return min((t for t, _, _ in self.members if t), default="")


@dataclass
class Plan:
    """What the first pass found."""

    patients: dict[str, str] = field(default_factory=dict)  # reference -> FHIR Patient id
    groups: dict[GroupKey, Group] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    resources: int = 0  # clinical resources planned into records
    context: int = 0  # context resources (Patient, Practitioner...) read, not imported

    def by_patient(self) -> dict[str, list[Group]]:
        """Patient reference -> its groups, oldest first (so the timeline follows the chart)."""
        out: dict[str, list[Group]] = {}
        for group in self.groups.values():
            out.setdefault(group.key.patient, []).append(group)
        for groups in out.values():
            groups.sort(key=lambda g: (g.time, g.key.category, g.key.encounter))
        return out


def _get(resource: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = resource
    for part in path:
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def clinical_time(resource: Mapping[str, Any]) -> str:
    """The resource's own time (FHIR dateTime text, '' if it has none)."""
    for path in _TIME_FIELDS:
        value = _get(resource, path)
        if isinstance(value, str) and value:
            return value
    return ""


def normalise(reference: str) -> str:
    """``Patient/x``, ``https://host/fhir/Patient/x/_history/2`` -> ``Patient/x``;
    ``urn:uuid:...`` stays as it is (a Bundle's internal reference)."""
    if reference.startswith(("urn:uuid:", "urn:oid:")):
        return reference
    parts = reference.split("/")
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    return "/".join(parts[-2:])


def patient_reference(resource: Mapping[str, Any]) -> str | None:
    """The resource's patient (``subject`` or ``patient``), normalised; None if it names none
    (or names something else, like a Group)."""
    for name in ("subject", "patient"):
        ref = _get(resource, (name, "reference"))
        if isinstance(ref, str):
            norm = normalise(ref)
            if norm.startswith("Patient/") or norm.startswith("urn:"):
                return norm
    return None


def encounter_reference(resource: Mapping[str, Any]) -> str:
    """The encounter a resource belongs to ('' if none; an Encounter belongs to itself)."""
    if resource.get("resourceType") == "Encounter" and isinstance(resource.get("id"), str):
        return f"Encounter/{resource['id']}"
    candidates = [resource.get("encounter"), _get(resource, ("context", "encounter"))]
    candidates.append(resource.get("context"))
    for value in candidates:
        if isinstance(value, list):
            value = value[0] if value else None
        ref = _get(value, ("reference",)) if isinstance(value, Mapping) else None
        if isinstance(ref, str) and ("Encounter/" in ref or ref.startswith("urn:")):
            return normalise(ref)
    return ""


def scan(source: Source, *, stop: Callable[[Problem], bool] | None = None) -> Plan:
    """First pass over ``source``. ``stop`` is called for each problem and ends the scan when
    it returns True (``--strict``). Problems come in input order (file, line), except references
    to unknown patients, which can only be judged once every Patient has been read."""
    plan = Plan()
    pending: list[_Pending] = []  # clinical resources, until every Patient is known

    def problem(kind: str, at: Location, message: str) -> bool:
        p = Problem(kind, at, message)
        plan.problems.append(p)
        return stop is not None and stop(p)

    for item in source.items():
        if item.resource is None:
            if problem(item.kind, item.at, item.error or "unreadable"):
                return plan
            continue
        resource = item.resource
        kind = resource.get("resourceType")
        if kind == "Patient":
            plan.context += 1
            pid = resource.get("id")
            if isinstance(pid, str) and pid:
                plan.patients[f"Patient/{pid}"] = pid
                if item.full_url:
                    plan.patients[item.full_url] = pid
            continue
        if kind in CONTEXT_TYPES:
            plan.context += 1
            continue
        category = category_for(resource) if kind in CLINICAL_TYPES else None
        if category is None:
            shown = kind if isinstance(kind, str) else "(none)"
            if problem(UNKNOWN_TYPE, item.at, f"unknown resource type {shown!r}"):
                return plan
            continue
        ref = patient_reference(resource)
        if ref is None:
            if problem(NO_PATIENT, item.at, f"{kind} without a patient reference"):
                return plan
            continue
        # NDJSON items drop their content here (re-read from the span); Bundle entries keep it
        slim = item if item.span is None else Item(item.at, None, None, item.span)
        pending.append(
            _Pending(ref, slim, category, encounter_reference(resource), clinical_time(resource))
        )
    for order, p in enumerate(pending):
        if p.patient not in plan.patients:
            message = f"references {p.patient}, which is not in the export"
            if problem(UNKNOWN_PATIENT, p.item.at, message):
                return plan
            continue
        key = GroupKey(f"Patient/{plan.patients[p.patient]}", p.category, p.encounter)
        group = plan.groups.get(key)
        if group is None:
            group = plan.groups[key] = Group(key)
        group.members.append((p.time, order, p.item))
        plan.resources += 1
    return plan


@dataclass(frozen=True)
class _Pending:
    patient: str
    item: Item
    category: Category
    encounter: str
    time: str
