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
    # each Consent names its grant event and its entry in the verified hash chain (seqs 4..7)
    assert [c["identifier"][1]["value"].split(":")[-1] for c in consents] == ["4", "5", "6", "7"]
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


def test_audit_events_per_chain_entry(scenario: Scenario, bundle: dict[str, Any]) -> None:
    events = of_type(bundle, "AuditEvent")
    chain = scenario.chain[scenario.alice_id]
    assert len(events) == len(chain) == 20
    assert [e["outcome"] for e in events] == ["4" if o >= 16 else "0" for _n, _a, o in chain]
    seqs = [next(d["valueString"] for ent in e["entity"] for d in ent.get("detail", [])
                 if d["type"] == "medledger-log-seq") for e in events]  # fmt: skip
    assert seqs == [str(i) for i in range(20)]
    denied = events[9]
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
    opened, closed = events[13], events[15]
    assert (opened["type"]["code"], opened["subtype"][0]["code"], opened["action"]) == (
        "110113", "110127", "E",
    )  # fmt: skip
    assert opened["purposeOfEvent"][0]["coding"][0]["code"] == "ETREAT"
    assert len(opened["entity"]) == 1  # the patient only: break-glass opening reads no record
    assert (closed["subtype"][0]["code"], closed["action"]) == ("110138", "E")
    assert closed["agent"][0]["who"]["type"] == "Patient"  # the patient closed it
    assert closed["agent"][1]["who"]["display"] == "Ambulance <Service> & Co"


def test_operations_and_denied_writes_have_their_own_codes(
    scenario: Scenario, bundle: dict[str, Any]
) -> None:
    events = of_type(bundle, "AuditEvent")
    consents = of_type(bundle, "Consent")

    def sub(e: dict[str, Any]) -> tuple[str, str, str]:
        return (e["type"]["code"], e.get("subtype", [{}])[0].get("code", ""), e["action"])

    assert sub(events[0]) == ("rest", "create", "C")  # registration
    assert sub(events[1]) == ("rest", "create", "C")  # record added
    assert events[1]["entity"][1]["what"]["identifier"]["value"] == (
        "0x" + scenario.records["labs-1"].hex()
    )
    assert sub(events[4]) == ("rest", "create", "C")  # consent granted
    assert sub(events[7]) == ("rest", "update", "U")  # consent replaced
    assert sub(events[16]) == ("rest", "delete", "D")  # consent revoked
    # the grant and the revocation point at the same Consent (the labs grant)
    labs_consent = consents[1]["identifier"][0]
    assert events[5]["entity"][1]["what"]["identifier"] == labs_consent
    assert events[16]["entity"][1]["what"]["identifier"] == labs_consent
    assert [a["who"]["type"] for a in events[16]["agent"]] == ["Patient", "Organization"]
    assert events[16]["agent"][1]["who"]["display"] == "City Labs"
    assert "purposeOfEvent" not in events[16]  # operations check no purpose
    write = events[18]
    assert (sub(write), write["outcome"]) == (("110110", "create", "C"), "4")
    assert write["outcomeDesc"] == "write denied: category not granted"
    assert write["agent"][0]["who"]["display"] == "Research Institute"
    assert sub(events[19]) == ("rest", "delete", "D")  # record erased
    assert events[19]["entity"][1]["what"]["identifier"]["value"] == (
        "0x" + scenario.records["imaging-1"].hex()
    )


def test_controller_change_audit_event(scenario: Scenario, archive: Archive) -> None:
    bob = export_fhir_bundle(archive, scenario.bob_id, 31337, scenario.medledger.address)
    events = of_type(bob, "AuditEvent")
    assert [e["type"]["code"] for e in events] == ["rest", "rest", "110110", "110137", "rest"]
    changed = events[3]
    assert changed["action"] == "U"
    assert changed["agent"][0]["who"]["identifier"]["value"] == f"eip155:31337:{scenario.bob_new}"


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
