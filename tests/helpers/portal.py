"""The portal tests' world: a seeded patient on a real Anvil, the portal served on a background
thread, and a check that no two on-screen labels overlap."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from medledger.client import Medledger, Party, Session
from medledger.crypto import Keystore, ScryptParams
from medledger.fhir.records import pack
from medledger.nodes import NodeProcess, start_anvil
from medledger.portal import PortalConfig, create_app
from medledger.services.runner import BackgroundServer

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "correct horse battery staple"
ALLERGY = {
    "resourceType": "AllergyIntolerance",
    "clinicalStatus": {"coding": [{"code": "active"}]},
    "code": {"coding": [{"system": "http://snomed.info/sct", "code": "91936005",
                         "display": "Allergy to penicillin"}]},
    "criticality": "high",
}  # fmt: skip
LAB = {
    "resourceType": "Observation",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4",
                         "display": "Hemoglobin A1c/Hemoglobin.total in Blood"}]},
    "valueQuantity": {"value": 6.1, "unit": "%"},
}  # fmt: skip
SCAN = b"DICM\x00\x01synthetic scan bytes, not a FHIR resource"


@dataclass
class World:
    """A deployment with a patient (key in a keystore file), three providers and history."""

    node: NodeProcess
    ml: Medledger
    store: Path
    keystore: Path
    patient: Session
    clinic: Party
    lab: Party
    er: Party
    pid: int

    def as_provider(self, party: Party) -> Session:
        """A provider acting from its own deployment object (as another program would)."""
        other = Medledger.open(rpc=self.node.url, store=str(self.store), manifest=self.ml.manifest)
        return other.session(party)


def seed(tmp: Path, *, records: bool = True) -> World:
    node = start_anvil(log_dir=tmp)
    store = tmp / "store"
    ml = Medledger.open(rpc=node.url, store=str(store), deploy=True)
    registry, patient = ml.session(ml.dev_party(0)), ml.session(ml.dev_party(1))
    clinic, lab, er = ml.dev_party(2), ml.dev_party(3), ml.dev_party(4)
    registry.providers.register(clinic, name="Riverside Family Clinic")
    registry.providers.register(lab, name="Northside Lab")
    registry.providers.register(er, name="City General Emergency Dept.", emergency_responder=True)
    pid = patient.identity.register().patient_id
    patient.emergency.configure(responders=[er.address])
    if records:
        patient.consent.grant(
            clinic.address, ["allergies", "labs", "imaging"], ["treatment"], ["read", "write"],
            duration=timedelta(days=365),
        )  # fmt: skip
        c = ml.session(clinic)
        allergy = c.records.add(pid, pack([ALLERGY]), category="allergies")
        c.records.add(pid, json.dumps(LAB).encode(), category="labs")
        c.records.add(pid, SCAN, category="imaging")
        c.access.read(allergy.record_id, purpose="treatment")
    path = tmp / "patient.json"
    keys = ml.dev_party(1)
    Keystore.create(
        PASSWORD, keys.account, identity_key=keys.identity, scrypt=ScryptParams.LIGHT
    ).save(path)
    return World(node, ml, store, path, patient, clinic, lab, er, pid)


def serve(world: World, tmp: Path, **config: object) -> BackgroundServer:
    app = create_app(
        world.ml,
        PortalConfig(world.keystore, "patient", state_dir=tmp / "state", **config),  # type: ignore[arg-type]
    )
    return BackgroundServer(app).start()


def overlapping(page: Any, selector: str) -> list[tuple[str, str]]:
    """Pairs of elements matching ``selector`` whose on-screen boxes intersect."""
    boxes = page.evaluate(
        f"""() => [...document.querySelectorAll({selector!r})].map(el => {{
            const r = el.getBoundingClientRect();
            return [el.textContent, r.left, r.right, r.top, r.bottom]; }})"""
    )
    out = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            if a[1] < b[2] and b[1] < a[2] and a[3] < b[4] and b[3] < a[4]:
                out.append((a[0], b[0]))
    return out
