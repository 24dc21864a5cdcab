"""FHIR API (issue 17, serving): ``$everything`` latency for the largest Synthea patient and
single-resource reads/s, over HTTP, on Anvil.

Run: python benchmarks/fhir_api.py [--patient FHIR_ID] [--runs 3] [--reads 50] [--json]

The patient's resources are imported by ``medledger.fhir.importer`` (one record per patient x
category x encounter, docs/fhir.md; the patient registered on the fly); the provider's
API (``medledger.fhir.api.create_app``) is served on a background uvicorn thread and read with
httpx. Every read is a real logged read (one ``recordAccess`` per resource read,
``recordAccessBatch`` of up to 256 records per ``$everything`` batch). No assertions: figures go
to benchmarks/RESULTS.md ("FHIR API"). Set MEDLEDGER_SYNTHEA to read another copy.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from medledger.client import Medledger
from medledger.fhir import sample
from medledger.fhir.api import FhirLinks, create_app
from medledger.fhir.importer import Importer
from medledger.fhir.journal import Journal
from medledger.fhir.patients import PatientMap, Registrar
from medledger.fhir.reader import Source
from medledger.fhir.sample import subset
from medledger.nodes import start_anvil
from medledger.services.runner import BackgroundServer

SYNTHEA = sample.location()
#: The largest patient of the set (3,489 resources).
LARGEST = "79a66c97-6131-3213-f3c9-4606946ab056"


def _subset(fhir_id: str, into: Path) -> list[dict[str, Any]]:
    """The patient's lines of the export, copied to ``into``; its resources, parsed."""
    subset(SYNTHEA, [fhir_id], into)
    out: list[dict[str, Any]] = []
    for path in sorted(into.glob("*.ndjson")):
        with path.open(encoding="utf-8") as fh:
            out += [json.loads(line) for line in fh]
    return out


def run(fhir_id: str = LARGEST, runs: int = 3, reads: int = 50) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="medledger-bench-fhirapi-"))
    resources = _subset(fhir_id, tmp / "export")
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    node = start_anvil()
    try:
        ml = Medledger.open(rpc=node.url, store=str(tmp / "store"), deploy=True)
        consortium, hospital = (ml.session(ml.dev_party(i)) for i in (0, 2))
        consortium.providers.register(hospital.party, name="General Hospital")
        t0 = time.perf_counter()
        mapping = PatientMap.load(tmp / "patients.json")
        scope = {"chain_id": ml.chain.chain_id, "contract": "bench", "author": hospital.address}
        with Journal.open(tmp / "journal", scope) as journal:
            summary = Importer(
                hospital, Source(tmp / "export"), journal, mapping,
                registrar=Registrar(ml, hospital.address),
            ).run()  # fmt: skip
        load_s = time.perf_counter() - t0
        links = FhirLinks.load(tmp / "patients.json")
        pid = mapping.get(fhir_id)
        assert pid is not None
        links.link_patient(fhir_id, pid, patient)
        timeline = hospital.records.timeline(pid)
        stored = sum(len(ml.store.get(r.cid)) for r in timeline)
        clinical = len(resources) - 1
        with BackgroundServer(create_app(ml, hospital, links)) as srv:
            client = httpx.Client(base_url=srv.url, timeout=3600)
            everything: list[float] = []
            n = 0
            for i in range(runs):
                t = time.perf_counter()
                resp = client.get(f"/Patient/{fhir_id}/$everything")
                everything.append(time.perf_counter() - t)
                resp.raise_for_status()
                n = len(resp.json()["entry"])
                print(f"$everything run {i + 1}: {everything[-1]:.2f} s", file=sys.stderr)
            sample = [r for r in resources if r["resourceType"] == "Condition"][:reads]
            t = time.perf_counter()
            for r in sample:
                client.get(f"/Condition/{r['id']}").raise_for_status()
            read_s = time.perf_counter() - t
        return {
            "patient": fhir_id,
            "resources": clinical,
            "records": len(timeline),
            "import_seconds": round(load_s, 1),
            "import_gas_per_resource": round(summary.gas_per_resource, 0),
            "sealed_bytes_per_record": round(stored / len(timeline)),
            "sealed_bytes_per_resource": round(stored / clinical),
            "everything_entries": n,
            "everything_seconds": [round(s, 2) for s in everything],
            "everything_p50_seconds": round(statistics.median(everything), 2),
            "single_reads": len(sample),
            "single_reads_per_second": round(len(sample) / read_s, 1),
        }
    finally:
        node.stop()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patient", default=LARGEST)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--reads", type=int, default=50)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    out = run(args.patient, args.runs, args.reads)
    if args.json:
        print(json.dumps(out, indent=2))
        return
    for k, v in out.items():
        print(f"{k:28} {v}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
