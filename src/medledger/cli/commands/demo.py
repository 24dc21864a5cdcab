"""``medledger demo``: the reference scenario on the embedded default, narrated.

The scenario itself (the SDK calls and their expectations) is :mod:`medledger.scenario`; this
module only presents it: a narrative per step, the records, the audit trail and gas per operation.
"""

from __future__ import annotations

import tempfile
import time
from typing import Any

import click

from medledger.cli.output import emit, kv_table, plain, table, to_jsonable, when
from medledger.cli.state import connection_options, get_state


@click.command(
    epilog="""\b
Examples:
  medledger demo                 # in-process chain + temporary store; nothing to start
  medledger demo --json          # machine-readable summary
  medledger demo --rpc http://127.0.0.1:8545   # the same scenario on a running Anvil
  medledger demo --fhir          # import a Synthea patient, an EHR reads it over FHIR
  medledger demo --custodians    # then the custodian act (starts an Anvil if no --rpc)"""
)
@click.option(
    "--fhir",
    "fhir_demo",
    is_flag=True,
    help="The FHIR demo instead: import a Synthea patient ($MEDLEDGER_SYNTHEA), then an EHR "
    "reads the chart back through the FHIR API (embedded chain).",
)
@click.option(
    "--custodians",
    "with_custodians",
    is_flag=True,
    help="Add the custodian act (3 custodian services, k=2; needs an RPC chain).",
)
@connection_options
def demo(fhir_demo: bool, with_custodians: bool) -> None:
    """Play the reference scenario: consent, reads, break-glass, expiry, revocation, audit.

    A clinic adds allergy and lab records; the patient grants a specialist 30 days of labs; the
    specialist reads; an ER doctor opens 24 h break-glass; 25 h later the ER is denied; the
    patient revokes the specialist, who cannot read a later lab; the audit trail verifies.
    Uses a fresh in-process chain and a temporary store unless --rpc/--store are given.
    """
    state = get_state()
    if fhir_demo:
        _fhir_demo(state.json)
        return
    human = not state.json
    con = _console() if human else None
    started = time.monotonic()
    node = None
    if with_custodians and state.rpc is None:
        from medledger.nodes import start_anvil

        node = start_anvil()  # custodians check every request against a node of their own
        state.rpc = node.url
    try:
        _demo(state, con, started, with_custodians)
    finally:
        if node is not None:
            node.stop()


def _demo(state: Any, con: Any, started: float, with_custodians: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="medledger-demo-") as tmp:
        from medledger.client import Medledger
        from medledger.scenario import Step, run_reference_scenario

        if con is not None:
            con.print("[bold]medledger demo[/]: the reference scenario, narrated\n")
        where = "embedded chain (in-process py-evm)" if state.rpc is None else state.rpc
        store = state.store or tmp
        if con is not None:
            con.print(f"Chain: {where}; record store: {store}. Deploying the contracts ...")
        t0 = time.monotonic()
        if state.rpc is None:
            ml = Medledger.embedded(store_dir=store)
        else:
            ml = Medledger.open(rpc=state.rpc, store=store, manifest=state.manifest, deploy=True)
        deploy_s = time.monotonic() - t0
        if con is not None:
            con.print(f"Contracts ready in {deploy_s:.1f} s.\n")
        counter = [0]

        def on_step(step: Step) -> None:
            counter[0] += 1
            if con is None:
                return
            mark = "[green]✓[/]" if step.ok else "[red]✗[/]"
            con.print(f"{mark} [bold]{counter[0]}. {step.title}[/]")
            con.print(f"   {step.narrative}", highlight=False)
            details = _details_for_humans(step.details)
            if details:
                from rich.padding import Padding

                con.print(Padding(kv_table(details), (0, 0, 0, 3)), style="dim")
            con.print()

        result = run_reference_scenario(ml, on_step=on_step)
        act: list[Any] = []
        if with_custodians:
            act = _custodian_act(ml, con, on_step)
        elapsed = time.monotonic() - started
        names = {addr.lower(): role for role, addr in result.parties.items()}
        summary = _summary(result, names, elapsed, deploy_s)
        if with_custodians:
            summary["custodian_act"] = [
                {"title": s.title, "ok": s.ok, "details": to_jsonable(s.details)} for s in act
            ]
            summary["ok"] = summary["ok"] and all(s.ok for s in act)
        if con is None:
            emit(True, summary)
            return
        _print_trail(con, summary)
        _print_gas(con, summary["gas"])
        con.print(
            f"\n[bold green]All {len(result.steps) + len(act)} steps passed[/] in {elapsed:.1f} s "
            f"(deploy {deploy_s:.1f} s). Every access above is an on-chain event; no health "
            "data ever went on-chain."
        )


def _fhir_demo(as_json: bool) -> None:
    from medledger.cli.output import note
    from medledger.fhir.api.demo import run_fhir_demo

    result = run_fhir_demo(say=(lambda _m: None) if as_json else note)
    if as_json:
        emit(True, result)
    else:
        rb, un = result["read_back"], result["unconsented"]
        click.echo(
            f"EHR read back {rb['resources']} resources through the FHIR API, {rb['identical']} "
            f"identical to the export; $everything returned {result['everything_entries']} "
            f"entries; an unconsented provider got HTTP {un['status']}: {un['reason']}"
        )
        click.echo(
            ("All checks passed" if result["ok"] else "CHECKS FAILED")
            + f" in {result['seconds']} s."
        )
    if not result["ok"]:
        raise SystemExit(1)


def _custodian_act(ml: Any, con: Any, on_step: Any) -> list[Any]:
    from medledger.scenario_custodians import LocalCustodians, run_custodian_act

    if con is not None:
        con.print("[bold]The custodian act[/]: starting 3 custodian services ...\n")
    custodians = LocalCustodians.start(ml, ml.session(ml.dev_party(0)))
    try:
        return run_custodian_act(ml, custodians, on_step=on_step)
    finally:
        custodians.stop()


def _console() -> Any:
    from medledger.cli.output import console

    return console(markup=True)  # the scenario's own constant names and titles only


def _details_for_humans(details: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in details.items():
        if key == "records" and isinstance(value, list):
            out[key] = "; ".join(f"{str(r['category']).lower()} {r['cid']}" for r in value)
        elif key in {"valid_until", "expires_at"} and isinstance(value, int):
            out[key] = when(value)
        elif isinstance(value, str) and value.isupper():
            out[key] = value.lower()  # enum names such as DENIED_NO_CONSENT
        elif isinstance(value, dict):
            out[key] = ", ".join(f"{k}={v}" for k, v in value.items())
        else:
            out[key] = value
    return out


def _summary(result: Any, names: dict[str, str], elapsed: float, deploy_s: float) -> dict[str, Any]:
    from medledger.cli.views import entry_row

    entries = []
    for entry in result.audit.entries:
        row = entry_row(entry)
        row["accessor_role"] = names.get(row["accessor"].lower(), "?")
        entries.append(row)
    gas = {
        op: {
            "count": len(values),
            "min": min(values),
            "max": max(values),
            "avg": round(sum(values) / len(values)),
            "total": sum(values),
        }
        for op, values in result.gas.items()
        if values
    }
    return {
        "ok": result.ok,
        "patient_id": result.patient_id,
        "parties": result.parties,
        "steps": [
            {"title": s.title, "ok": s.ok, "details": to_jsonable(s.details)} for s in result.steps
        ],
        "audit": {"verified": bool(result.audit.verified), "entries": entries},
        "gas": gas,
        "seconds": round(elapsed, 2),
        "deploy_seconds": round(deploy_s, 2),
    }


def _print_trail(con: Any, summary: dict[str, Any]) -> None:
    rows = [
        (
            e["seq"],
            when(e["time"]),
            e["accessor_role"],
            (e["record_id"] or "-")[:12] + "…" if e["record_id"] else "-",
            e["purpose"],
            plain(e["outcome"], "green" if e["allowed"] else "red"),
        )
        for e in summary["audit"]["entries"]
    ]
    con.print(
        table(
            ["#", "chain time", "who", "record", "purpose", "outcome"],
            rows,
            title=f"Audit trail of patient #{summary['patient_id']} (from on-chain events)",
        )
    )
    if summary["audit"]["verified"]:
        con.print(
            "[green]Hash chain verified[/]: recomputed from the events, it equals the "
            "on-chain head, so no entry was dropped or altered.\n"
        )
    else:
        con.print("[red]Hash chain NOT verified[/]\n")


def _print_gas(con: Any, gas: dict[str, dict[str, int]]) -> None:
    rows = [
        (op, g["count"], f"{g['avg']:,}", f"{g['min']:,}", f"{g['max']:,}") for op, g in gas.items()
    ]
    con.print(
        table(["operation", "calls", "avg gas", "min", "max"], rows, title="Gas used per operation")
    )
