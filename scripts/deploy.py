"""Deploy the medledger suite and write the deployment manifest.

    ape run deploy --network ethereum:local:foundry

Deploys MedLedger (consortium owner = the deployer), AnchorRegistry, then CustodianRegistry.
If ``MEDLEDGER_CONSORTIUM_OWNER`` is set, starts the Ownable2Step transfers to that address (it
must call ``acceptOwnership()`` on MedLedger and CustodianRegistry; until then ``owner`` in the
manifest is the deployer). Writes the manifest to ``$MEDLEDGER_MANIFEST`` or
``deployments/<chainId>.json``.

Account: ``accounts.test_accounts[0]`` on local networks, else the ape account alias in
``MEDLEDGER_DEPLOYER``. The manifest's ``artifactsHash`` fingerprints the exported SDK artifacts
(``medledger.chain.artifacts.artifacts_hash()``); the script refuses to deploy bytecode that
differs from those artifacts, so the manifest never names artifacts other than the deployed ones.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from ape import accounts, chain, networks, project
from ape.cli import ConnectedProviderCommand, network_option

from medledger.chain.artifacts import (
    CUSTODIANS,
    SUITE,
    artifacts_hash,
    load_artifact,
    stale_sources,
)

ROOT = Path(__file__).resolve().parent.parent
MANIFEST_FORMAT = "medledger-deployment/1"


def _deployer() -> Any:
    network = networks.provider.network
    if network.is_local:
        return accounts.test_accounts[0]
    alias = os.environ.get("MEDLEDGER_DEPLOYER")
    if not alias:
        raise click.UsageError("set MEDLEDGER_DEPLOYER to an ape account alias for live networks")
    return accounts.load(alias)


def _check_artifacts() -> str:
    """artifactsHash, after checking the exported artifacts match what ape compiled."""
    stale = stale_sources(ROOT)
    if stale:
        raise click.ClickException(
            "exported artifacts are stale (run `make artifacts`): " + "; ".join(stale)
        )
    for name in SUITE + CUSTODIANS:
        compiled = getattr(project, name).contract_type.deployment_bytecode.bytecode
        if load_artifact(name).bytecode.lower() != str(compiled).lower():
            raise click.ClickException(
                f"{name}: src/medledger/artifacts differs from ape's build (run `make artifacts`)"
            )
    return artifacts_hash()


def _entry(contract: Any) -> dict[str, Any]:
    txn_hash = str(contract.txn_hash)  # ape records the creating transaction on deploy
    receipt = chain.provider.get_receipt(txn_hash)
    block = int(receipt.block_number)
    return {"address": str(contract.address), "block": block, "txHash": txn_hash}


def _manifest_path(chain_id: int) -> Path:
    override = os.environ.get("MEDLEDGER_MANIFEST")
    return Path(override) if override else ROOT / "deployments" / f"{chain_id}.json"


@click.command(cls=ConnectedProviderCommand)
@network_option()
def cli(network: Any) -> None:
    """Deploy MedLedger, AnchorRegistry and CustodianRegistry and write the manifest."""
    hash_hex = _check_artifacts()
    deployer = _deployer()
    consortium = os.environ.get("MEDLEDGER_CONSORTIUM_OWNER")

    ledger = deployer.deploy(project.MedLedger, deployer)
    anchors = deployer.deploy(project.AnchorRegistry)
    custodians = deployer.deploy(project.CustodianRegistry, ledger.address, deployer)
    if consortium:
        ledger.transferOwnership(consortium, sender=deployer)
        custodians.transferOwnership(consortium, sender=deployer)
        click.echo(f"ownership transfer to {consortium} started: it must call acceptOwnership()")

    contracts = {
        "MedLedger": _entry(ledger),
        "AnchorRegistry": _entry(anchors),
        "CustodianRegistry": _entry(custodians),
    }
    provider = networks.provider
    manifest = {
        "format": MANIFEST_FORMAT,
        "chainId": int(chain.chain_id),
        "network": f"{provider.network.ecosystem.name}:{provider.network.name}:{provider.name}",
        "deployBlock": min(c["block"] for c in contracts.values()),
        "artifactsHash": hash_hex,
        "owner": str(ledger.owner()),
        "deployedAt": datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "contracts": contracts,
    }
    path = _manifest_path(manifest["chainId"])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)  # atomic: a failed run never leaves a half-written manifest
    click.echo(f"MedLedger      {ledger.address}")
    click.echo(f"AnchorRegistry {anchors.address}")
    click.echo(f"Custodians     {custodians.address}")
    click.echo(f"manifest       {path}")
