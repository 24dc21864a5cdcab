"""FHIR R4B export of a patient's consents, accesses and record authorship.

One ``Bundle`` (type ``collection``) per patient with:

* a ``Consent`` per grant (status ``active``; ``inactive`` once expired or replaced by a later
  grant; ``rejected`` when revoked),
* an ``AuditEvent`` per entry of the patient's hash chain: reads (allowed or denied), denied
  writes, and operations (registration, grants, replacements, revocations, records added and
  erased, break-glass opened and closed, controller changes),
* a ``Provenance`` per record (author) and per erasure tombstone.

Every code comes from a standard code system (LOINC, HL7 v3 ActCode / ActReason /
ParticipationType / DataOperation, FHIR consent and audit code systems, DICOM DCM) except the record
categories, which have no standard equivalent and use medledger's own code system
:data:`CATEGORY_SYSTEM`. The mapping is documented in docs/audit.md. The result is validated with
``fhir.resources`` (R4B models) before it is returned.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from eth_utils.address import is_address, to_checksum_address
from pydantic import ValidationError

from medledger.audit.accounting import outcome_text
from medledger.audit.archive import Archive, ChainEntry, ConsentEvent, RecordInfo
from medledger.codes import (
    OUTCOME_FIRST_DENIAL,
    OUTCOME_WRITE_DENIAL_OFFSET,
    Action,
    Category,
    Outcome,
    Purpose,
    unmask_categories,
    unmask_purposes,
)
from medledger.errors import IntegrityError, InvalidInput

#: Base of medledger's own FHIR identifiers. ``.example`` is reserved (RFC 2606) and never
#: resolves; a deployment publishing these systems replaces it with its canonical URL.
FHIR_BASE = "https://medledger.example/fhir"
CATEGORY_SYSTEM = f"{FHIR_BASE}/CodeSystem/record-category"
PATIENT_ID_SYSTEM = f"{FHIR_BASE}/NamingSystem/patient-id"
RECORD_ID_SYSTEM = f"{FHIR_BASE}/NamingSystem/record-id"
CHAIN_EVENT_SYSTEM = f"{FHIR_BASE}/NamingSystem/chain-event"
CHAIN_ENTRY_SYSTEM = f"{FHIR_BASE}/NamingSystem/chain-entry"
#: Blockchain accounts as CAIP-10 ids (``eip155:<chainId>:<address>``).
ACCOUNT_SYSTEM = "https://chainagnostic.org/CAIPs/caip-10"

LOINC = "http://loinc.org"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
V3_ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
V3_PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
V3_DATA_OPERATION = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
CONSENT_ACTION = "http://terminology.hl7.org/CodeSystem/consentaction"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
RESTFUL_INTERACTION = "http://hl7.org/fhir/restful-interaction"
AUDIT_EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
AUDIT_ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
SECURITY_SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
PROVENANCE_PARTICIPANT = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"

#: Our purposes -> HL7 v3 ActReason (PurposeOfUse) codes.
PURPOSE_CODES: dict[Purpose, tuple[str, str]] = {
    Purpose.TREATMENT: ("TREAT", "treatment"),
    Purpose.EMERGENCY: ("ETREAT", "Emergency Treatment"),
    Purpose.PAYMENT: ("HPAYMT", "healthcare payment"),
    Purpose.OPERATIONS: ("HOPERAT", "healthcare operations"),
    Purpose.RESEARCH: ("HRESCH", "healthcare research"),
    Purpose.PUBLIC_HEALTH: ("PUBHLTH", "public health"),
    Purpose.PATIENT_REQUEST: ("PATRQT", "patient requested"),
    Purpose.LEGAL: ("HLEGAL", "legal"),
}
#: Our actions -> FHIR consentaction codes.
ACTION_CODES: dict[Action, tuple[str, str]] = {
    Action.READ: ("access", "Access"),
    Action.WRITE: ("correct", "Access and Correct"),
}

_NS = uuid.UUID("6f1c3f1e-6c57-4f0e-9a39-1f3c2d7d8e11")  # fixed: stable ids across exports


def _coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    c = {"system": system, "code": code}
    if display:
        c["display"] = display
    return c


def _concept(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    return {"coding": [_coding(system, code, display)]}


def _instant(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def _purpose_coding(code: int) -> dict[str, str] | None:
    try:
        sys_code, display = PURPOSE_CODES[Purpose(code)]
    except ValueError:
        return None
    return _coding(V3_ACT_REASON, sys_code, display)


class _Ctx:
    def __init__(self, archive: Archive, patient_id: int, chain_id: int, contract: str) -> None:
        self.archive = archive
        self.patient_id = patient_id
        self.chain_id = chain_id
        self.contract = contract
        self.entries = archive.chain_entries(patient_id)
        # the patient's controllers over time: entry 0 and every controller change
        self._controllers = [
            (e.seq, e.actor)
            for e in self.entries
            if e.event in ("PatientRegistered", "ControllerChanged")
        ]
        self.controllers = {a for _s, a in self._controllers}
        self._seq_at = {(e.tx_hash, e.log_index): e.seq for e in self.entries}
        self.names: dict[str, str] = {}
        for ev in archive.provider_events():
            if ev.name is not None:
                self.names[ev.provider] = ev.name  # latest name wins

    def entry_id(self, grant: ConsentEvent) -> list[dict[str, str]]:
        """The grant's hash-chain entry (``...:<patientId>:<seq>``), if archived."""
        seq = self._seq_at.get((grant.tx_hash, grant.log_index))
        if seq is None:
            return []
        value = f"eip155:{self.chain_id}:{self.contract}:{self.patient_id}:{seq}"
        return [{"system": CHAIN_ENTRY_SYSTEM, "value": value}]

    def controller_at(self, seq: int) -> str:
        """The patient's controller when entry ``seq`` was chained."""
        found = [a for s, a in self._controllers if s <= seq]
        return found[-1] if found else self.contract

    def uid(self, *parts: object) -> str:
        return str(uuid.uuid5(_NS, ":".join(map(str, (self.chain_id, self.contract, *parts)))))

    def patient_ref(self) -> dict[str, Any]:
        return {
            "type": "Patient",
            "identifier": {
                "system": PATIENT_ID_SYSTEM,
                "value": f"eip155:{self.chain_id}:{self.contract}:{self.patient_id}",
            },
            "display": f"medledger patient {self.patient_id}",
        }

    def account_ref(self, address: str, kind: str = "Organization") -> dict[str, Any]:
        ref: dict[str, Any] = {
            "type": kind,
            "identifier": {"system": ACCOUNT_SYSTEM, "value": f"eip155:{self.chain_id}:{address}"},
        }
        name = self.names.get(address)
        ref["display"] = name or address
        return ref

    def record_ref(self, record_id: str) -> dict[str, Any]:
        return {
            "type": "DocumentReference",
            "identifier": {"system": RECORD_ID_SYSTEM, "value": record_id},
        }

    def event_id(self, tx_hash: str, log_index: int) -> dict[str, str]:
        return {
            "system": CHAIN_EVENT_SYSTEM,
            "value": f"eip155:{self.chain_id}:{tx_hash}:{log_index}",
        }


def _consent_status(i: int, events: list[ConsentEvent], as_of: int) -> str:
    grant = events[i]
    for later in events[i + 1 :]:
        if later.grantee != grant.grantee:
            continue
        return "rejected" if later.kind == "revoke" else "inactive"
    return "active" if grant.valid_until > as_of else "inactive"


def _consent(ctx: _Ctx, grant: ConsentEvent, status: str) -> dict[str, Any]:
    valid_from = grant.valid_from or grant.block_time
    provision: dict[str, Any] = {
        "type": "permit",
        "period": {"start": _instant(valid_from), "end": _instant(grant.valid_until)},
        "actor": [
            {
                "role": _concept(V3_PARTICIPATION, "IRCP", "information recipient"),
                "reference": ctx.account_ref(grant.grantee),
            }
        ],
        "action": [
            _concept(CONSENT_ACTION, *ACTION_CODES[a]) for a in Action if grant.actions & a.value
        ],
        "purpose": [c for c in (_purpose_coding(p) for p in unmask_purposes(grant.purposes)) if c],
        "class": [
            _coding(CATEGORY_SYSTEM, c.name.lower(), c.name.lower().replace("_", " "))
            for c in unmask_categories(grant.categories)
        ],
    }
    for key in ("action", "purpose", "class"):
        if not provision[key]:
            del provision[key]  # FHIR forbids empty arrays
    return {
        "resourceType": "Consent",
        "id": ctx.uid("consent", grant.tx_hash, grant.log_index),
        "identifier": [ctx.event_id(grant.tx_hash, grant.log_index), *ctx.entry_id(grant)],
        "status": status,
        "scope": _concept(CONSENT_SCOPE, "patient-privacy", "Privacy Consent"),
        "category": [_concept(LOINC, "59284-0", "Consent Document")],
        "patient": ctx.patient_ref(),
        "dateTime": _instant(grant.block_time),
        "performer": [ctx.patient_ref()],
        "policyRule": _concept(V3_ACT_CODE, "OPTIN", "opt-in"),
        "provision": provision,
    }


_OperationCodes = tuple[dict[str, str], dict[str, str] | None, str]
_SECURITY_ALERT = _coding(DCM, "110113", "Security Alert")


def _rest(interaction: str, action: str) -> _OperationCodes:
    """A RESTful-operation AuditEvent: ``create``/``update``/``delete`` and its action code."""
    return (
        _coding(AUDIT_EVENT_TYPE, "rest", "RESTful Operation"),
        _coding(RESTFUL_INTERACTION, interaction, interaction),
        action,
    )


#: AuditEvent ``type``, ``subtype`` and ``action`` of each operation entry (outcomes 3..11).
_OPERATION_CODES: dict[int, _OperationCodes] = {
    Outcome.BREAK_GLASS_OPENED: (
        _SECURITY_ALERT,
        _coding(DCM, "110127", "Emergency Override Started"),
        "E",
    ),
    Outcome.BREAK_GLASS_CLOSED: (
        _SECURITY_ALERT,
        _coding(DCM, "110138", "Emergency Override Stopped"),
        "E",
    ),
    Outcome.CONSENT_GRANTED: _rest("create", "C"),
    Outcome.CONSENT_REPLACED: _rest("update", "U"),
    Outcome.CONSENT_REVOKED: _rest("delete", "D"),
    Outcome.RECORD_ADDED: _rest("create", "C"),
    Outcome.RECORD_ERASED: _rest("delete", "D"),
    Outcome.CONTROLLER_CHANGED: (
        _coding(DCM, "110137", "User Security Attributes Changed"),
        None,
        "U",
    ),
    Outcome.PATIENT_REGISTERED: _rest("create", "C"),
}
_RECORD_OPERATIONS = frozenset({Outcome.RECORD_ADDED.value, Outcome.RECORD_ERASED.value})
_CONSENT_OPERATIONS = frozenset(
    {Outcome.CONSENT_GRANTED.value, Outcome.CONSENT_REPLACED.value, Outcome.CONSENT_REVOKED.value}
)
_RECIPIENT = ("IRCP", "information recipient")
_AUTHOR = ("AUT", "author (originator)")


def _agent(ctx: _Ctx, address: str, role: tuple[str, str], requestor: bool) -> dict[str, Any]:
    kind = "Patient" if address in ctx.controllers else "Organization"
    return {
        "type": _concept(V3_PARTICIPATION, *role),
        "who": ctx.account_ref(address, kind),
        "requestor": requestor,
    }


def _audit_event(
    ctx: _Ctx, e: ChainEntry, category: int | None, consent: dict[str, str] | None
) -> dict[str, Any]:
    """One AuditEvent per chain entry: a read (allowed or denied), a denied write, or an
    operation (with the entity it acted on: record, consent or the patient)."""
    code = e.outcome
    denied = code >= OUTCOME_FIRST_DENIAL
    write_denied = code >= OUTCOME_FIRST_DENIAL + OUTCOME_WRITE_DENIAL_OFFSET
    details = [
        {"type": "medledger-log-seq", "valueString": str(e.seq)},
        {"type": "medledger-log-head", "valueString": e.head},
        {"type": "transaction", "valueString": e.tx_hash},
    ]
    patient: dict[str, Any] = {
        "what": ctx.patient_ref(),
        "type": _coding(AUDIT_ENTITY_TYPE, "1", "Person"),
        "role": _coding(OBJECT_ROLE, "1", "Patient"),
    }
    entities: list[dict[str, Any]] = [patient]
    other = to_checksum_address("0x" + e.subject[-40:])
    if e.event == "AccessRecorded" or code in _RECORD_OPERATIONS:
        if category is not None:
            details.insert(0, {"type": "category", "valueString": Category(category).name.lower()})
        entities.append(
            {
                "what": ctx.record_ref(e.subject),
                "type": _coding(AUDIT_ENTITY_TYPE, "2", "System Object"),
                "role": _coding(OBJECT_ROLE, "3", "Report"),
                "detail": details,
            }
        )
    elif code in _CONSENT_OPERATIONS and consent is not None:
        entities.append(
            {
                "what": {"type": "Consent", "identifier": consent},
                "type": _coding(AUDIT_ENTITY_TYPE, "2", "System Object"),
                "role": _coding(OBJECT_ROLE, "4", "Domain Resource"),
                "detail": details,
            }
        )
    else:
        patient["detail"] = details

    if e.event == "AccessRecorded":
        if write_denied:
            event_type = _coding(DCM, "110110", "Patient Record")
            subtype: dict[str, str] | None = _coding(RESTFUL_INTERACTION, "create", "create")
            action = "C"
            agents = [_agent(ctx, e.actor, _AUTHOR, True)]
        else:
            event_type = _coding(DCM, "110110", "Patient Record")
            subtype = _coding(RESTFUL_INTERACTION, "read", "read")
            action = "R"
            agents = [_agent(ctx, e.actor, _RECIPIENT, True)]
    else:
        event_type, subtype, action = _OPERATION_CODES[code]
        if code in _CONSENT_OPERATIONS:
            # the patient acted; the grantee (the chained actor) is the recipient concerned
            agents = [
                _agent(ctx, ctx.controller_at(e.seq), _AUTHOR, True),
                _agent(ctx, e.actor, _RECIPIENT, False),
            ]
        elif code == Outcome.BREAK_GLASS_CLOSED:
            agents = [_agent(ctx, other, _AUTHOR, True)]
            if other != e.actor:
                agents.append(_agent(ctx, e.actor, _RECIPIENT, False))
        elif code == Outcome.BREAK_GLASS_OPENED:
            agents = [_agent(ctx, e.actor, _RECIPIENT, True)]
        else:
            agents = [_agent(ctx, e.actor, _AUTHOR, True)]
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": ctx.uid("entry", ctx.patient_id, e.seq),
        "type": event_type,
        "action": action,
        "recorded": _instant(e.timestamp),
        "outcome": "4" if denied else "0",
        "outcomeDesc": outcome_text(code),
        "agent": agents,
        "source": {
            "observer": {
                "identifier": {
                    "system": ACCOUNT_SYSTEM,
                    "value": f"eip155:{ctx.chain_id}:{ctx.contract}",
                },
                "display": f"medledger MedLedger contract {ctx.contract} on chain {ctx.chain_id}",
            },
            "type": [_coding(SECURITY_SOURCE_TYPE, "4", "Application Server")],
        },
        "entity": entities,
    }
    if subtype is not None:
        event["subtype"] = [subtype]
    # A purpose only where the contract checked one: reads and break-glass (emergency).
    if e.is_access or code in (Outcome.BREAK_GLASS_OPENED, Outcome.BREAK_GLASS_CLOSED):
        purpose = _purpose_coding(e.purpose)
        if purpose is not None:
            event["purposeOfEvent"] = [{"coding": [purpose]}]
    return event


def _provenances(ctx: _Ctx, r: RecordInfo) -> list[dict[str, Any]]:
    out = [
        {
            "resourceType": "Provenance",
            "id": ctx.uid("record", ctx.patient_id, r.record_id),
            "target": [ctx.record_ref(r.record_id)],
            "recorded": _instant(r.created_time),
            "activity": _concept(V3_DATA_OPERATION, "CREATE", "create"),
            "agent": [
                {
                    "type": _concept(PROVENANCE_PARTICIPANT, "author", "Author"),
                    "who": ctx.account_ref(r.author),
                }
            ],
        }
    ]
    if r.erased_time is not None:
        out.append(
            {
                "resourceType": "Provenance",
                "id": ctx.uid("erasure", ctx.patient_id, r.record_id),
                "target": [ctx.record_ref(r.record_id)],
                "recorded": _instant(r.erased_time),
                "activity": _concept(V3_DATA_OPERATION, "DELETE", "delete"),
                "agent": [
                    {
                        "type": _concept(PROVENANCE_PARTICIPANT, "author", "Author"),
                        "who": ctx.patient_ref(),
                    }
                ],
            }
        )
    return out


def validate_bundle(bundle: dict[str, Any]) -> None:
    """Validate a bundle (and every resource in it) with the fhir.resources R4B models."""
    from fhir.resources.R4B.bundle import Bundle  # heavy import; only when exporting

    try:
        Bundle.model_validate(bundle)
    except ValidationError as exc:
        raise IntegrityError(f"FHIR export does not validate as R4B: {exc}") from exc


def export_fhir_bundle(
    archive: Archive,
    patient_id: int,
    chain_id: int,
    contract_address: str,
    *,
    as_of: int | None = None,
) -> dict[str, Any]:
    """The patient's FHIR R4B ``collection`` Bundle as a JSON-able dict, validated.

    ``as_of`` (unix time) decides which grants count as expired; default: the time of the archive's
    last synced block, so the export describes the archive, not the wall clock.
    """
    if not is_address(contract_address):
        raise InvalidInput(f"not an address: {contract_address!r}")
    contract = to_checksum_address(contract_address)
    if archive.chain_id is not None and (
        archive.chain_id != chain_id or archive.medledger_address != contract
    ):
        raise InvalidInput(
            f"the archive holds chain {archive.chain_id} contract {archive.medledger_address}, "
            f"not chain {chain_id} contract {contract}"
        )
    if patient_id < 1:
        raise InvalidInput(f"patient id must be >= 1, got {patient_id}")
    now = as_of if as_of is not None else (archive.last_block_time or 0)
    ctx = _Ctx(archive, patient_id, chain_id, contract)

    resources: list[dict[str, Any]] = []
    consents = archive.consent_events(patient_id)
    for i, ev in enumerate(consents):
        if ev.kind == "grant":
            resources.append(_consent(ctx, ev, _consent_status(i, consents, now)))
    records = archive.records(patient_id)
    categories = {r.record_id: r.category for r in records}
    last_grant: dict[str, dict[str, str]] = {}  # grantee -> the Consent identifier in force
    for e in ctx.entries:
        consent = None
        if e.outcome in (Outcome.CONSENT_GRANTED, Outcome.CONSENT_REPLACED):
            consent = last_grant[e.actor] = ctx.event_id(e.tx_hash, e.log_index)
        elif e.outcome == Outcome.CONSENT_REVOKED:
            consent = last_grant.pop(e.actor, None)
        resources.append(_audit_event(ctx, e, categories.get(e.subject), consent))
    for r in records:
        resources.extend(_provenances(ctx, r))

    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": ctx.uid("bundle", patient_id, now),
        "identifier": {
            "system": PATIENT_ID_SYSTEM,
            "value": f"eip155:{chain_id}:{contract}:{patient_id}",
        },
        "type": "collection",
        "timestamp": _instant(now),
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources],
    }
    if not bundle["entry"]:
        del bundle["entry"]
    validate_bundle(bundle)
    return bundle
