"""Shared pieces of the FHIR import tests: where the Synthea export is, subsets of it, the world.

The Synthea export is read where the shared data lives; a CI clone elsewhere points
MEDLEDGER_SYNTHEA at its copy. Tests copy what they change into a temporary folder.
(A module of its own, not the conftest: several test folders have a conftest, and
``from conftest import`` would find whichever was imported first.)
"""

from __future__ import annotations

import json
import os
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


@dataclass
class World:
    ml: Medledger
    clinic: Session
    store_dir: Path
