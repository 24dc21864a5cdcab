"""The import on a real chain (Anvil) and store: records, round trip, idempotence, bad input,
the HL7 example resources."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from helpers.fhir_import import World, subset
from medledger.fhir import records
from medledger.fhir.categories import CLINICAL_TYPES
from medledger.fhir.importer import Importer, StrictStop, Summary
from medledger.fhir.journal import Journal
from medledger.fhir.patients import PatientMap, Registrar
from medledger.fhir.plan import scan
from medledger.fhir.reader import Source

EXAMPLES = Path(__file__).resolve().parents[2] / "node_modules" / "hl7.fhir.r4.examples"


def _import(world: World, src: Path, state: Path, **kwargs: Any) -> Summary:
    scope = {
        "chain_id": world.ml.chain.chain_id,
        "contract": "test",
        "author": world.clinic.address,
    }
    mapping = PatientMap.load(state / "patients.json")
    with Journal.open(state / "journal", scope) as journal:
        importer = Importer(
            world.clinic, Source(src), journal, mapping,
            registrar=Registrar(world.ml, world.clinic.address), **kwargs,
        )  # fmt: skip
        return importer.run()


def _canonical(resources: list[dict[str, Any]]) -> str:
    return json.dumps(resources, sort_keys=True)


def _read_back(world: World, src: Path, state: Path) -> tuple[Counter[str], Counter[str]]:
    """(what the chain + store hold, what the export says), as multisets of canonical records."""
    mapping = PatientMap.load(state / "patients.json")
    source = Source(src)
    plan = scan(source)
    expected: Counter[str] = Counter()
    for group in plan.groups.values():
        members = sorted(group.members, key=lambda m: (m[0], m[1]))
        expected[_canonical([source.load(i) for _, _, i in members])] += 1
    held: Counter[str] = Counter()
    for pid in mapping.mapping.values():
        timeline = world.clinic.records.timeline(pid)
        assert all(r.author == world.clinic.address for r in timeline)
        for rec, data in zip(
            timeline,
            world.clinic.access.read_many([r.record_id for r in timeline], "treatment"),
            strict=True,
        ):
            assert isinstance(data, bytes)
            resources = records.unpack(data)
            categories = {records_category(r) for r in resources}
            assert categories == {rec.category}
            held[_canonical(resources)] += 1
    return held, expected


def records_category(resource: dict[str, Any]) -> Any:
    from medledger.fhir.categories import category_for

    return category_for(resource)


def test_import_round_trip_and_idempotence(
    world: World, synthea: Path, smallest: list[str], tmp_path: Path
) -> None:
    src = subset(synthea, smallest, tmp_path / "export")
    summary = _import(world, src, tmp_path)
    assert summary.patients == summary.patients_registered == 2
    assert summary.records_added == summary.records_planned > 0
    assert summary.resources_added == summary.resources
    assert sum(summary.problems.values()) == 0
    held, expected = _read_back(world, src, tmp_path)
    assert held == expected  # every resource, JSON-equal, in its category, authored by us
    events = len(world.clinic.contract.get_events("RecordAdded"))
    again = _import(world, src, tmp_path)
    assert (again.records_added, again.records_already_imported) == (0, summary.records_added)
    assert again.patients_registered == 0
    assert len(world.clinic.contract.get_events("RecordAdded")) == events


def test_bad_input_is_counted_and_the_rest_imported(
    world: World, synthea: Path, smallest: list[str], tmp_path: Path
) -> None:
    src = subset(synthea, smallest[:1], tmp_path / "export")
    allergy = src / "AllergyIntolerance.000.ndjson"
    with open(src / "Immunization.000.ndjson", "a", encoding="utf-8") as fh:
        fh.write("{not json\n")
        fh.write(json.dumps({"resourceType": "Immunization", "id": "x"}) + "\n")
        ghost = {"resourceType": "Immunization", "patient": {"reference": "Patient/nobody"}}
        fh.write(json.dumps(ghost) + "\n")
    allergy.write_text(allergy.read_text() + json.dumps({"resourceType": "Starship"}) + "\n")
    (src / "extra.json").write_text("[1, 2")
    state = tmp_path / "strict"
    state.mkdir()
    with pytest.raises(StrictStop, match="nothing was imported"):
        _import(world, src, state, strict=True)
    assert not (state / "patients.json").exists()  # not even a patient was registered

    summary = _import(world, src, tmp_path)
    assert summary.problems == {
        "malformed": 1, "unknown_type": 1, "no_patient": 1, "unknown_patient": 1, "not_json": 1,
    }  # fmt: skip
    where = {(p["kind"], p["file"]) for p in summary.problem_list}
    assert ("malformed", "Immunization.000.ndjson") in where
    assert ("not_json", "extra.json") in where
    assert summary.records_added == summary.records_planned > 0


def _examples_bundle(into: Path) -> tuple[Path, int]:
    """The HL7 examples of the supported types and the Patient examples, as one Bundle."""
    entries, clinical = [], 0
    for path in sorted(EXAMPLES.glob("*.json")):
        kind = path.name.split("-", 1)[0]
        if kind == "Patient" or kind in CLINICAL_TYPES:
            resource = json.loads(path.read_text(encoding="utf-8"))
            if resource.get("resourceType") != kind:
                continue
            entries.append({"resource": resource})
            clinical += kind != "Patient"
    path = into / "examples.json"
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}))
    return path, clinical


def test_hl7_examples_import_and_round_trip(world: World, tmp_path: Path) -> None:
    if not EXAMPLES.is_dir():
        pytest.fail(f"{EXAMPLES} is missing: run tools/bootstrap.sh (npm package)")
    bundle, clinical = _examples_bundle(tmp_path)
    summary = _import(world, bundle, tmp_path)
    # examples that name no Patient, or a Patient that has no example, are reported, not lost
    skipped = summary.problems["no_patient"] + summary.problems["unknown_patient"]
    assert summary.resources_added + skipped == clinical
    assert summary.resources_added > 100
    held, expected = _read_back(world, bundle, tmp_path)
    assert held == expected
