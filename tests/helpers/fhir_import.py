"""Shared pieces of the FHIR import tests: where the Synthea export is, subsets of it, the world.

The Synthea export is read where the shared data lives; a CI clone elsewhere points
MEDLEDGER_SYNTHEA at its copy. Tests copy what they change into a temporary folder.
(A module of its own, not the conftest: several test folders have a conftest, and
``from conftest import`` would find whichever was imported first.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from medledger.client import Medledger, Session
from medledger.errors import InvalidInput
from medledger.fhir import sample
from medledger.fhir.sample import patient_ids, subset

__all__ = ["World", "patient_ids", "subset", "synthea_dir"]


def synthea_dir() -> Path:
    try:
        return sample.synthea_dir()
    except InvalidInput as exc:
        pytest.fail(f"{exc} ({exc.hint}; see /work/shared/data/synthea-10/README.md)")


@dataclass
class World:
    ml: Medledger
    clinic: Session
    store_dir: Path
