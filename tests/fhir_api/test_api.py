"""The FHIR API over HTTP: content, paging, consent, logging, errors (every response validated
with the fhir.resources R4B models and the official HL7 JSON schema)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import pytest

from helpers.fhir_serve import FHIR_ID, ApiLog, FhirWorld, check
from medledger.codes import Outcome
from medledger.fhir.api import FHIR_JSON, PURPOSE_HEADER


def get(world: FhirWorld, who: str, path: str, **kw: Any) -> httpx.Response:
    r = httpx.get(world.urls[who] + path, timeout=300, **kw)
    assert r.headers["content-type"] == FHIR_JSON
    check(r.json())
    return r


def access_entries(world: FhirWorld, accessor: str) -> list[Any]:
    events = world.ml.deployment.medledger.get_events(
        "AccessRecorded", argument_filters={"patientId": world.pid}
    )
    return [e for e in events if e.args["accessor"] == accessor]


def test_metadata_says_what_is_supported(world: FhirWorld) -> None:
    cap = get(world, "hospital", "/metadata").json()
    assert cap["resourceType"] == "CapabilityStatement"
    kinds = {r["type"]: r for r in cap["rest"][0]["resource"]}
    assert {"Patient", "Condition", "AllergyIntolerance", "Consent", "AuditEvent"} <= set(kinds)
    assert kinds["Patient"]["operation"][0]["name"] == "everything"
    assert PURPOSE_HEADER in cap["rest"][0]["security"]["description"]


def test_search_pages_through_every_resource_of_a_type_exactly_as_imported(
    world: FhirWorld,
) -> None:
    procedures = [r for r in world.resources if r["resourceType"] == "Procedure"]
    got: list[dict[str, Any]] = []
    url: str | None = f"/Procedure?patient={FHIR_ID}&_count=10"
    pages = 0
    while url is not None:
        bundle = get(world, "hospital", url.removeprefix(world.urls["hospital"])).json()
        assert bundle["type"] == "searchset"
        got += [e["resource"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]
        url = next((lk["url"] for lk in bundle["link"] if lk["relation"] == "next"), None)
        pages += 1
    assert pages == -(-len(procedures) // 10)
    assert got == procedures  # JSON-equal, field for field, in record order
    assert bundle["total"] == len(procedures)  # known once every page was read


def test_read_is_logged_on_chain_before_it_is_returned(world: FhirWorld) -> None:
    allergy = next(r for r in world.resources if r["resourceType"] == "AllergyIntolerance")
    before = len(access_entries(world, world.hospital.address))
    r = get(world, "hospital", f"/AllergyIntolerance/{allergy['id']}")
    assert r.status_code == 200
    assert r.json() == allergy
    after = access_entries(world, world.hospital.address)
    assert len(after) == before + 1
    assert after[-1].args["outcome"] == Outcome.ALLOWED_CONSENT
    assert after[-1].args["purpose"] == 0  # treatment: the default purpose


def test_unconsented_provider_gets_403_saying_why_and_the_attempt_is_logged(
    world: FhirWorld,
) -> None:
    cond = next(r for r in world.resources if r["resourceType"] == "Condition")
    before = len(access_entries(world, world.clinic.address))
    for path in (
        f"/Condition/{cond['id']}",
        f"/Condition?patient={FHIR_ID}",
        f"/Patient/{FHIR_ID}",
        f"/Patient/{FHIR_ID}/$everything",
    ):
        r = get(world, "clinic", path)
        assert r.status_code == 403, path
        issue = r.json()["issue"][0]
        assert issue["code"] == "forbidden"
        assert "no consent" in issue["diagnostics"]
        assert issue["details"]["coding"][0]["code"] == "denied-no-consent"
    denials = access_entries(world, world.clinic.address)[before:]
    assert len(denials) == 4
    assert {e.args["outcome"] for e in denials} == {Outcome.DENIED_NO_CONSENT}


def test_purpose_from_the_header(world: FhirWorld) -> None:
    cond = next(r for r in world.resources if r["resourceType"] == "Condition")
    path = f"/Condition/{cond['id']}"
    r = get(world, "hospital", path, headers={PURPOSE_HEADER: "HRESCH"})
    assert r.status_code == 403
    assert "purpose not granted" in r.json()["issue"][0]["diagnostics"]
    assert access_entries(world, world.hospital.address)[-1].args["purpose"] == 4  # research
    sys_code = "http://terminology.hl7.org/CodeSystem/v3-ActReason|TREAT"
    assert get(world, "hospital", path, headers={PURPOSE_HEADER: sys_code}).json() == cond
    bad = get(world, "hospital", path, headers={PURPOSE_HEADER: "SHOPPING"})
    assert bad.status_code == 400
    assert bad.json()["issue"][0]["code"] == "value"


def test_narrow_consent_everything_returns_what_it_covers_and_says_what_it_withheld(
    world: FhirWorld,
) -> None:
    bundle = get(world, "lab", f"/Patient/{FHIR_ID}/$everything").json()
    matches = [e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "match"]
    allergies = [r for r in world.resources if r["resourceType"] == "AllergyIntolerance"]
    assert matches == [world.resources[0], *allergies]  # the Patient, then the allergies
    outcome = next(e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "outcome")
    text = outcome["issue"][0]["diagnostics"]
    assert "conditions" in text
    assert "category not granted" in text
    r = get(world, "lab", f"/Condition?patient={FHIR_ID}")
    assert r.status_code == 403
    assert "category not granted" in r.json()["issue"][0]["diagnostics"]


def test_everything_for_the_consented_provider_is_the_whole_chart(world: FhirWorld) -> None:
    bundle = get(world, "hospital", f"/Patient/{FHIR_ID}/$everything").json()
    got = [e["resource"] for e in bundle["entry"]]
    assert Counter(r["resourceType"] + "/" + r["id"] for r in got) == Counter(
        r["resourceType"] + "/" + r["id"] for r in world.resources
    )
    by_key = {(r["resourceType"], r["id"]): r for r in world.resources}
    assert all(by_key[(r["resourceType"], r["id"])] == r for r in got)


def test_expired_consent_is_403_expired(world: FhirWorld) -> None:
    # moves the chain's clock past the lab's 30-day grant (the hospital's runs a year)
    world.ml.increase_time(31 * 86400)
    allergy = next(r for r in world.resources if r["resourceType"] == "AllergyIntolerance")
    r = get(world, "lab", f"/AllergyIntolerance/{allergy['id']}")
    assert r.status_code == 403
    assert "consent expired" in r.json()["issue"][0]["diagnostics"]


def test_chain_resources_consent_audit_provenance(world: FhirWorld) -> None:
    consents = get(world, "hospital", f"/Consent?patient={FHIR_ID}").json()
    grantees = {
        e["resource"]["provision"]["actor"][0]["reference"]["display"] for e in consents["entry"]
    }
    assert grantees == {"General Hospital", "Lab"}
    audit = get(world, "hospital", f"/AuditEvent?patient={FHIR_ID}&_count=5").json()
    assert len(audit["entry"]) == 5
    assert audit["total"] > 5
    assert any(lk["relation"] == "next" for lk in audit["link"])
    prov = get(world, "hospital", f"/Provenance?patient={FHIR_ID}").json()
    assert prov["total"] == len(world.patient.records.timeline())  # one per record
    assert all(e["resource"]["resourceType"] == "Provenance" for e in prov["entry"])


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/Condition?patient=nobody", 404, "not-found"),
        ("/Condition", 400, "required"),
        (f"/Condition?patient={FHIR_ID}&code=123", 400, "not-supported"),
        (f"/Condition?patient={FHIR_ID}&_count=0", 400, "value"),
        ("/Condition/not-an-imported-id", 404, "not-found"),
        ("/Organization/x", 404, "not-supported"),
        ("/no/such/endpoint/here", 404, "not-found"),
    ],
)
def test_errors_are_operation_outcomes(world: FhirWorld, path: str, status: int, code: str) -> None:
    r = get(world, "hospital", path)
    assert r.status_code == status
    assert r.json()["issue"][0]["code"] == code


def test_no_phi_in_server_logs(world: FhirWorld, api_log: ApiLog) -> None:
    get(world, "hospital", f"/Patient/{FHIR_ID}")
    text = "\n".join(api_log.lines)
    assert "GET /Patient/{fhir_id} 200" in text  # our line, with the route template
    patient = world.resources[0]
    secrets = [FHIR_ID, patient["name"][0]["family"], patient["birthDate"]]
    secrets += [r["id"] for r in world.clinical()]
    assert not [s for s in secrets if s in text]
