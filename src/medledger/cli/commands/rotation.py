"""``rotate``: complete a pending key rotation now (issue 14 points 2 and 3)."""

from __future__ import annotations

import click

from medledger.cli.output import emit
from medledger.cli.state import get_state, sdk_options
from medledger.cli.views import tx_facts


@click.command(
    epilog="""\b
Example (after the consortium suspended one of your emergency responders):
  medledger rotate --as alice""",
)
@sdk_options
def rotate() -> None:
    """Cut off every party that lost access but still holds keys (patient).

    A revoked, narrowed or suspended grantee, a responder removed from your emergency kit or
    suspended: your records of their categories get fresh keys from now on, your other grantees
    get refreshed key bundles and the kit is resealed for active responders only. Until this
    has run, adding records and granting are refused. Sends nothing when nothing is pending.
    """
    state = get_state()
    txs = state.session().consent.complete_rotation()
    data = {"transactions": [tx_facts(tx) for tx in txs], "completed": bool(txs)}
    emit(
        state.json,
        data,
        lambda con: con.print(
            f"rotation completed ({len(txs)} transaction(s))" if txs else "nothing to rotate"
        ),
    )
