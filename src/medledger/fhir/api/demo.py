"""``medledger demo --fhir``: import a Synthea patient, then an EHR reads the chart back through
the FHIR API (plain HTTP, as any EHR would), and an unconsented provider is refused.

Runs on the embedded chain and a temporary store; the Synthea export is read from
``$MEDLEDGER_SYNTHEA`` (default ``/work/shared/data/synthea-10``).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from medledger.client import Medledger
from medledger.fhir.api.app import create_app
from medledger.fhir.api.links import FhirLinks
from medledger.fhir.categories import CLINICAL_TYPES
from medledger.fhir.importer import Importer
from medledger.fhir.journal import Journal
from medledger.fhir.patients import PatientMap, Registrar
from medledger.fhir.reader import Source
from medledger.fhir.sample import resource_counts, subset, synthea_dir
from medledger.services.runner import BackgroundServer


def _smallest_patient(root: Path, into: Path) -> dict[str, Any]:
    """Copy the patient with the fewest resources (and only the lines about them) to ``into``;
    return its Patient resource."""
    counts = resource_counts(root)
    chosen = min(counts, key=lambda p: counts[p])
    subset(root, [chosen], into)
    with open(into / "Patient.000.ndjson", encoding="utf-8") as fh:
        found: dict[str, Any] = json.loads(fh.readline())
    return found


def _export(src: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in sorted(src.glob("*.ndjson")):
        with open(path, encoding="utf-8") as fh:
            out += [r for r in map(json.loads, fh) if r["resourceType"] in CLINICAL_TYPES]
    return out


def run_fhir_demo(say: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    """Import one Synthea patient and read it back through the API; the summary as a dict."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="medledger-fhir-demo-") as tmp_name:
        tmp = Path(tmp_name)
        patient = _smallest_patient(synthea_dir(), tmp / "export")
        fhir_id = patient["id"]
        ml = Medledger.embedded(store_dir=tmp / "store")
        consortium, hospital, clinic = (ml.session(ml.dev_party(i)) for i in (0, 2, 3))
        consortium.providers.register(hospital.party, name="Synthea General Hospital")
        consortium.providers.register(clinic.party, name="Unconsented Clinic")
        say("Providers registered; importing the smallest Synthea patient ...")
        mapping = PatientMap.load(tmp / "patients.json")
        scope = {"chain_id": ml.chain.chain_id, "contract": "demo", "author": hospital.address}
        with Journal.open(tmp / "journal", scope) as journal:
            summary = Importer(
                hospital, Source(tmp / "export"), journal, mapping,
                registrar=Registrar(ml, hospital.address),
            ).run()  # fmt: skip
        say(
            f"Imported {summary.resources} resources as {summary.records_planned} records "
            "(the patient registered and granted the hospital read + write for a year)."
        )
        links = FhirLinks.load(tmp / "patients.json")
        pid = links.patient(fhir_id)
        assert pid is not None
        links.link_patient(fhir_id, pid.patient_id, patient)  # the hospital's own MPI entry
        exported = _export(tmp / "export")
        read_back: list[dict[str, Any]] = []
        with (
            BackgroundServer(create_app(ml, hospital, links)) as api,
            BackgroundServer(create_app(ml, clinic, links)) as other,
        ):
            say(f"The hospital's FHIR API listens on {api.url}; an EHR reads the chart ...")
            ehr = httpx.Client(base_url=api.url, timeout=600)
            ehr.get("/metadata").raise_for_status()
            got_patient = ehr.get(f"/Patient/{fhir_id}").json()
            for kind in sorted({r["resourceType"] for r in exported}):
                url: str | None = f"/{kind}?patient={fhir_id}&_count=50"
                while url is not None:
                    bundle = ehr.get(url).raise_for_status().json()
                    read_back += [
                        e["resource"]
                        for e in bundle.get("entry", [])
                        if e["search"]["mode"] == "match"
                    ]
                    nxt = [lk["url"] for lk in bundle["link"] if lk["relation"] == "next"]
                    url = nxt[0].removeprefix(api.url) if nxt else None
            one = exported[0]
            by_id = ehr.get(f"/{one['resourceType']}/{one['id']}").json()
            everything = ehr.get(f"/Patient/{fhir_id}/$everything").json()
            refused = httpx.get(f"{other.url}/Patient/{fhir_id}/$everything", timeout=600)
        key = {(r["resourceType"], r["id"]): r for r in exported}
        identical = sum(1 for r in read_back if key.get((r["resourceType"], r["id"])) == r)
        result = {
            "ok": identical == len(exported) == len(read_back)
            and got_patient == patient
            and by_id == one
            and refused.status_code == 403,
            "patient": {"fhir_id": fhir_id, "patient_id": pid.patient_id},
            "imported": summary.as_dict(),
            "read_back": {"resources": len(read_back), "identical": identical},
            "everything_entries": len(everything.get("entry", [])),
            "unconsented": {
                "status": refused.status_code,
                "reason": refused.json()["issue"][0]["diagnostics"],
            },
            "seconds": round(time.monotonic() - started, 1),
        }
        ml.close()
        return result
