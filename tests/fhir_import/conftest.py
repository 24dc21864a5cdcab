"""Fixtures of the FHIR import tests: the Synthea export (read in place), subsets, a deployment.

The Synthea export is read where the shared data lives; a CI clone elsewhere points
MEDLEDGER_SYNTHEA at its copy. Tests copy what they change into a temporary folder.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from medledger.client import Medledger, Session

DEFAULT_SYNTHEA = "/work/shared/data/synthea-10"


def synthea_dir() -> Path:
    path = Path(os.environ.get("MEDLEDGER_SYNTHEA", DEFAULT_SYNTHEA))
    if not (path / "Patient.000.ndjson").is_file():
        pytest.fail(
            f"the Synthea export is missing at {path}: set MEDLEDGER_SYNTHEA to the directory "
            "holding Patient.000.ndjson (see /work/shared/data/synthea-10/README.md)"
        )
    return path


@pytest.fixture(scope="session")
def synthea() -> Path:
    return synthea_dir()


def patient_ids(root: Path) -> list[str]:
    with open(root / "Patient.000.ndjson", encoding="utf-8") as fh:
        return [json.loads(line)["id"] for line in fh]


def subset(root: Path, ids: list[str], into: Path) -> Path:
    """A Bulk Data directory with only ``ids``' Patients and the lines that reference them."""
    into.mkdir(parents=True, exist_ok=True)
    refs = tuple(f'"Patient/{i}"' for i in ids)
    for src in sorted(root.glob("*.ndjson")):
        with open(src, encoding="utf-8") as fh, open(into / src.name, "w", encoding="utf-8") as out:
            for line in fh:
                if src.name.startswith("Patient."):
                    if json.loads(line)["id"] in ids:
                        out.write(line)
                elif any(r in line for r in refs):
                    out.write(line)
    return into


@pytest.fixture(scope="session")
def smallest(synthea: Path) -> list[str]:
    """The two Synthea patients with the fewest resources (keeps most tests fast)."""
    counts = dict.fromkeys(patient_ids(synthea), 0)
    for src in synthea.glob("*.ndjson"):
        with open(src, encoding="utf-8") as fh:
            for line in fh:
                for pid in counts:
                    if f'"Patient/{pid}"' in line:
                        counts[pid] += 1
                        break
    return sorted(counts, key=lambda p: counts[p])[:2]


@dataclass
class World:
    ml: Medledger
    clinic: Session
    store_dir: Path


@pytest.fixture(scope="module")
def world(anvil_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A fresh deployment on the session's Anvil, an embedded store, a registered provider."""
    store = tmp_path_factory.mktemp("store")
    ml = Medledger.open(rpc=anvil_url, store=str(store), deploy=True)
    consortium = ml.session(ml.dev_party(0))
    clinic = ml.session(ml.dev_party(7))
    consortium.providers.register(clinic.party, name="Synthea General")
    try:
        yield World(ml, clinic, store)
    finally:
        ml.close()
