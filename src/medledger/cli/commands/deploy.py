"""``medledger deploy``: deploy the contracts with the SDK (no ApeWorx needed)."""

from __future__ import annotations

from typing import Any

import click

from medledger.cli.output import emit, kv_table
from medledger.cli.state import connection_options, get_state


@click.command(epilog="""\b
Examples:
  medledger deploy --rpc http://127.0.0.1:8545 --manifest deployments/31337.json""")
@connection_options
def deploy() -> None:
    """Deploy MedLedger + AnchorRegistry where none is deployed yet and write the manifest.

    If the manifest already names live contracts on this chain, nothing is sent.
    """
    from medledger.cli.commands.node import _contracts

    state = get_state()
    ml = state.medledger(deploy=True)
    conn = state.connection()
    data: dict[str, Any] = {
        "chain_id": ml.chain.chain_id,
        "rpc": conn.rpc,
        "manifest": conn.manifest,
        "contracts": _contracts(ml),
    }
    emit(state.json, data, lambda con: con.print(kv_table(data, title="deployment")))
