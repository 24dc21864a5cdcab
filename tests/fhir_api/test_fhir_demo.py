"""`medledger demo --fhir` as a newcomer runs it: the smallest Synthea patient imported, read back
by an EHR over plain HTTP, and refused to a provider without consent."""

from __future__ import annotations

import json
from pathlib import Path

from helpers.cli import run_subprocess
from helpers.fhir_import import synthea_dir


def test_fhir_demo_reads_back_every_resource(tmp_path: Path) -> None:
    env = {"MEDLEDGER_HOME": str(tmp_path / "home"), "MEDLEDGER_SYNTHEA": str(synthea_dir())}
    run = run_subprocess(["demo", "--fhir", "--json"], env, timeout=900)  # slow on a busy CI
    assert run.exit_code == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["ok"] is True
    read_back = summary["read_back"]
    assert read_back["resources"] > 0
    assert read_back["identical"] == read_back["resources"]
    assert summary["unconsented"]["status"] == 403
    assert "no consent" in summary["unconsented"]["reason"]
