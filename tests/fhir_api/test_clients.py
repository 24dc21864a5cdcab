"""Real FHIR clients nobody here wrote read the whole patient back: ``fhirclient`` (SMART on
FHIR) reads every resource by id, ``fhirpy`` searches every type page by page; both get 403s as
an unconsented provider. Every response they receive is validated (R4B models + HL7 schema).

Scope: one full Synthea patient (110 clinical resources, 6 categories) — reading all 13
patients back costs about 7,000 logged reads, minutes on this machine's shared cores."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from fhirclient import client as smart_client
from fhirclient.models.fhirabstractbase import FHIRValidationError
from fhirclient.server import FHIRPermissionDeniedException
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import ForbiddenError

from helpers.fhir_serve import FHIR_ID, FhirWorld, check
from medledger.fhir.api import PURPOSE_HEADER


def _validate_every_response(session: requests.Session) -> None:
    def hook(response: requests.Response, *_a: Any, **_k: Any) -> None:
        check(response.json())

    session.hooks["response"].append(hook)


def smart(world: FhirWorld, who: str) -> Any:
    settings = {"app_id": "medledger-tests", "api_base": world.urls[who] + "/"}
    server = smart_client.FHIRClient(settings=settings).server
    server.session.headers[PURPOSE_HEADER] = "TREAT"
    _validate_every_response(server.session)
    return server


def _model(kind: str) -> Any:
    module = __import__(f"fhirclient.models.{kind.lower()}", fromlist=[kind])
    return getattr(module, kind)


def test_fhirclient_reads_every_resource_by_id(world: FhirWorld) -> None:
    server = smart(world, "hospital")
    for resource in world.resources:
        kind = resource["resourceType"]
        # one logged read each: the raw JSON the client received, then the client's own
        # (strict R4) model of it
        raw = server.request_json(f"{kind}/{resource['id']}")
        assert raw == resource, f"{kind}/{resource['id']}"
        try:
            model = _model(kind)(raw)
        except FHIRValidationError:  # pragma: no cover - fhirclient's own R4 model strictness
            pytest.fail(f"fhirclient could not model {kind}")
        assert model.id == resource["id"]


def test_fhirclient_search_follows_next_links(world: FhirWorld) -> None:
    from fhirclient.models.encounter import Encounter

    server = smart(world, "hospital")
    search = Encounter.where({"patient": FHIR_ID, "_count": "4"})
    got = [e.as_json() for e in search.perform_resources_iter(server)]
    expected = [r for r in world.resources if r["resourceType"] == "Encounter"]
    assert [e["id"] for e in got] == [e["id"] for e in expected]


def test_fhirclient_unconsented_gets_403(world: FhirWorld) -> None:
    server = smart(world, "clinic")
    cond = next(r for r in world.resources if r["resourceType"] == "Condition")
    with pytest.raises(FHIRPermissionDeniedException) as err:
        server.request_json(f"Condition/{cond['id']}")
    assert err.value.response.status_code == 403
    assert "no consent" in err.value.response.json()["issue"][0]["diagnostics"]


def fhirpy(world: FhirWorld, who: str) -> SyncFHIRClient:
    return SyncFHIRClient(world.urls[who], extra_headers={PURPOSE_HEADER: "TREAT"})


def test_fhirpy_searches_every_type_page_by_page(world: FhirWorld) -> None:
    client = fhirpy(world, "hospital")
    kinds = sorted({r["resourceType"] for r in world.clinical()})
    for kind in kinds:
        got = client.resources(kind).search(patient=FHIR_ID).limit(25).fetch_all()
        expected = [r for r in world.resources if r["resourceType"] == kind]
        assert [r.serialize() for r in got] == expected, kind
    patient = client.reference("Patient", FHIR_ID).to_resource()
    assert patient.serialize() == world.resources[0]
    bundle = client.execute(f"Patient/{FHIR_ID}/$everything", method="get")
    check(bundle)
    assert len(bundle["entry"]) == len(world.resources)


def test_fhirpy_unconsented_gets_403(world: FhirWorld) -> None:
    client = fhirpy(world, "clinic")
    with pytest.raises(ForbiddenError) as err:
        client.resources("Condition").search(patient=FHIR_ID).fetch_all()
    assert "no consent" in str(err.value)
