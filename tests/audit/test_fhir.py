"""FHIR R4B export: the bundle validates with fhir.resources and says what happened."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from fhir.resources.R4B.auditevent import AuditEvent
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.consent import Consent
from fhir.resources.R4B.provenance import Provenance

from helpers.audit import Scenario
from medledger.audit import Archive, export_fhir_bundle
from medledger.audit.fhir import CATEGORY_SYSTEM, V3_ACT_REASON, validate_bundle
from medledger.errors import IntegrityError, InvalidInput


@pytest.fixture(scope="module")
def bundle(scenario: Scenario, archive: Archive) -> dict[str, Any]:
    return export_fhir_bundle(archive, scenario.alice_id, 31337, scenario.medledger.address)


def of_type(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def test_bundle_is_json_and_validates(bundle: dict[str, Any]) -> None:
    again = json.loads(json.dumps(bundle))
    parsed = Bundle.model_validate(again)
    assert parsed.type == "collection"
    for e in parsed.entry or []:
        assert isinstance(e.resource, Consent | AuditEvent | Provenance)


def test_consents_per_grant_with_lifecycle_status(
    scenario: Scenario, bundle: dict[str, Any]
) -> None:
    consents = of_type(bundle, "Consent")
    by_grantee = [(c["provision"]["actor"][0]["reference"]["identifier"]["value"].split(":")[-1],
                   c["status"]) for c in consents]  # fmt: skip
    assert by_grantee == [
        (scenario.hospital, "active"),
        (scenario.labs, "rejected"),  # revoked
        (scenario.research, "inactive"),  # replaced by the next grant
        (scenario.research, "active"),
    ]
    hospital = consents[0]
    assert hospital["scope"]["coding"][0]["code"] == "patient-privacy"
    assert hospital["category"][0]["coding"][0] == {
        "system": "http://loinc.org", "code": "59284-0", "display": "Consent Document",
    }  # fmt: skip
    prov = hospital["provision"]
    assert prov["type"] == "permit"
    assert {c["code"] for c in prov["class"]} == {"labs", "allergies"}
    assert {c["system"] for c in prov["class"]} == {CATEGORY_SYSTEM}
    assert prov["purpose"] == [{"system": V3_ACT_REASON, "code": "TREAT", "display": "treatment"}]
    assert [a["coding"][0]["code"] for a in prov["action"]] == ["access"]
    assert prov["actor"][0]["reference"]["display"] == "General Hospital (North)"
    assert prov["period"]["end"] > prov["period"]["start"]
    labs = consents[1]["provision"]
    assert [a["coding"][0]["code"] for a in labs["action"]] == ["access", "correct"]
    assert [p["code"] for p in labs["purpose"]] == ["TREAT", "HPAYMT"]


def test_expired_grants_become_inactive(scenario: Scenario, archive: Archive) -> None:
    later = export_fhir_bundle(archive, scenario.alice_id, 31337, scenario.medledger.address,
                               as_of=2**32 - 1)  # fmt: skip
    assert [c["status"] for c in of_type(later, "Consent")] == [
        "inactive", "rejected", "inactive", "inactive",
    ]  # fmt: skip


def test_audit_events_per_access(scenario: Scenario, bundle: dict[str, Any]) -> None:
    events = of_type(bundle, "AuditEvent")
    assert [e["outcome"] for e in events] == [
        "4" if o >= 16 else "0" for _w, _r, o in scenario.access_outcomes
    ]
    denied = events[1]
    assert denied["outcomeDesc"] == "denied: category not granted"
    assert denied["type"]["code"] == "110110"
    assert denied["action"] == "R"
    assert denied["agent"][0]["requestor"] is True
    assert denied["agent"][0]["who"]["display"] == "City Labs"
    record = denied["entity"][1]
    assert record["what"]["identifier"]["value"] == "0x" + scenario.records["imaging-1"].hex()
    assert record["detail"][0] == {"type": "category", "valueString": "imaging"}
    assert scenario.medledger.address in denied["source"]["observer"]["display"]
    assert "31337" in denied["source"]["observer"]["display"]
    opened = events[5]
    assert (opened["type"]["code"], opened["subtype"][0]["code"], opened["action"]) == (
        "110113", "110127", "E",
    )  # fmt: skip
    assert opened["purposeOfEvent"][0]["coding"][0]["code"] == "ETREAT"
    assert len(opened["entity"]) == 1  # the patient only: break-glass opening reads no record


def test_provenance_for_authorship_and_erasure(scenario: Scenario, bundle: dict[str, Any]) -> None:
    prov = of_type(bundle, "Provenance")
    creates = [p for p in prov if p["activity"]["coding"][0]["code"] == "CREATE"]
    deletes = [p for p in prov if p["activity"]["coding"][0]["code"] == "DELETE"]
    assert len(creates) == 3
    assert len(deletes) == 1
    assert (
        deletes[0]["target"][0]["identifier"]["value"] == "0x" + scenario.records["imaging-1"].hex()
    )
    assert creates[0]["agent"][0]["who"]["identifier"]["value"] == f"eip155:31337:{scenario.alice}"


def test_export_is_stable(scenario: Scenario, archive: Archive, bundle: dict[str, Any]) -> None:
    again = export_fhir_bundle(archive, scenario.alice_id, 31337, scenario.medledger.address)
    assert again == bundle


def test_wrong_deployment_is_refused(scenario: Scenario, archive: Archive) -> None:
    with pytest.raises(InvalidInput):
        export_fhir_bundle(archive, scenario.alice_id, 1, scenario.medledger.address)
    with pytest.raises(InvalidInput):
        export_fhir_bundle(archive, scenario.alice_id, 31337, "0xnope")


def test_validation_really_rejects_bad_resources(bundle: dict[str, Any]) -> None:
    broken = copy.deepcopy(bundle)
    del broken["entry"][0]["resource"]["scope"]  # Consent.scope is required
    with pytest.raises(IntegrityError, match="R4B"):
        validate_bundle(broken)
    wrong_code = copy.deepcopy(bundle)
    audit = next(e for e in wrong_code["entry"] if e["resource"]["resourceType"] == "AuditEvent")
    audit["resource"]["action"] = "X"  # not in the AuditEventAction code list
    audit["resource"]["recorded"] = "yesterday"
    with pytest.raises(IntegrityError):
        validate_bundle(wrong_code)
