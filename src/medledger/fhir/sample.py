"""The sample FHIR Bulk Data export (Synthea, 13 synthetic patients) the FHIR demo, tests and
benchmarks read in place, and the subsets they cut from it.

Where it is: ``$MEDLEDGER_SYNTHEA``, default ``/work/shared/data/synthea-10``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from medledger.errors import InvalidInput

DEFAULT_LOCATION = "/work/shared/data/synthea-10"


def location() -> Path:
    """Where the export is expected (not checked)."""
    return Path(os.environ.get("MEDLEDGER_SYNTHEA", DEFAULT_LOCATION))


def synthea_dir() -> Path:
    """The export's directory; InvalidInput with a hint when it is not there."""
    path = location()
    if not (path / "Patient.000.ndjson").is_file():
        raise InvalidInput(
            f"no Synthea Bulk Data export at {path}",
            hint="set MEDLEDGER_SYNTHEA to a directory holding Patient.000.ndjson",
        )
    return path


def patient_ids(root: Path) -> list[str]:
    """The export's Patient ids, in file order."""
    with open(root / "Patient.000.ndjson", encoding="utf-8") as fh:
        return [json.loads(line)["id"] for line in fh]


def resource_counts(root: Path) -> dict[str, int]:
    """How many resources of the export reference each patient."""
    counts = dict.fromkeys(patient_ids(root), 0)
    for src in root.glob("*.ndjson"):
        with open(src, encoding="utf-8") as fh:
            for line in fh:
                for pid in counts:
                    if f'"Patient/{pid}"' in line:
                        counts[pid] += 1
                        break
    return counts


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
