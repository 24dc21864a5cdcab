"""`ape run deploy` against a running Anvil writes a manifest the SDK loads and uses.

The deploy goes through ApeWorx (the build/deploy tool); the SDK then works from the manifest
alone, without ApeWorx, against the same node.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from medledger.chain.artifacts import artifacts_hash
from medledger.client import Medledger

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.anvil
def test_ape_deploy_script_manifest_is_loaded_by_the_sdk(anvil_url: str, tmp_path: Path) -> None:
    manifest = tmp_path / "deployment.json"
    env = {
        **os.environ,
        "APE_FOUNDRY_HOST": anvil_url,  # attach to the running node instead of starting one
        "MEDLEDGER_MANIFEST": str(manifest),
        "SOLCX_BINARY_PATH": str(ROOT / ".solcx"),
        "APE_DATA_FOLDER": str(ROOT / ".ape"),
        "PATH": f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    ape = Path(sys.executable).with_name("ape")
    done = subprocess.run(
        [str(ape), "run", "deploy", "--network", "ethereum:local:foundry"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(manifest.read_text())
    assert data["format"] == "medledger-deployment/1"
    assert data["chainId"] == 31337
    assert data["artifactsHash"] == artifacts_hash()
    assert set(data["contracts"]) == {"MedLedger", "AnchorRegistry", "CustodianRegistry"}

    ml = Medledger.open(rpc=anvil_url, store=tmp_path / "store", manifest=manifest)
    assert ml.deployment.medledger.address == data["contracts"]["MedLedger"]["address"]
    consortium = ml.session(ml.dev_party(0))
    patient = ml.session(ml.dev_party(1))
    clinic = ml.session(ml.dev_party(2))
    consortium.providers.register(clinic.party, name="Clinic")
    pid = patient.identity.register().patient_id
    patient.consent.grant(clinic.address, ["labs"], ["treatment"], ["read", "write"], duration=3600)
    rec = clinic.records.add(pid, b"lab result", "labs")
    assert clinic.access.read(rec.record_id, "treatment") == b"lab result"
    assert patient.audit.trail().verified
