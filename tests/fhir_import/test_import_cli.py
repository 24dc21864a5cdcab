"""``medledger import fhir`` in-process: the JSON summary, --strict, and the mapping is required."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from helpers.cli import PASSWORD, SRC, create_key, invoke, isolate_home
from helpers.fhir_import import World, subset
from medledger.client import Party
from medledger.codes import Category
from medledger.fhir.api import PURPOSE_HEADER


def _args(world: World, url: str, tmp: Path, src: Path, *extra: str) -> list[str]:
    return [
        "import", "fhir", str(src), "--rpc", url, "--store", str(world.store_dir),
        "--manifest", str(tmp / "manifest.json"), "--as", "dev:7",
        "--journal", str(tmp / "journal"), "--json", *extra,
    ]  # fmt: skip


def test_cli_strict_and_summary(
    world: World,
    anvil_url: str,
    synthea: Path,
    smallest: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    isolate_home(monkeypatch, tmp_path / "home")
    world.ml.manifest.save(tmp_path / "manifest.json")
    src = subset(synthea, smallest[:1], tmp_path / "export")
    with open(src / "Condition.000.ndjson", "a", encoding="utf-8") as fh:
        fh.write("{broken\n")
    lines = len((src / "Condition.000.ndjson").read_text().splitlines())

    run = invoke(_args(world, anvil_url, tmp_path, src))
    assert run.exit_code == 2  # no mapping, no --register
    assert "--patients" in run.stderr

    run = invoke(_args(world, anvil_url, tmp_path, src, "--register", "--strict"))
    assert run.exit_code == 2
    assert f"Condition.000.ndjson:{lines}" in run.stderr
    assert "nothing was imported" in run.stderr

    run = invoke(_args(world, anvil_url, tmp_path, src, "--register", "--insecure-light-kdf"))
    assert run.exit_code == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["problems"]["malformed"] == 1
    assert summary["problem_list"][0]["line"] == lines
    assert summary["records_added"] == summary["records_planned"] > 0
    assert summary["patients_registered"] == 1
    assert summary["gas_per_resource"] > 0
    assert len(list((tmp_path / "home" / "keys").glob("fhir-*.json"))) == 1


def test_a_patient_missing_from_the_mapping_is_reported_and_the_others_imported(
    world: World,
    anvil_url: str,
    synthea: Path,
    smallest: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    isolate_home(monkeypatch, tmp_path / "home")
    world.ml.manifest.save(tmp_path / "manifest.json")
    mapped, unmapped = smallest
    src = subset(synthea, [mapped, unmapped], tmp_path / "export")
    patient = world.ml.session(Party.generate("x25519"))
    world.ml.fund(patient.address, 10**18)
    pid = patient.identity.register().patient_id
    every = [c.name.lower() for c in Category]
    patient.consent.grant(
        world.clinic.address, every, ["treatment"], ["read", "write"], duration=86400
    )
    mapping = tmp_path / "patients.json"
    mapping.write_text(json.dumps({mapped: pid}))
    before = len(world.clinic.contract.get_events("RecordAdded"))

    run = invoke(_args(world, anvil_url, tmp_path, src, "--patients", str(mapping), "--strict"))
    assert run.exit_code == 2
    assert f"Patient/{unmapped} is not in the mapping file" in run.stderr
    assert "nothing was imported" in run.stderr
    assert len(world.clinic.contract.get_events("RecordAdded")) == before

    run = invoke(_args(world, anvil_url, tmp_path, src, "--patients", str(mapping)))
    assert run.exit_code == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["problems"]["unmapped_patient"] == 1
    (problem,) = [p for p in summary["problem_list"] if p["kind"] == "unmapped_patient"]
    assert problem["file"].endswith(".ndjson")
    assert problem["line"] >= 1
    added = world.clinic.contract.get_events("RecordAdded")[before:]
    assert len(added) == summary["records_added"] > 0
    assert {int(e.args["patientId"]) for e in added} == {pid}  # only the mapped patient's
    assert json.loads(mapping.read_text()) == {mapped: pid}  # the hospital's file, untouched


def test_fhir_serve_runs_as_a_process_and_logs_no_patient(
    world: World,
    anvil_url: str,
    synthea: Path,
    smallest: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``medledger fhir serve`` as an operator starts it: a process on the import's patient
    file, answering plain FHIR over HTTP and logging no patient id; a party whose key is not
    the provider's registered key is refused before it listens."""
    home = isolate_home(monkeypatch, tmp_path / "home")
    world.ml.manifest.save(tmp_path / "manifest.json")
    fhir_id = smallest[0]
    src = subset(synthea, [fhir_id], tmp_path / "export")
    # a hospital with its own keystore: grants seal key bundles to its registered key
    create_key("hospital", subprocess_use=True)
    hospital = Party.from_keystore(home / "keys" / "hospital.json", PASSWORD)
    world.ml.fund(hospital.address, 10**18)
    world.ml.session(world.ml.dev_party(0)).providers.register(hospital, name="Hospital")
    args = _args(world, anvil_url, tmp_path, src, "--register", "--insecure-light-kdf")
    run = invoke([a if a != "dev:7" else "hospital" for a in args])
    assert run.exit_code == 0, run.stderr
    summary = json.loads(run.stdout)
    conditions = [
        json.loads(line)
        for line in (src / "Condition.000.ndjson").read_text().splitlines()
        if line.strip()
    ]
    assert conditions  # the smallest Synthea patient has 3
    links = Path(summary["patients_file"])  # the import's FHIR id -> patient id mapping
    mapping = links.read_text()

    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env["MEDLEDGER_HOME"] = str(home)
    args = [
        sys.executable, "-m", "medledger.cli", "fhir", "serve", "--rpc", anvil_url,
        "--store", str(world.store_dir), "--manifest", str(tmp_path / "manifest.json"),
        "--as", "hospital", "--links", str(links),
    ]  # fmt: skip
    # dev:7 is a provider too, but its key is fresh in each process: refused up front
    refused = subprocess.run([*args[:-4], "--as", "dev:7"], env=env, capture_output=True, text=True)
    assert refused.returncode == 1
    assert "another encryption key" in refused.stderr
    # as started from a terminal: a CI job started in the background inherits SIGINT ignored,
    # and the server would then stop gracefully with 0 instead of as Ctrl-C does (130)
    proc = subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # blocks until ready (or EOF if it died)
        assert line.startswith("listening on http://127.0.0.1:"), proc.stderr.read()  # type: ignore[union-attr]
        url = line.split()[-1]
        headers = {PURPOSE_HEADER: "TREAT"}
        meta = httpx.get(f"{url}/metadata", timeout=30)
        assert meta.status_code == 200
        assert meta.headers["content-type"].startswith("application/fhir+json")
        assert meta.json()["resourceType"] == "CapabilityStatement"
        patient = httpx.get(f"{url}/Patient/{fhir_id}", headers=headers, timeout=60)
        assert patient.status_code == 200
        assert patient.json()["id"] == fhir_id
        found: list[dict[str, object]] = []
        next_url: str | None = f"{url}/Condition?patient={fhir_id}&_count=50"
        while next_url:
            page = httpx.get(next_url, headers=headers, timeout=300).json()
            assert page.get("type") == "searchset", page
            found += [e["resource"] for e in page.get("entry", [])]
            next_url = next(
                (lk["url"] for lk in page.get("link", []) if lk["relation"] == "next"), None
            )
        assert sorted(found, key=lambda r: str(r["id"])) == sorted(
            conditions, key=lambda r: str(r["id"])
        )
        missing = httpx.get(f"{url}/Patient/no-such-patient", headers=headers, timeout=30)
        assert missing.status_code == 404
        assert missing.json()["resourceType"] == "OperationOutcome"
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err  # stopped by an interrupt, as with Ctrl-C
    assert fhir_id not in err  # request paths name patients: never logged
    assert links.read_text() == mapping  # the hospital's mapping is read, never rewritten
