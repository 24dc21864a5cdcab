"""The first pass (no chain): the Synthea plan, the category table, bad input, Bundles."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from medledger.codes import Category
from medledger.errors import InvalidInput
from medledger.fhir.categories import categories_for_type, category_for
from medledger.fhir.plan import (
    MALFORMED,
    NO_PATIENT,
    NOT_JSON,
    UNKNOWN_PATIENT,
    UNKNOWN_TYPE,
    Problem,
    scan,
)
from medledger.fhir.reader import Source


def test_synthea_plan(synthea: Path) -> None:
    plan = scan(Source(synthea))
    assert plan.problems == []
    assert len({k.patient for k in plan.groups}) == 13
    assert plan.resources == 6974  # the README's counts, clinical types only
    # granularity: one record per patient x category x encounter
    assert len(plan.groups) == 3346
    per_category = Counter(k.category for k in plan.groups)
    assert per_category[Category.NOTES] == 1215  # one per encounter: Encounter + its note
    # only allergies and devices come without an encounter (one record per patient each)
    no_encounter = {k.category for k in plan.groups if not k.encounter}
    assert no_encounter == {Category.ALLERGIES, Category.PROCEDURES}
    for group in plan.groups.values():
        assert group.members, group.key


def test_every_synthea_resource_lands_in_its_category(synthea: Path) -> None:
    expected = {
        "AllergyIntolerance": Category.ALLERGIES,
        "Condition": Category.CONDITIONS,
        "Immunization": Category.IMMUNIZATIONS,
        "MedicationRequest": Category.MEDICATIONS,
        "Procedure": Category.PROCEDURES,
        "Device": Category.PROCEDURES,
        "Encounter": Category.NOTES,
        "DocumentReference": Category.NOTES,
    }
    source = Source(synthea)
    seen: Counter[str] = Counter()
    plan = scan(source)
    for key, group in plan.groups.items():
        for _, _, item in group.members[:3]:
            resource = source.load(item)
            kind = resource["resourceType"]
            seen[kind] += 1
            assert expected[kind] == key.category == category_for(resource)
            ref = (resource.get("subject") or resource.get("patient"))["reference"]
            assert ref == key.patient
    assert set(seen) == set(expected)


@pytest.mark.parametrize(
    ("resource", "category"),
    [
        ({"resourceType": "Observation", "category": [{"coding": [{"code": "vital-signs"}]}]},
         Category.VITALS),
        ({"resourceType": "Observation", "category": [{"coding": [{"code": "laboratory"}]}]},
         Category.LABS),
        ({"resourceType": "Observation"}, Category.LABS),
        ({"resourceType": "DiagnosticReport", "category": [{"coding": [{"code": "RAD"}]}]},
         Category.IMAGING),
        ({"resourceType": "DiagnosticReport"}, Category.LABS),
        ({"resourceType": "ImagingStudy"}, Category.IMAGING),
        ({"resourceType": "MedicationStatement"}, Category.MEDICATIONS),
        ({"resourceType": "Patient"}, None),
    ],
)  # fmt: skip
def test_category_table(resource: dict[str, Any], category: Category | None) -> None:
    assert category_for(resource) == category
    if category is not None:
        assert category in categories_for_type(resource["resourceType"])


def _line(resource: dict[str, Any]) -> str:
    return json.dumps(resource) + "\n"


def _bad_export(root: Path) -> Path:
    root.mkdir()
    (root / "Patient.000.ndjson").write_text(_line({"resourceType": "Patient", "id": "p1"}))
    good = {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"}}
    (root / "Condition.000.ndjson").write_text(
        _line(good)
        + '{"resourceType": "Condition", "id": \n'  # 2: malformed
        + _line({"resourceType": "Spaceship", "subject": {"reference": "Patient/p1"}})  # 3
        + _line({"resourceType": "Condition", "id": "c4"})  # 4: no patient reference
        + _line({"resourceType": "Condition", "subject": {"reference": "Patient/ghost"}})  # 5
        + _line({**good, "id": "c6"})
    )
    (root / "broken.json").write_text('{"resourceType": "Bundle",\n "type": "collection",\n oops')
    return root


def test_bad_input_is_reported_with_file_and_line(tmp_path: Path) -> None:
    plan = scan(Source(_bad_export(tmp_path / "export")))
    found = sorted((p.kind, p.at.file, p.at.line) for p in plan.problems)
    assert found == sorted(
        [
            (MALFORMED, "Condition.000.ndjson", 2),
            (UNKNOWN_TYPE, "Condition.000.ndjson", 3),
            (NO_PATIENT, "Condition.000.ndjson", 4),
            (UNKNOWN_PATIENT, "Condition.000.ndjson", 5),
            (NOT_JSON, "broken.json", 3),
        ]
    )
    assert plan.resources == 2  # the rest continues: lines 1 and 6
    assert "Patient/ghost" in next(str(p) for p in plan.problems if p.kind == UNKNOWN_PATIENT)


def test_strict_stops_at_the_first_problem(tmp_path: Path) -> None:
    seen: list[Problem] = []

    def stop(p: Problem) -> bool:
        seen.append(p)
        return True

    plan = scan(Source(_bad_export(tmp_path / "export")), stop=stop)
    assert [(p.kind, p.at.line) for p in seen] == [(MALFORMED, 2)]
    assert len(plan.problems) == 1


def _bundle(kind: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": entries}


@pytest.mark.parametrize("kind", ["collection", "transaction", "batch"])
def test_bundles(tmp_path: Path, kind: str) -> None:
    patient = {"fullUrl": "urn:uuid:11", "resource": {"resourceType": "Patient", "id": "p"}}
    allergy = {
        "fullUrl": "urn:uuid:22",
        "resource": {"resourceType": "AllergyIntolerance", "patient": {"reference": "urn:uuid:11"}},
    }
    path = tmp_path / "b.json"
    path.write_text(json.dumps(_bundle(kind, [patient, allergy])))
    plan = scan(Source(path))
    assert plan.problems == []
    [key] = plan.groups
    assert (key.patient, key.category) == ("Patient/p", Category.ALLERGIES)


def test_a_searchset_or_a_huge_bundle_is_refused(tmp_path: Path, monkeypatch: Any) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps(_bundle("searchset", [])))
    [problem] = scan(Source(path)).problems
    assert "searchset" in problem.message
    monkeypatch.setattr("medledger.fhir.reader.MAX_BUNDLE_BYTES", 10)
    path.write_text(json.dumps(_bundle("collection", [])))
    [problem] = scan(Source(path)).problems
    assert "limit" in problem.message


@pytest.mark.parametrize("name", ["map.json", "map.csv"])
def test_patient_map_round_trip(tmp_path: Path, name: str) -> None:
    from medledger.fhir.patients import PatientMap

    path = tmp_path / "sub" / name
    mapping = PatientMap.load(path)
    mapping.add("a-1", 7)
    mapping.add("b-2", 9)
    assert PatientMap.load(path).mapping == {"a-1": 7, "b-2": 9}
    assert path.stat().st_mode & 0o777 == 0o600
    path.write_text("fhir_id,patient_id\nx,notanumber\n" if name.endswith("csv") else "[1]")
    with pytest.raises(InvalidInput):
        PatientMap.load(path)
