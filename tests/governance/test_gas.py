"""Gas of each governance action (receipt gasUsed), asserted as exact upper bounds.

Safe transactions carry two owner signatures (2-of-3). Calldata holds random salts and
signatures, so figures move by a few hundred gas between runs; the bounds leave that room.
benchmarks/bench_governance.py measures the same actions on Anvil for RESULTS.md.
"""

from __future__ import annotations

from eth_account import Account

from helpers.governance import Gov, execute, register_proposal, signed

BOUNDS = {
    "create Safe proxy (3 owners)": 310_000,
    "setSuspenderAccount (bootstrap)": 49_500,
    "transferOwnership (bootstrap)": 49_500,
    "Safe: schedule registerProvider": 121_000,
    "Safe: execute registerProvider": 194_000,
    "Safe: suspendProvider (immediate)": 72_500,
    "Safe: schedule reinstateProvider": 96_500,
    "Safe: execute reinstateProvider": 90_000,
    "Safe: schedule updateProvider (responder)": 98_500,
    "Safe: execute updateProvider (responder)": 95_500,
    "custodians transferOwnership (bootstrap)": 48_500,
    "Safe: schedule registerCustodian": 99_500,
    "Safe: execute registerCustodian": 161_000,
    "Safe: schedule removeCustodian": 96_500,
    "Safe: execute removeCustodian": 89_000,
}


def test_governance_gas(gov: Gov) -> None:
    c = gov.consortium
    measured = {
        "create Safe proxy (3 owners)": gov.setup.gas["create Safe proxy"],
        "setSuspenderAccount (bootstrap)": gov.setup.gas["setSuspenderAccount"],
        "transferOwnership (bootstrap)": gov.setup.gas["transferOwnership"],
        "custodians transferOwnership (bootstrap)": gov.setup.gas["custodians transferOwnership"],
    }
    clinic, p = register_proposal(gov, 3, False)
    measured["Safe: schedule registerProvider"] = execute(gov, signed(gov, p, 0, 1))
    gov.ml.increase_time(c.timelock.min_delay() + 1)
    run = signed(gov, c.propose_execute(p), 0, 1)
    measured["Safe: execute registerProvider"] = execute(gov, run)
    s = signed(gov, c.propose_suspend(clinic), 1, 2)
    measured["Safe: suspendProvider (immediate)"] = execute(gov, s)
    r = signed(gov, c.propose_reinstate(clinic), 0, 2)
    measured["Safe: schedule reinstateProvider"] = execute(gov, r)
    u = signed(gov, c.propose_update(clinic, True, "Clinic"), 0, 1)
    measured["Safe: schedule updateProvider (responder)"] = execute(gov, u)
    gov.ml.increase_time(c.timelock.min_delay() + 1)
    measured["Safe: execute reinstateProvider"] = execute(
        gov, signed(gov, c.propose_execute(r), 1, 2)
    )
    measured["Safe: execute updateProvider (responder)"] = execute(
        gov, signed(gov, c.propose_execute(u), 0, 2)
    )
    custodian = Account.create().address
    rc = signed(
        gov, c.propose_register_custodian(custodian, "Regional HIE", "https://hie.example/c"), 1, 2
    )
    measured["Safe: schedule registerCustodian"] = execute(gov, rc)
    gov.ml.increase_time(c.timelock.min_delay() + 1)
    measured["Safe: execute registerCustodian"] = execute(
        gov, signed(gov, c.propose_execute(rc), 0, 1)
    )
    rm = signed(gov, c.propose_remove_custodian(custodian), 0, 2)
    measured["Safe: schedule removeCustodian"] = execute(gov, rm)
    gov.ml.increase_time(c.timelock.min_delay() + 1)
    measured["Safe: execute removeCustodian"] = execute(
        gov, signed(gov, c.propose_execute(rm), 1, 2)
    )
    print("\n| governance action | gas used | bound |\n|---|---:|---:|")
    for name, gas in measured.items():
        print(f"| {name} | {gas:,} | {BOUNDS[name]:,} |")
    for name, gas in measured.items():
        assert gas <= BOUNDS[name], f"{name}: {gas} > {BOUNDS[name]}"
