"""One world for the FHIR API tests: a full Synthea patient loaded by a hospital, served by the
hospital (consented), by a clinic with no consent, and by a lab with a narrow consent."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from helpers.fhir_serve import (
    FHIR_ID,
    ApiLog,
    FhirWorld,
    load_patient,
    synthea_resources,
)
from medledger import Medledger
from medledger.codes import Category
from medledger.fhir.api import FhirLinks, create_app
from medledger.services.runner import BackgroundServer


@pytest.fixture(scope="session")
def api_log() -> Iterator[ApiLog]:
    handler = ApiLog()
    loggers = [logging.getLogger(n) for n in ("medledger.fhir.api", "uvicorn", "uvicorn.error")]
    for lg in loggers:
        lg.addHandler(handler)
    logging.getLogger("medledger.fhir.api").setLevel(logging.INFO)
    yield handler
    for lg in loggers:
        lg.removeHandler(handler)


@pytest.fixture(scope="session")
def world(api_log: ApiLog) -> Iterator[FhirWorld]:
    resources = synthea_resources({FHIR_ID})[FHIR_ID]
    ml = Medledger.embedded()
    consortium, patient, hospital, clinic, lab = (ml.session(ml.dev_party(i)) for i in range(5))
    for who, name in ((hospital, "General Hospital"), (clinic, "Clinic"), (lab, "Lab")):
        consortium.providers.register(who.party, name=name)
    pid = patient.identity.register().patient_id
    every = [c.name.lower() for c in Category]
    patient.consent.grant(
        hospital.address, every, ["treatment"], ["read", "write"], duration=365 * 86400
    )
    patient.consent.grant(lab.address, ["allergies"], ["treatment"], duration=30 * 86400)
    links = FhirLinks()
    load_patient(hospital, pid, resources, links)
    servers = {
        name: BackgroundServer(create_app(ml, who, links)).start()
        for name, who in (("hospital", hospital), ("clinic", clinic), ("lab", lab))
    }
    try:
        yield FhirWorld(
            ml, patient, hospital, clinic, lab, pid, resources, links,
            {k: s.url for k, s in servers.items()},
        )  # fmt: skip
    finally:
        for s in servers.values():
            s.stop()
        ml.close()
