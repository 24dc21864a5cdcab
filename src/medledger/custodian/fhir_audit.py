"""A custodian's decision log as FHIR R4B ``AuditEvent``s in a ``searchset`` Bundle.

Codes follow the patient export (medledger.audit.fhir, docs/audit.md): a served or refused
re-encryption is a ``110110 Patient Record`` read (outcome ``0`` success, ``4`` minor failure
with the refusal reason in ``outcomeDesc``); delegations, revocations, erasures and capsule
registrations are RESTful create/delete operations. The custodian is the observer (CAIP-10
account id); the signer of the request is the requesting agent. Validated with fhir.resources.
"""

from __future__ import annotations

import uuid
from typing import Any

from medledger.audit.fhir import (
    ACCOUNT_SYSTEM,
    AUDIT_ENTITY_TYPE,
    AUDIT_EVENT_TYPE,
    DCM,
    OBJECT_ROLE,
    PATIENT_ID_SYSTEM,
    RECORD_ID_SYSTEM,
    RESTFUL_INTERACTION,
    SECURITY_SOURCE_TYPE,
    V3_PARTICIPATION,
    _coding,
    _concept,
    _instant,
    validate_bundle,
)
from medledger.custodian.store import Decision

_NS = uuid.UUID("5b0c7d5e-6a43-4f0e-9a53-6a7b1f3c2d10")

_REST_OPERATION = (AUDIT_EVENT_TYPE, "rest", "RESTful Operation")

#: AuditEvent.action code of each RESTful interaction.
_ACTION_CODE = {"read": "R", "create": "C", "delete": "D"}

#: action -> (type (system, code, display), RESTful interaction (the subtype), entity is a record?)
_CODES: dict[str, tuple[tuple[str, str, str], str, bool]] = {
    "reencryption": ((DCM, "110110", "Patient Record"), "read", True),
    "delegation": (_REST_OPERATION, "create", False),
    "revocation": (_REST_OPERATION, "delete", False),
    "erasure": (_REST_OPERATION, "delete", True),
    "capsule": (_REST_OPERATION, "create", True),
}


def _account(chain_id: int, address: str) -> dict[str, Any]:
    return {
        "identifier": {"system": ACCOUNT_SYSTEM, "value": f"eip155:{chain_id}:{address}"},
        "display": address,
    }


def audit_event(d: Decision, *, chain_id: int, custodian: str) -> dict[str, Any]:
    """One decision as an AuditEvent."""
    kind, interaction, on_record = _CODES[d.action]
    event_type = _coding(*kind)
    subtype = _coding(RESTFUL_INTERACTION, interaction, interaction)
    action = _ACTION_CODE[interaction]
    refused = d.outcome == "refused"
    entity: list[dict[str, Any]] = [
        {
            "what": {
                "type": "Patient",
                "identifier": {"system": PATIENT_ID_SYSTEM, "value": str(d.patient_id)},
            },
            "type": _coding(AUDIT_ENTITY_TYPE, "1", "Person"),
            "role": _coding(OBJECT_ROLE, "1", "Patient"),
        }
    ]
    if on_record:
        entity.append(
            {
                "what": {"identifier": {"system": RECORD_ID_SYSTEM, "value": d.subject}},
                "type": _coding(AUDIT_ENTITY_TYPE, "2", "System Object"),
                "role": _coding(OBJECT_ROLE, "3", "Report"),
                "detail": [{"type": "custodian-action", "valueString": d.action}],
            }
        )
    else:
        grantee = "0x" + d.subject[-40:]
        entity[0]["detail"] = [
            {"type": "custodian-action", "valueString": d.action},
            {"type": "grantee", "valueString": grantee},
        ]
    return {
        "resourceType": "AuditEvent",
        "id": str(uuid.uuid5(_NS, f"{chain_id}:{custodian}:{d.id}")),
        "type": event_type,
        "subtype": [subtype],
        "action": action,
        "recorded": _instant(d.at),
        "outcome": "4" if refused else "0",
        "outcomeDesc": f"{d.outcome}: {d.reason}" if d.reason else d.outcome,
        "agent": [
            {
                "type": _concept(V3_PARTICIPATION, "IRCP", "information recipient")
                if d.action == "reencryption"
                else _concept(V3_PARTICIPATION, "AUT", "author (originator)"),
                "who": _account(chain_id, d.reader),
                "requestor": True,
            }
        ],
        "source": {
            "observer": _account(chain_id, custodian),
            "type": [_coding(SECURITY_SOURCE_TYPE, "4", "Application Server")],
        },
        "entity": entity,
    }


def decisions_bundle(decisions: list[Decision], *, chain_id: int, custodian: str) -> dict[str, Any]:
    """A validated FHIR R4B searchset Bundle of AuditEvents."""
    events = [audit_event(d, chain_id=chain_id, custodian=custodian) for d in decisions]
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(events),
        "entry": [
            {"fullUrl": f"urn:uuid:{e['id']}", "resource": e, "search": {"mode": "match"}}
            for e in events
        ],
    }
    validate_bundle(bundle)
    return bundle
