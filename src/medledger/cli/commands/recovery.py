"""``medledger recovery``: guardian recovery of a patient's controller key."""

from __future__ import annotations

from typing import Any

import click

from medledger.cli.output import emit, kv_table, to_jsonable, when
from medledger.cli.parsing import parse_duration, split_names
from medledger.cli.state import connection_options, get_state, sdk_options
from medledger.cli.views import tx_facts


@click.group()
def recovery() -> None:
    """Guardian recovery: guardians approve a new controller key; it takes effect after a delay.

    \b
    Examples:
      medledger recovery set-guardians --as alice bob carol dave --threshold 2 --delay 2d
      medledger recovery approve 1 0xNewKey --as bob
      medledger recovery status 1
      medledger recovery execute 1 --as dev:0        # anyone, once the delay has passed
      medledger recovery cancel --as alice           # the current controller objects
    """


@recovery.command("set-guardians")
@click.argument("guardians", nargs=-1, required=True)
@click.option("--threshold", type=int, required=True, help="Approvals needed (1..guardians).")
@click.option("--delay", metavar="DURATION", required=True, help="Waiting period, e.g. 2d.")
@sdk_options
def set_guardians(guardians: tuple[str, ...], threshold: int, delay: str) -> None:
    """Name up to 10 GUARDIANS (addresses or key names) who can recover your identity."""
    from medledger.cli import resolve

    addresses = [resolve.address(g) for g in split_names(guardians)]
    wait = parse_duration(delay)
    state = get_state()
    receipt = state.session().recovery.set_guardians(addresses, threshold, wait)
    data = {
        "guardians": addresses,
        "threshold": threshold,
        "delay": int(wait.total_seconds()),
        **tx_facts(receipt),
    }
    emit(state.json, data, lambda con: con.print(kv_table(data, title="guardians set")))


@recovery.command()
@click.argument("patient_id", type=int)
@click.argument("new_controller")
@sdk_options
def approve(patient_id: int, new_controller: str) -> None:
    """As a guardian, approve NEW_CONTROLLER for PATIENT_ID."""
    from medledger.cli import resolve

    address = resolve.address(new_controller)
    state = get_state()
    receipt = state.session().recovery.approve(patient_id, address)
    data = {"patient_id": patient_id, "new_controller": address, **tx_facts(receipt)}
    emit(state.json, data, lambda con: con.print(f"approved {address} for patient {patient_id}"))


@recovery.command()
@click.argument("patient_id", type=int)
@sdk_options
def accept(patient_id: int) -> None:
    """As the scheduled candidate (--as), take over PATIENT_ID once the delay has passed."""
    state = get_state()
    receipt = state.session().recovery.accept(patient_id)
    data = {"patient_id": patient_id, **tx_facts(receipt)}
    emit(state.json, data, lambda con: con.print(f"recovery of patient {patient_id} executed"))


@recovery.command(hidden=True)
@click.argument("patient_id", type=int)
@sdk_options
def execute(patient_id: int) -> None:
    """v1 name of ``recovery accept``."""
    state = get_state()
    receipt = state.session().recovery.accept(patient_id)
    data = {"patient_id": patient_id, **tx_facts(receipt)}
    emit(state.json, data, lambda con: con.print(f"recovery of patient {patient_id} executed"))


@recovery.command()
@sdk_options
def cancel() -> None:
    """As the current controller, cancel a pending recovery of your identity."""
    state = get_state()
    receipt = state.session().recovery.cancel()
    emit(state.json, tx_facts(receipt), lambda con: con.print("pending recovery cancelled"))


@recovery.command()
@click.argument("patient_id", type=int)
@connection_options
def status(patient_id: int) -> None:
    """Guardians, threshold, delay and any pending recovery of PATIENT_ID (read-only)."""
    state = get_state()
    ml = state.medledger()
    guardians = ml.guardians(patient_id)
    pending = ml.pending_recovery(patient_id)
    # v2: approvals are per candidate; the leading candidate of the current round (scheduled
    # once it reaches the threshold)
    contract = ml.deployment.medledger
    candidates = {
        str(e.args["candidate"])
        for e in contract.get_events("RecoveryApproved", argument_filters={"patientId": patient_id})
        if int(e.args["round"]) == pending.round
    }
    tally = {c: contract.recovery_approvals(patient_id, c) for c in sorted(candidates)}
    leader = pending.candidate if int(pending.candidate, 16) != 0 else None
    if leader is None and any(tally.values()):
        leader = max(tally, key=lambda c: tally[c])
    is_pending = leader is not None
    data: dict[str, Any] = {
        "patient_id": patient_id,
        "controller": ml.patient(patient_id).controller,
        "guardians": list(guardians.guardians),
        "threshold": guardians.threshold,
        "delay": guardians.delay,
        "pending": is_pending,
        "new_controller": leader,
        "approvals": tally.get(leader, 0) if leader is not None else 0,
        "round": pending.round,
        "executable_at": pending.executable_at or None,
        "expires_at": pending.expires_at or None,
        "cancel_votes": pending.cancel_votes,
        "chain_now": ml.now(),
    }

    def human(con: Any) -> None:
        view = dict(data)
        view["executable_at"] = when(data["executable_at"])
        view["chain_now"] = when(data["chain_now"])
        con.print(kv_table(to_jsonable(view), title=f"recovery of patient {patient_id}"))

    emit(state.json, data, human)
