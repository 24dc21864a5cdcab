"""FHIR import of the Synthea set (issue 17): wall time, resources/s, gas per resource.

Run: python benchmarks/fhir_import.py [--chain anvil|embedded] [--patients N] [--json]

Default: the local stack ``medledger node start`` runs (Anvil, embedded record store), the
importing provider registers each patient on the fly (``--register``: one registration, one
keyring and one grant per patient, timed apart as set-up) and then imports. ``--chain embedded``
uses the in-process py-evm chain instead. Set MEDLEDGER_SYNTHEA to read another copy.
No assertions: figures go to benchmarks/RESULTS.md ("FHIR import").
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from medledger.client import Medledger
from medledger.fhir import sample
from medledger.fhir.importer import Importer
from medledger.fhir.journal import Journal
from medledger.fhir.patients import PatientMap, Registrar
from medledger.fhir.plan import scan
from medledger.fhir.reader import Source
from medledger.fhir.sample import patient_ids, subset
from medledger.nodes import start_anvil

SYNTHEA = sample.location()


def run(chain: str = "anvil", patients: int | None = None) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="medledger-bench-fhir-"))
    node = start_anvil() if chain == "anvil" else None
    try:
        source_dir = (
            SYNTHEA if patients is None else subset(SYNTHEA, patient_ids(SYNTHEA)[:patients], tmp)
        )
        t0 = time.perf_counter()
        plan = scan(Source(source_dir))
        scan_s = time.perf_counter() - t0
        store = tmp / "store"
        if node is not None:
            ml = Medledger.open(rpc=node.url, store=str(store), deploy=True)
        else:
            ml = Medledger.embedded(store_dir=store)
        consortium, clinic = ml.session(ml.dev_party(0)), ml.session(ml.dev_party(2))
        consortium.providers.register(clinic.party, name="Bench Clinic")
        mapping = PatientMap.load(tmp / "patients.json")
        registrar = Registrar(ml, clinic.address)
        t1 = time.perf_counter()
        for fhir_id in sorted({k.patient.removeprefix("Patient/") for k in plan.groups}):
            mapping.add(fhir_id, registrar.register(fhir_id))
        setup_s = time.perf_counter() - t1
        scope = {"chain_id": ml.chain.chain_id, "contract": "bench", "author": clinic.address}
        with Journal.open(tmp / "journal", scope) as journal:
            summary = Importer(clinic, Source(source_dir), journal, mapping).run()
        with Journal.open(tmp / "journal", scope) as journal:
            t2 = time.perf_counter()
            rerun = Importer(clinic, Source(source_dir), journal, mapping).run()
            rerun_s = time.perf_counter() - t2
        ml.close()
        s = summary.as_dict()
        return {
            "chain": chain,
            "cpus": os.cpu_count(),
            "patients": s["patients"],
            "resources": s["resources_added"],
            "records": s["records_added"],
            "resources_per_record": round(s["resources_added"] / max(1, s["records_added"]), 2),
            "transactions": s["transactions"],
            "gas_used": s["gas_used"],
            "gas_per_resource": s["gas_per_resource"],
            "scan_s": round(scan_s, 2),
            "patient_setup_s": round(setup_s, 2),
            "import_s": s["seconds"],
            "resources_per_s": s["resources_per_second"],
            "total_s": round(scan_s + setup_s + summary.seconds, 2),
            "rerun_s": round(rerun_s, 2),
            "rerun_added": rerun.records_added,
        }
    finally:
        if node is not None:
            node.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chain", choices=("anvil", "embedded"), default="anvil")
    parser.add_argument("--patients", type=int, default=None, help="import only the first N")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.chain, args.patients)
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
    else:
        for key, value in result.items():
            print(f"{key:>22}: {value}")


if __name__ == "__main__":
    main()
