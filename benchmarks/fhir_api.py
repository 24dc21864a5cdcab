"""FHIR API (issue 17, serving): ``$everything`` latency for the largest Synthea patient and
single-resource reads/s, over HTTP, on Anvil.

Run: python benchmarks/fhir_api.py [--patient FHIR_ID] [--runs 3] [--reads 50] [--json]

The patient's resources are loaded by the SDK as one record per patient x category x encounter
(the importer's granularity; docs/fhir.md), by a provider with write consent; the provider's
API (``medledger.fhir.api.create_app``) is served on a background uvicorn thread and read with
httpx. Every read is a real logged read (one ``recordAccess`` per resource read,
``recordAccessBatch`` of up to 256 records per ``$everything`` batch). No assertions: figures go
to benchmarks/RESULTS.md ("FHIR API"). Set MEDLEDGER_SYNTHEA to read another copy.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from medledger.client import Medledger
from medledger.codes import Category
from medledger.fhir import records
from medledger.fhir.api import FhirLinks, create_app
from medledger.fhir.categories import category_for
from medledger.nodes import start_anvil
from medledger.services.runner import BackgroundServer

SYNTHEA = Path(os.environ.get("MEDLEDGER_SYNTHEA", "/work/shared/data/synthea-10"))
#: The largest patient of the set (3,489 resources).
LARGEST = "79a66c97-6131-3213-f3c9-4606946ab056"


def _resources(fhir_id: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    ref = f"Patient/{fhir_id}"
    for path in sorted(SYNTHEA.glob("*.ndjson")):
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if ref in line or (path.name.startswith("Patient.") and fhir_id in line):
                    r = json.loads(line)
                    if r["resourceType"] == "Patient" and r["id"] != fhir_id:
                        continue
                    out.append(r)
    return out


def _encounter(r: dict[str, Any]) -> str:
    if r["resourceType"] == "Encounter":
        return f"Encounter/{r['id']}"
    enc = r.get("encounter") or (r.get("context") or {}).get("encounter")
    if isinstance(enc, list):
        enc = enc[0] if enc else None
    return str(enc.get("reference", "")) if isinstance(enc, dict) else ""


def run(fhir_id: str = LARGEST, runs: int = 3, reads: int = 50) -> dict[str, Any]:
    resources = _resources(fhir_id)
    node = start_anvil()
    tmp = Path(tempfile.mkdtemp(prefix="medledger-bench-fhirapi-"))
    try:
        ml = Medledger.open(rpc=node.url, store=str(tmp / "store"), deploy=True)
        consortium, patient, hospital = (ml.session(ml.dev_party(i)) for i in range(3))
        consortium.providers.register(hospital.party, name="General Hospital")
        pid = patient.identity.register().patient_id
        patient.consent.grant(
            hospital.address, [c.name.lower() for c in Category], ["treatment"],
            ["read", "write"], duration=365 * 86400,
        )  # fmt: skip
        links = FhirLinks()
        groups: dict[tuple[Category, str], list[dict[str, Any]]] = {}
        for r in resources:
            if r["resourceType"] == "Patient":
                links.link_patient(r["id"], pid, r)
                continue
            cat = category_for(r)
            if cat is not None:
                groups.setdefault((cat, _encounter(r)), []).append(r)
        t0 = time.perf_counter()
        stored = 0
        for (cat, _enc), group in groups.items():
            blob = records.pack(group)
            stored += len(ml.store.get(hospital.records.add(pid, blob, cat).cid))
        load_s = time.perf_counter() - t0
        plain = sum(len(records.pack([r])) for r in resources if r["resourceType"] != "Patient")
        with BackgroundServer(create_app(ml, hospital, links)) as srv:
            client = httpx.Client(base_url=srv.url, timeout=1800)
            everything: list[float] = []
            n = 0
            for _ in range(runs):
                t = time.perf_counter()
                resp = client.get(f"/Patient/{fhir_id}/$everything")
                everything.append(time.perf_counter() - t)
                resp.raise_for_status()
                n = len(resp.json()["entry"])
            sample = [r for r in resources if r["resourceType"] == "Condition"][:reads]
            t = time.perf_counter()
            for r in sample:
                client.get(f"/Condition/{r['id']}").raise_for_status()
            read_s = time.perf_counter() - t
        return {
            "patient": fhir_id,
            "resources": len(resources),
            "records": len(groups),
            "load_seconds": round(load_s, 1),
            "sealed_bytes_per_resource": round(stored / (len(resources) - 1)),
            "plain_bytes_per_resource": round(plain / (len(resources) - 1)),
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
