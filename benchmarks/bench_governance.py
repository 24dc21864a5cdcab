"""Gas of each consortium governance action on Anvil (issue 19): the Safe + timelock set-up and
every registry change as the 2-of-3 Safe transaction that carries it.

    python benchmarks/bench_governance.py [--json]

Each figure is the receipt ``gasUsed`` of one transaction. Safe transactions carry two owner
signatures; calldata holds random salts and signatures, so figures move by a few hundred gas
between runs (tests/governance/test_gas.py asserts the bounds).

``run(quick=False) -> dict`` starts and stops its own Anvil; ``markdown(result)`` renders it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from eth_account import Account

from common import anvil_deployment, md_table
from medledger.governance import Proposal

WEEK = 7 * 86_400


def run(quick: bool = False) -> dict[str, Any]:
    rows: list[tuple[str, int, int]] = []  # (action, gas, transactions)
    with anvil_deployment("gov") as dep:
        ml = dep.ml
        owners = sorted((Account.create() for _ in range(3)), key=lambda a: int(a.address, 16))
        setup = dep.consortium.consortium.create([o.address for o in owners], 2)
        c = setup.consortium
        for name, gas in setup.gas.items():
            txs = 2 if "schedule+execute" in name else 4 if "renounces" in name else 1
            txs = 3 if "singleton" in name else txs
            rows.append((f"set-up: {name}", gas, txs))
        members = ml.session(ml.dev_party(1))

        def send(p: Proposal, label: str, *signers: int) -> None:
            for i in signers:
                p = c.sign(p, owners[i])
            rows.append((label, members.consortium.execute(p).gas_used, 1))

        provider = ml.session(dep.new_party())
        ks = provider.providers.sign_key(deadline=ml.now() + WEEK)
        reg = members.consortium.propose_register(ks, "City ER", True)
        send(reg, "Safe: schedule registerProvider (responder)", 0, 1)
        ml.increase_time(c.timelock.min_delay() + 1)
        send(c.propose_execute(reg), "Safe: execute registerProvider (after 48 h)", 1, 2)
        send(c.propose_suspend(provider.address), "Safe: suspendProvider (immediate)", 0, 2)
        back = c.propose_reinstate(provider.address)
        send(back, "Safe: schedule reinstateProvider", 0, 1)
        upd = c.propose_update(provider.address, False, "City ER")
        send(upd, "Safe: schedule updateProvider (responder flag)", 0, 1)
        ml.increase_time(c.timelock.min_delay() + 1)
        send(c.propose_execute(back), "Safe: execute reinstateProvider", 0, 2)
        send(c.propose_execute(upd), "Safe: execute updateProvider", 1, 2)
        send(
            c.propose_transfer_ownership(dep.consortium.address),
            "Safe: schedule transferOwnership",
            0,
            1,
        )
    return {"rows": [{"action": a, "gas": g, "transactions": t} for a, g, t in rows]}


def markdown(result: dict[str, Any]) -> str:
    return md_table(
        ["governance action", "transactions", "gas used"],
        [[r["action"], r["transactions"], f"{r['gas']:,}"] for r in result["rows"]],
        "lrr",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    result = run()
    print(json.dumps(result, indent=2) if args.json else markdown(result))


if __name__ == "__main__":
    main()
