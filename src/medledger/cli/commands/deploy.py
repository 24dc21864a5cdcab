"""``medledger deploy``: deploy the contracts with the SDK (no ApeWorx needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from medledger.cli.output import emit, kv_table
from medledger.cli.state import connection_options, get_state


@click.command(
    epilog="""\b
Examples:
  medledger deploy --rpc http://127.0.0.1:8545            # -> deployments/31337.json
  medledger deploy --rpc http://127.0.0.1:8545 --manifest prod.json"""
)
@connection_options
def deploy() -> None:
    """Deploy MedLedger + AnchorRegistry and write the deployment manifest.

    The manifest defaults to deployments/<chainId>.json in the current directory. If it already
    names the contracts on this chain, nothing is sent. The deployer (dev account 0 on dev
    chains) becomes the consortium owner of the provider registry.
    """
    from medledger.cli.nodeproc import rpc_call
    from medledger.cli.views import contract_addresses
    from medledger.errors import ChainUnavailable

    state = get_state()
    conn = state.connection()
    if conn.rpc is None:
        raise ChainUnavailable(
            "no chain to deploy to", hint="pass --rpc URL, or run `medledger node start`"
        )
    manifest = conn.manifest
    if manifest is None:
        chain_id = int(rpc_call(conn.rpc, "eth_chainId"), 16)
        manifest = str(Path("deployments") / f"{chain_id}.json")
    existed = Path(manifest).exists()
    state.manifest = manifest
    ml = state.medledger(deploy=True)
    data: dict[str, Any] = {
        "chain_id": ml.chain.chain_id,
        "rpc": conn.rpc,
        "manifest": manifest,
        "deployed": not existed,
        "owner": ml.manifest.owner,
        "contracts": contract_addresses(ml),
    }
    emit(state.json, data, lambda con: con.print(kv_table(data, title="deployment")))
