"""Shipped artifacts: loading, fingerprint, and staleness against contracts/ (no ape needed)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import export_artifacts  # tools/ (pytest pythonpath)
import pytest

from medledger import errors as mle
from medledger.chain.artifacts import (
    EXPORTED,
    SUITE,
    artifacts_hash,
    hash_artifacts,
    load_artifact,
    stale_sources,
)

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_artifacts_match_the_solidity_sources() -> None:
    """Fails when contracts/**/*.sol changed after the last export: run `make artifacts`."""
    assert stale_sources(ROOT) == []


def test_load_artifact_has_abi_and_bytecode() -> None:
    ml = load_artifact("MedLedger")
    assert ml.name == "MedLedger"
    assert ml.bytecode.startswith("0x")
    assert len(ml.bytecode) > 10_000  # the real contract, not an interface stub
    assert len(ml.deployed_bytecode) > 2
    assert {"grant", "recordAccess", "logHead"} <= {e["name"] for e in ml.abi_entries("function")}
    assert ml.compiler["version"] == "0.8.28"
    assert any(p.startswith("contracts/interfaces/") for p in ml.source_hashes)
    with pytest.raises(mle.InvalidInput):
        load_artifact("NoSuchContract")
    with pytest.raises(mle.InvalidInput):
        load_artifact("../../etc/passwd")


def test_artifacts_hash_is_over_the_shipped_files() -> None:
    folder = ROOT / "src/medledger/artifacts"
    docs = {n: json.loads((folder / f"{n}.json").read_text()) for n in SUITE}
    assert artifacts_hash() == hash_artifacts(docs)
    docs["AnchorRegistry"]["bytecode"] += "00"
    assert hash_artifacts(docs) != artifacts_hash()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of contracts/ and ape's .build/ manifest, to edit without touching the repo."""
    if not (ROOT / ".build/__local__.json").is_file():
        pytest.skip("needs `ape compile` output (.build/) to export from")
    shutil.copytree(
        ROOT / "contracts", tmp_path / "contracts", ignore=shutil.ignore_patterns(".cache")
    )
    (tmp_path / ".build").mkdir()
    shutil.copy(ROOT / ".build/__local__.json", tmp_path / ".build/__local__.json")
    return tmp_path


def test_export_then_check_detects_every_kind_of_staleness(project: Path) -> None:
    tool = export_artifacts
    out = project / "artifacts"
    try:
        tool.export(project, out)
    except tool.ExportError as exc:  # the repo's .build is itself older than contracts/
        pytest.skip(str(exc))
    assert tool.check(project, out) == []
    assert stale_sources(project, out) == []

    lib = project / "contracts/libraries/Codes.sol"
    lib.write_text(lib.read_text() + "\n// edited\n")
    problems = stale_sources(project, out)
    assert problems == [
        f"{n}: contracts/libraries/Codes.sol changed after the export" for n in EXPORTED
    ]
    assert any(".build/ is older" in p for p in tool.check(project, out))

    (project / "contracts/New.sol").write_text("// SPDX-License-Identifier: MIT\n")
    assert any("New.sol was added" in p for p in stale_sources(project, out))
    (project / "contracts/MedLedger.sol").unlink()
    assert any("MedLedger.sol was deleted" in p for p in stale_sources(project, out))

    (out / "AnchorRegistry.json").unlink()
    assert any("AnchorRegistry.json is missing" in p for p in stale_sources(project, out))


def test_check_detects_edited_artifact_file(project: Path) -> None:
    tool = export_artifacts
    out = project / "artifacts"
    try:
        tool.export(project, out)
    except tool.ExportError as exc:
        pytest.skip(str(exc))
    doc = json.loads((out / "MedLedger.json").read_text())
    doc["bytecode"] = doc["bytecode"][:-2] + "ff"
    (out / "MedLedger.json").write_text(json.dumps(doc))
    assert any("differs from the current" in p for p in tool.check(project, out))
    assert tool.main(["--check"]) in (0, 1)  # runs against the real repo without raising
