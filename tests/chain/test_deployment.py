"""deploy_suite, the manifest file and load_deployment's safety checks."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from helpers.chain import fresh_sender
from medledger import errors as mle
from medledger.chain import Chain, Deployment, Manifest, connect, deploy_suite, load_deployment
from medledger.chain.artifacts import artifacts_hash


def test_manifest_has_exactly_the_documented_shape(suite: Deployment, tmp_path: Path) -> None:
    path = tmp_path / "deploy" / "manifest.json"
    suite.manifest.save(path)
    data = json.loads(path.read_text())
    assert list(data) == [
        "format", "chainId", "network", "deployBlock", "artifactsHash", "owner", "deployedAt",
        "contracts",
    ]  # fmt: skip
    assert data["format"] == "medledger-deployment/1"
    assert data["chainId"] == suite.chain.chain_id
    assert data["network"] == "embedded"
    assert data["artifactsHash"] == artifacts_hash()
    assert data["deployedAt"].endswith("Z")
    assert set(data["contracts"]) == {"MedLedger", "AnchorRegistry", "CustodianRegistry"}
    for c in data["contracts"].values():
        assert set(c) == {"address", "block", "txHash"}
    assert data["deployBlock"] == data["contracts"]["MedLedger"]["block"]
    assert Manifest.load(path) == suite.manifest


def test_manifest_without_custodian_registry_still_loads(suite: Deployment) -> None:
    """Manifests written before custodian mode (issue 16) bind with no CustodianRegistry."""
    data = suite.manifest.to_json()
    del data["contracts"]["CustodianRegistry"]
    old = load_deployment(suite.chain, Manifest.from_json(data))
    assert old.custodians is None
    assert suite.custodians is not None
    assert suite.custodians.med_ledger() == suite.medledger.address
    assert suite.custodians.owner() == suite.manifest.owner


def test_owner_defaults_to_deployer_and_can_be_set(embedded_chain: Chain) -> None:
    admin, consortium = embedded_chain.dev_accounts()[:2]
    d = deploy_suite(embedded_chain, admin, owner=consortium.address)
    assert d.manifest.owner == consortium.address
    assert d.medledger.owner() == consortium.address
    assert d.medledger.has_code()
    assert d.anchors.has_code()


def test_load_deployment_round_trip(suite: Deployment, tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    suite.manifest.save(path)
    loaded = load_deployment(suite.chain, path)
    assert loaded.medledger.address == suite.medledger.address
    assert loaded.medledger.patient_count() == 0


def test_wrong_chain_is_deployment_not_found(suite: Deployment) -> None:
    other = replace(suite.manifest, chain_id=suite.manifest.chain_id + 1)
    with pytest.raises(mle.DeploymentNotFound, match="chain"):
        load_deployment(suite.chain, other)


def test_missing_code_is_deployment_not_found(suite: Deployment) -> None:
    fresh = connect()  # same chain id, empty state: as after a dev node restart
    with pytest.raises(mle.DeploymentNotFound, match="no contract code"):
        load_deployment(fresh, suite.manifest)


def test_artifacts_hash_mismatch_raises_unless_allowed(suite: Deployment) -> None:
    stale = replace(suite.manifest, artifacts_hash="00" * 32)
    with pytest.raises(mle.IntegrityError):
        load_deployment(suite.chain, stale)
    with pytest.warns(UserWarning, match="other contract artifacts"):
        d = load_deployment(suite.chain, stale, allow_mismatch=True)
    assert d.medledger.address == suite.medledger.address


def test_manifest_errors_are_typed(tmp_path: Path) -> None:
    with pytest.raises(mle.DeploymentNotFound):
        Manifest.load(tmp_path / "absent.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(mle.InvalidInput):
        Manifest.load(bad)
    bad.write_text(json.dumps({"format": "medledger-deployment/1", "chainId": 1}))
    with pytest.raises(mle.InvalidInput):
        Manifest.load(bad)
    bad.write_text(json.dumps({"format": "other/9"}))
    with pytest.raises(mle.InvalidInput, match="format"):
        Manifest.load(bad)


def test_failed_save_leaves_the_old_manifest(suite: Deployment, tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    suite.manifest.save(path)
    before = path.read_text()
    broken = replace(suite.manifest, chain_id=object())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        broken.save(path)
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


@pytest.mark.anvil
def test_deploy_on_anvil(anvil_chain: Chain) -> None:
    deployer = fresh_sender(anvil_chain)
    d = deploy_suite(anvil_chain, deployer.account)
    assert d.manifest.chain_id == 31337
    assert d.manifest.network == "anvil"
    assert load_deployment(anvil_chain, d.manifest).medledger.owner() == deployer.address
