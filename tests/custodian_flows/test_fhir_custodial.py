"""The FHIR API through custodians (issue 17 x issue 16): a patient in custodian mode for some
categories gets a Synthea patient imported by a hospital; the hospital's FHIR API serves it back
identical, field for field, with every custodial record opened through real custodian processes
after its logged access, and an unconsented provider gets 403.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers.cli import PASSWORD, SRC, run_subprocess
from helpers.custodian_mode import CustodianWorld, make_custodian_world
from helpers.fhir_import import synthea_dir
from helpers.fhir_serve import check
from medledger.codes import Category
from medledger.crypto import Keystore
from medledger.crypto.pre import is_custodial
from medledger.errors import KeyNotAvailable
from medledger.fhir.api import PURPOSE_HEADER, FhirLinks, create_app
from medledger.fhir.categories import CLINICAL_TYPES
from medledger.fhir.importer import Importer
from medledger.fhir.journal import Journal
from medledger.fhir.patients import PatientMap
from medledger.fhir.reader import Source
from medledger.fhir.sample import resource_counts, subset
from medledger.services.runner import BackgroundServer

pytestmark = [pytest.mark.anvil]

#: what the world puts in custodian mode (helpers.custodian_mode)
CUSTODIAL = {Category.ALLERGIES, Category.CONDITIONS, Category.LABS}


@dataclass
class Served:
    cw: CustodianWorld
    fhir_id: str
    patient: dict[str, Any]
    exported: list[dict[str, Any]]
    links: FhirLinks
    mapping: Path  # the patient mapping the import wrote
    store: Path  # the deployment's record store (a directory)
    hospital: str  # URL of the hospital's (the clinic's) FHIR API
    stranger: str  # URL of an unconsented provider's


def _export(src: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    clinical: list[dict[str, Any]] = []
    for path in sorted(src.glob("*.ndjson")):
        with open(path, encoding="utf-8") as fh:
            clinical += [r for r in map(json.loads, fh) if r["resourceType"] in CLINICAL_TYPES]
    with open(src / "Patient.000.ndjson", encoding="utf-8") as fh:
        return json.loads(fh.readline()), clinical


@pytest.fixture(scope="module")
def served(anvil_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = Path(tmp_path_factory.mktemp("fhir-custodial"))
    cw = make_custodian_world(anvil_url, tmp / "world")
    every = [c.name.lower() for c in Category]
    cw.patient.consent.grant(
        cw.clinic.address, every, ["treatment"], ["read", "write"], duration=86400
    )
    synthea = synthea_dir()
    counts = resource_counts(synthea)
    fhir_id = min(counts, key=lambda f: counts[f])
    src = subset(synthea, [fhir_id], tmp / "export")
    patient, exported = _export(src)
    mapping = PatientMap.load(tmp / "patients.json")
    mapping.add(fhir_id, cw.pid)
    scope = {"chain_id": cw.ml.chain.chain_id, "contract": "t", "author": cw.clinic.address}
    with Journal.open(tmp / "journal", scope) as journal:
        summary = Importer(cw.clinic, Source(src), journal, mapping).run()
    assert summary.resources_added == len(exported)
    links = FhirLinks.load(tmp / "patients.json")  # the mapping the import wrote
    links.link_patient(fhir_id, cw.pid, patient)
    servers = [
        BackgroundServer(create_app(cw.ml, who, links)).start() for who in (cw.clinic, cw.er)
    ]
    try:
        yield Served(
            cw, fhir_id, patient, exported, links, tmp / "patients.json", tmp / "world" / "store",
            servers[0].url, servers[1].url,
        )  # fmt: skip
    finally:
        for s in servers:
            s.stop()
        cw.stop()


def _custodial_records(s: Served) -> list[bytes]:
    return [r.record_id for r in s.cw.clinic.records.timeline(s.cw.pid) if r.category in CUSTODIAL]


def _served_by(s: Served, rid: bytes) -> int:
    """Custodians whose decision log shows serving ``rid`` to the hospital."""
    want = ("reencryption", "served", "0x" + rid.hex(), s.cw.clinic.address)
    return sum(
        any(
            (d["action"], d["outcome"], d["subject"], d["reader"]) == want
            for d in c.client.decisions(s.cw.pid)
        )
        for c in s.cw.custodians
    )


def test_the_import_put_custodial_categories_in_custodian_mode(served: Served) -> None:
    rids = _custodial_records(served)
    assert rids, "the patient has conditions"
    for rid in rids:
        assert is_custodial(served.cw.clinic.records.fetch_sealed(rid, patient_id=served.cw.pid))
        with pytest.raises(KeyNotAvailable):  # the hospital's key bundle opens none of them
            served.cw.clinic.access.open_offline(rid, patient_id=served.cw.pid)


def test_an_ehr_reads_every_resource_back_identical_through_the_custodians(
    served: Served,
) -> None:
    ehr = httpx.Client(base_url=served.hospital, timeout=600, headers={PURPOSE_HEADER: "TREAT"})
    assert ehr.get(f"/Patient/{served.fhir_id}").json() == served.patient
    everything = ehr.get(f"/Patient/{served.fhir_id}/$everything")
    assert everything.status_code == 200, everything.text
    bundle = check(everything.json())
    got = {
        (e["resource"]["resourceType"], e["resource"]["id"]): e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] != "Patient"
    }
    expected = {(r["resourceType"], r["id"]): r for r in served.exported}
    assert got == expected  # every resource, field for field
    # every custodial record was opened through k custodians, each logging what it served
    for rid in _custodial_records(served):
        assert _served_by(served, rid) >= 2
    # and each resource read by id (its own logged read) is identical too
    for resource in served.exported:
        one = ehr.get(f"/{resource['resourceType']}/{resource['id']}")
        assert one.status_code == 200, one.text
        assert one.json() == resource


def test_an_unconsented_provider_gets_403(served: Served) -> None:
    other = httpx.Client(base_url=served.stranger, timeout=600)
    refused = other.get(f"/Patient/{served.fhir_id}/$everything")
    assert refused.status_code == 403
    assert check(refused.json())["resourceType"] == "OperationOutcome"
    custodial = next(
        r for r in served.exported if r["resourceType"] in ("Condition", "AllergyIntolerance")
    )
    one = other.get(f"/{custodial['resourceType']}/{custodial['id']}")
    assert one.status_code == 403
    # nothing was re-encrypted for it
    for c in served.cw.custodians:
        assert not any(
            d["reader"] == served.cw.er.address and d["outcome"] == "served"
            for d in c.client.decisions(served.cw.pid)
        )


def test_medledger_fhir_serve_reads_custodial_records(
    served: Served, anvil_url: str, tmp_path: Path
) -> None:
    """The command a hospital runs: ``medledger fhir serve --as <provider>`` in its own process,
    with the provider's keystore, serves the custodial records through the custodians."""
    home = tmp_path / "home"
    (home / "keys").mkdir(parents=True)
    party = served.cw.clinic.party
    keystore = Keystore.create(PASSWORD, party.account, identity_key=party.identity)
    key_file = home / "keys" / "hospital.json"
    key_file.write_text(keystore.to_json())
    key_file.chmod(0o600)
    manifest = tmp_path / "manifest.json"
    served.cw.ml.manifest.save(manifest)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDLEDGER_", "PYTHONPATH"))}
    env.update(MEDLEDGER_HOME=str(home), MEDLEDGER_PASSWORD=PASSWORD, PYTHONPATH=SRC)
    args = [
        sys.executable, "-m", "medledger.cli", "fhir", "serve", "--as", "hospital",
        "--rpc", anvil_url, "--store", str(served.store), "--manifest", str(manifest),
        "--links", str(served.mapping),
    ]  # fmt: skip
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        lines: queue.Queue[str] = queue.Queue()
        out = proc.stdout
        threading.Thread(target=lambda: lines.put(out.readline()), daemon=True).start()
        first = lines.get(timeout=120)
        assert first.startswith("listening on"), first
        url = first.split()[-1]
        kinds = {"Condition", "AllergyIntolerance", "Observation"}
        expected = [r for r in served.exported if r["resourceType"] in kinds]
        got: list[dict[str, Any]] = []
        for kind in sorted({r["resourceType"] for r in expected}):
            page = httpx.get(f"{url}/{kind}?patient={served.fhir_id}&_count=500", timeout=600)
            assert page.status_code == 200, page.text
            got += [e["resource"] for e in page.json().get("entry", [])]
        key = {(r["resourceType"], r["id"]): r for r in expected}
        assert {(r["resourceType"], r["id"]): r for r in got} == key
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=10)


def test_fhir_serve_refuses_an_account_whose_reads_could_not_open(
    served: Served, anvil_url: str, tmp_path: Path
) -> None:
    """A ``dev:N`` account gets a fresh identity key each run: registered as a provider by an
    earlier run, it could open no record (key bundles and custodian re-encryptions are bound to
    the registered key), so the server refuses to start rather than answer every read with 500."""
    served.cw.consortium.providers.register(served.cw.ml.dev_party(5), name="Dev Clinic")
    manifest = tmp_path / "manifest.json"
    served.cw.ml.manifest.save(manifest)
    run = run_subprocess(
        ["fhir", "serve", "--as", "dev:5", "--rpc", anvil_url, "--store", str(served.store),
         "--manifest", str(manifest), "--links", str(served.mapping)],
        {"MEDLEDGER_HOME": str(tmp_path / "home")},
    )  # fmt: skip
    assert run.exit_code != 0
    assert "another encryption key" in run.stderr
    assert "listening on" not in run.stdout


def test_custodians_down_is_503_transient_and_the_access_stays_logged(served: Served) -> None:
    """Two of three custodians down (k = 2): custodial records cannot be opened; the EHR gets
    503 with a transient OperationOutcome (retry), not a 500, and the reads it asked for are on
    the chain's log."""
    cw = served.cw
    logged = len(cw.clinic.contract.get_events("AccessRecorded"))
    for proc in cw.custodians[:2]:
        proc.stop()
    try:
        response = httpx.get(
            f"{served.hospital}/Patient/{served.fhir_id}/$everything",
            headers={PURPOSE_HEADER: "TREAT"},
            timeout=600,
        )
        assert response.status_code == 503
        assert response.headers["retry-after"] == "30"
        issue = check(response.json())["issue"][0]
        assert issue["code"] == "transient"
        assert "CustodiansUnavailable" in issue["diagnostics"]
        assert len(cw.clinic.contract.get_events("AccessRecorded")) > logged
    finally:
        for proc in cw.custodians[:2]:
            proc.start()
        for proc in cw.custodians[:2]:
            proc.wait_ready()
