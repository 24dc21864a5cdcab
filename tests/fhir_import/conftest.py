"""Fixtures of the FHIR import tests: the Synthea export (read in place), subsets, a deployment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.fhir_import import World, synthea_dir
from medledger.client import Medledger
from medledger.fhir.sample import resource_counts


@pytest.fixture(scope="session")
def synthea() -> Path:
    return synthea_dir()


@pytest.fixture(scope="session")
def smallest(synthea: Path) -> list[str]:
    """The two Synthea patients with the fewest resources (keeps most tests fast)."""
    counts = resource_counts(synthea)
    return sorted(counts, key=lambda p: counts[p])[:2]


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
