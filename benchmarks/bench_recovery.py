"""Gas and wall time of a full guardian recovery (issue 15), step by step.

Run: python benchmarks/bench_recovery.py [--rpc URL --store URL]   (no assertions)

The patient has records in four categories, two grantees and an emergency kit, and a 2-of-3
guardian set (one paper guardian); the new device recovers with one sealed reshare and the paper
share. Default: a fresh in-process chain and a temporary embedded store.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from medledger import Medledger, Session
from medledger.client import Party

DELAY = 86_400


def _fresh(ml: Medledger) -> Session:
    party = Party.generate()
    ml.fund(party.address, 10**18)
    return ml.session(party)


def run(ml: Medledger) -> list[tuple[str, int, float]]:
    consortium = ml.session(ml.dev_party(0))
    clinic, specialist, er, g1, g2, g3, patient = (_fresh(ml) for _ in range(7))
    for s, name in ((clinic, "Clinic"), (specialist, "Specialist"), (g1, "Family doctor")):
        consortium.providers.register(s.party, name=name)
    consortium.providers.register(er.party, name="ER", emergency_responder=True)
    g2.identity.register()
    pid = patient.identity.register().patient_id
    year = timedelta(days=365)
    patient.consent.grant(clinic.address, ["labs", "allergies", "vitals"], duration=year)
    patient.consent.grant(specialist.address, ["labs", "medications"], duration=year)
    patient.emergency.configure(responders=[er.address])
    for cat in ("labs", "allergies", "medications", "vitals"):
        patient.records.add(pid, f"{cat} record".encode(), cat)
    rows: list[tuple[str, int, float]] = []

    def step(name: str, fn: Callable[[], Any], gas: Callable[[Any], int]) -> Any:
        t0 = time.perf_counter()
        out = fn()
        rows.append((name, gas(out), time.perf_counter() - t0))
        return out

    setup = step(
        "setup (split, seal, setGuardians)",
        lambda: patient.recovery.setup(
            [g1.address, g2.address, g3.address], 2, DELAY, paper=[g3.address]
        ),
        lambda r: r.tx.gas_used,
    )
    words = setup.paper_shares[g3.address]
    device = _fresh(ml)
    req = step("request (new device)", lambda: device.recovery.request(pid), lambda r: 0)
    step("approve (guardian 1)", lambda: g1.recovery.approve_request(req.request_id), _gas)
    step("reshare (guardian 1)", lambda: g1.recovery.reshare(req.request_id), _gas)
    step("approve (guardian 3, paper)", lambda: g3.recovery.approve_request(req.request_id), _gas)
    ml.increase_time(DELAY + 1)
    step(
        "complete (check shares, accept, rotate, new shares)",
        lambda: device.recovery.complete(pid, paper_shares=[words]),
        lambda r: r.gas_used,
    )
    return rows


def _gas(tx: Any) -> int:
    return int(tx.gas_used)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--rpc", default=None, help="JSON-RPC URL of a dev chain (default: embedded)"
    )
    parser.add_argument("--store", default=None, help="IPFS RPC URL (default: embedded)")
    args = parser.parse_args()
    with Medledger.open(args.rpc, store=args.store, deploy=True) as ml:
        rows = run(ml)
    print("| step | gas | wall (s) |\n|---|---:|---:|")
    for name, gas, wall in rows:
        print(f"| {name} | {gas:,} | {wall:.2f} |")
    recovery = rows[1:]
    total_gas = sum(g for _, g, _ in recovery)
    total_wall = sum(w for _, _, w in recovery)
    print(f"| **recovery (request .. complete)** | **{total_gas:,}** | **{total_wall:.2f}** |")


if __name__ == "__main__":
    main()
