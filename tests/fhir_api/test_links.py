"""The link file and the purpose header, without a chain."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from medledger.codes import Purpose
from medledger.errors import InvalidInput
from medledger.fhir.api import FhirLinks
from medledger.fhir.api.outcomes import FhirError, parse_purpose


def test_link_file_round_trips_and_is_private(tmp_path: Path) -> None:
    path = tmp_path / "links.json"
    links = FhirLinks.load(path)  # missing: empty
    patient = {"resourceType": "Patient", "id": "p1", "name": [{"family": "Doe"}]}
    links.link_patient("p1", 7, patient)
    links.remember("Condition", "c1", 7, b"\x01" * 32)
    links.save()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = FhirLinks.load(path)
    link = again.patient("p1")
    assert link is not None
    assert link.patient_id == 7
    assert link.resource == patient
    assert again.locate("Condition", "c1") == (7, b"\x01" * 32)
    assert again.fhir_id_of(7) == "p1"


def test_the_importers_patient_mapping_is_read_and_never_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "patients.json"
    path.write_text(json.dumps({"p1": 3, "p2": 4}))
    links = FhirLinks.load(path)
    link = links.patient("p2")
    assert link is not None
    assert link.patient_id == 4
    assert links.path is None  # kept in memory only
    with pytest.raises(InvalidInput):
        links.save()


def test_bad_link_files_are_typed_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    with pytest.raises(InvalidInput):
        FhirLinks.load(path)
    path.write_text(json.dumps({"format": "other"}))
    with pytest.raises(InvalidInput):
        FhirLinks.load(path)
    with pytest.raises(InvalidInput):
        FhirLinks().link_patient("p1", 1, {"resourceType": "Patient", "id": "someone-else"})


@pytest.mark.parametrize(
    ("header", "purpose"),
    [
        (None, Purpose.TREATMENT),
        ("", Purpose.TREATMENT),
        ("TREAT", Purpose.TREATMENT),
        ("etreat", Purpose.EMERGENCY),
        ("http://terminology.hl7.org/CodeSystem/v3-ActReason|HRESCH", Purpose.RESEARCH),
        ("public_health", Purpose.PUBLIC_HEALTH),
    ],
)
def test_purpose_header(header: str | None, purpose: Purpose) -> None:
    assert parse_purpose(header) is purpose


@pytest.mark.parametrize("header", ["SHOPPING", "http://example.org/other|TREAT"])
def test_unknown_purpose_is_400(header: str) -> None:
    with pytest.raises(FhirError) as err:
        parse_purpose(header)
    assert err.value.status == 400
