"""The whole Synthea set through the CLI, killed with SIGKILL mid-batch, resumed, re-run.

One real ``medledger import fhir`` process is killed right after it journalled a batch and
before that batch was registered; a second run must settle the batch (unpin its orphans) and
finish; a third must add nothing. The end state must be exactly a clean import's: one record per
planned group, each holding the group's resources, nothing pinned that the chain does not
reference, and on average at most 15,000 gas per imported resource. Then an EHR reads all 13
patients back through the FHIR API with a FHIR client nobody here wrote.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import ForbiddenError

from helpers.cli import SRC
from helpers.fhir_import import World
from helpers.fhir_serve import check, synthea_resources
from medledger.client import Party
from medledger.fhir import records
from medledger.fhir.api import PURPOSE_HEADER, FhirLinks, create_app
from medledger.fhir.journal import Journal
from medledger.fhir.plan import scan
from medledger.fhir.reader import Source
from medledger.services.runner import BackgroundServer

GAS_PER_RESOURCE = 15_000


def _cli(world: World, url: str, tmp: Path, src: Path, *extra: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "MEDLEDGER_HOME": str(tmp / "home"),
    }
    for var in ("MEDLEDGER_PROFILE", "MEDLEDGER_ACCOUNT", "MEDLEDGER_RPC", "MEDLEDGER_STORE"):
        env.pop(var, None)
    args = [
        sys.executable, "-m", "medledger.cli", "import", "fhir", str(src),
        "--rpc", url, "--store", str(world.store_dir),
        "--manifest", str(tmp / "manifest.json"), "--as", "dev:7",
        "--patients", str(tmp / "patients.json"), "--journal", str(tmp / "journal"),
        "--batch", "128", "--json", *extra,
    ]  # fmt: skip
    return subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _finish(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    result: dict[str, Any] = json.loads(out)
    return result


def _pins(world: World) -> int:
    path = world.store_dir / "pins"
    return len(path.read_text().split()) if path.exists() else 0


def _kill_mid_batch(world: World, proc: subprocess.Popen[str], journal: Path, after: int) -> None:
    """SIGKILL once ``after`` batches are done and a later one is announced and stored (its
    records pinned, all at once: one ``put_many``) but not registered. A batch whose pins were
    not seen before it was registered is passed over for the next one."""
    deadline = time.monotonic() + 600
    watched, announced = None, 0  # the intent line watched, and the pin count when it was seen
    while time.monotonic() < deadline and proc.poll() is None:
        lines = journal.read_text().splitlines() if journal.exists() else []
        done = sum('"op":"done"' in line for line in lines)
        if done >= after and lines and '"op":"intent"' in lines[-1]:
            if watched != lines[-1]:
                watched, announced = lines[-1], _pins(world)
            elif _pins(world) > announced:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                return
        time.sleep(0.01)
    pytest.fail(f"the import ended or stalled before its batch {after + 1} was being stored")


def test_kill_resume_rerun_whole_synthea_set(
    world: World, anvil_url: str, synthea: Path, tmp_path: Path
) -> None:
    world.ml.manifest.save(tmp_path / "manifest.json")
    source = Source(synthea)
    plan = scan(source)
    # the hospital's mapping: each patient enrolled beforehand and granted the clinic write
    mapping = {}
    for ref in sorted({k.patient for k in plan.groups}):
        patient = world.ml.session(Party.generate("x25519"))
        world.ml.fund(patient.address, 10**18)
        pid = patient.identity.register().patient_id
        patient.consent.grant(
            world.clinic.address,
            categories=["allergies", "medications", "conditions", "notes", "immunizations",
                        "procedures"],
            purposes=["treatment"],
            actions=["read", "write"],
            duration=86400,
        )  # fmt: skip
        mapping[ref.removeprefix("Patient/")] = pid
    (tmp_path / "patients.json").write_text(json.dumps(mapping))
    pins_before = world.ml.store.pins()

    first = _cli(world, anvil_url, tmp_path, synthea)
    _kill_mid_batch(world, first, tmp_path / "journal", after=3)
    resumed = _finish(_cli(world, anvil_url, tmp_path, synthea))
    assert resumed["interrupted_batches"] == 1
    assert resumed["orphans_unpinned"] > 0  # the killed batch's stored records, unregistered
    assert resumed["records_already_imported"] >= 3  # the three batches done before the kill
    again = _finish(_cli(world, anvil_url, tmp_path, synthea))
    assert again["records_added"] == 0
    assert again["records_already_imported"] == len(plan.groups) == 3346

    scope = {"chain_id": world.ml.chain.chain_id, "contract": world.ml.deployment.medledger.address,
             "author": world.clinic.address}  # fmt: skip
    with Journal.open(tmp_path / "journal", scope) as journal:
        assert journal.uncertain == {}
        done = dict(journal.done)
    assert set(done) == {k.digest() for k in plan.groups}
    # exactly one record per group, on-chain, by the clinic; nothing else
    events = world.clinic.contract.get_events("RecordAdded")
    assert len(events) == len(plan.groups)
    assert {bytes(e.args["recordId"]) for e in events} == {e.cid.digest for e in done.values()}
    assert all(e.args["author"] == world.clinic.address for e in events)
    # no orphaned pin: everything pinned since is a registered record
    assert world.ml.store.pins() - pins_before == {e.cid for e in done.values()}
    # each record holds its group's resources (the digest of the packed group)
    for key, group in plan.groups.items():
        members = sorted(group.members, key=lambda m: (m[0], m[1]))
        packed = records.pack(source.load(i) for _, _, i in members)
        assert done[key.digest()].content == hashlib.sha256(packed).hexdigest()
    # and what is stored decrypts to it (one patient read in full, through the SDK)
    pid = min(mapping.values())
    mine = [e for e in done.values() if e.patient_id == pid]
    for start in range(0, len(mine), 256):
        chunk = mine[start : start + 256]
        datas = world.clinic.access.read_many(
            [e.cid.digest for e in chunk], "treatment", patient_id=pid
        )
        got = Counter(hashlib.sha256(d).hexdigest() for d in datas if isinstance(d, bytes))
        assert got == Counter(e.content for e in chunk)
        assert all(records.is_fhir(d) for d in datas if isinstance(d, bytes))
    # gas: every registration transaction of the three runs, over every resource imported
    txs = {e.tx_hash for e in events}
    gas = sum(int(world.ml.chain.w3.eth.get_transaction_receipt(t)["gasUsed"]) for t in txs)
    assert gas / plan.resources <= GAS_PER_RESOURCE, gas / plan.resources
    _an_ehr_reads_every_resource_back(world, tmp_path / "patients.json", set(mapping))


def _an_ehr_reads_every_resource_back(world: World, mapping: Path, fhir_ids: set[str]) -> None:
    """The clinic serves the FHIR API on the import's patient mapping; an EHR using fhirpy (a
    FHIR client nobody here wrote) fetches each of the 13 patients' ``$everything``: every
    imported resource comes back field for field, every response valid R4 (fhir.resources and
    the HL7 schema); a provider without consent gets 403 for each patient."""
    stranger = world.ml.session(world.ml.dev_party(8))
    world.ml.session(world.ml.dev_party(0)).providers.register(stranger.party, name="Elsewhere")
    exported = synthea_resources(fhir_ids)
    links = FhirLinks.load(mapping)
    servers = [
        BackgroundServer(create_app(world.ml, s, links)).start() for s in (world.clinic, stranger)
    ]
    try:
        ehr, other = (
            SyncFHIRClient(s.url, extra_headers={PURPOSE_HEADER: "TREAT"}) for s in servers
        )
        for fhir_id in sorted(fhir_ids):
            bundle = check(ehr.execute(f"Patient/{fhir_id}/$everything", method="get"))
            got = [
                e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] != "Patient"
            ]
            expected = [r for r in exported[fhir_id] if r["resourceType"] != "Patient"]
            assert _canonical(got) == _canonical(expected), fhir_id
            with pytest.raises(ForbiddenError):
                other.execute(f"Patient/{fhir_id}/$everything", method="get")
    finally:
        for s in servers:
            s.stop()


def _canonical(resources: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True) for r in resources)
