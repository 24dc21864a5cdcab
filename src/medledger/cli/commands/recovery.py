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
    """Guardian recovery: guardians hold key shares and approve a new device; it takes over
    after a delay, rebuilds the keys from M shares and rotates them.

    \b
    Patient, once:
      medledger recovery setup --as alice --guardians bob,carol,dave --threshold 2 --paper dave
    New device (every run continues where the last one stopped):
      medledger keys create alice-phone
      medledger recovery complete 1 --as alice-phone     # prints the request id for guardians
    Each guardian:
      medledger recovery approve --request 0xREQ --as bob
      medledger recovery reshare --request 0xREQ --as bob
    A paper guardian approves, then types its words in on the new device (--paper).
      medledger recovery status 1
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
@click.argument("patient_id", type=int, required=False)
@click.argument("new_controller", required=False)
@click.option("--request", "request_id", metavar="ID", help="A recovery request id (0x...).")
@sdk_options
def approve(patient_id: int | None, new_controller: str | None, request_id: str | None) -> None:
    """As a guardian, approve the new device of a recovery request (--request ID, its
    signature checked), or NEW_CONTROLLER for PATIENT_ID."""
    from medledger.cli import resolve
    from medledger.errors import InvalidInput

    state = get_state()
    session = state.session()
    if request_id is not None:
        req = session.recovery.load_request(request_id)
        patient_id, address = req.patient_id, req.candidate
        receipt = session.recovery.approve_request(request_id)
    elif patient_id is not None and new_controller is not None:
        address = resolve.address(new_controller)
        receipt = session.recovery.approve(patient_id, address)
    else:
        raise InvalidInput("give --request ID (or PATIENT_ID NEW_CONTROLLER)")
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


#: ``recovery execute``, the v1 name of ``recovery accept`` (hidden; same options and code)
execute = click.Command(
    "execute",
    callback=accept.callback,
    params=accept.params,
    help="v1 name of ``recovery accept``.",
    hidden=True,
)
recovery.add_command(execute)


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
    posted = sorted(
        {
            str(e.args["guardian"])
            for e in contract.get_events(
                "RecoveryShareSent", argument_filters={"patientId": patient_id}
            )
            if int(e.args["round"]) == pending.round and pending.started_at
        }
    )
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
        "key_shares": "0x" + guardians.shares.hex() if any(guardians.shares) else None,
        "shares_posted": posted,
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


# --- key shares (issue 15) -----------------------------------------------------------------------


def _print_paper(con: Any, paper: dict[str, str]) -> None:
    """Paper shares go to the terminal once; nothing else keeps them."""
    for guardian, words in paper.items():
        con.print(f"\n[bold]paper share for guardian {guardian}[/bold] (write it down, then clear")
        con.print("the screen: it is printed this once and stored nowhere):")
        numbered = words.split()
        for i in range(0, len(numbered), 5):
            con.print(
                "  " + "  ".join(f"{i + j + 1:>2}. {w}" for j, w in enumerate(numbered[i : i + 5]))
            )


@recovery.command()
@click.option(
    "--guardians",
    "guardian_names",
    multiple=True,
    required=True,
    help="Guardians (addresses or key names, comma-separated), at most 10.",
)
@click.option("--threshold", type=int, required=True, help="Shares (and approvals) needed.")
@click.option(
    "--delay",
    metavar="DURATION",
    default="7d",
    show_default=True,
    help="Waiting period before a recovery can complete (1d .. 90d).",
)
@click.option(
    "--paper",
    "paper_names",
    multiple=True,
    help="Guardians that get a printed mnemonic share instead of a sealed one.",
)
@sdk_options
def setup(
    guardian_names: tuple[str, ...], threshold: int, delay: str, paper_names: tuple[str, ...]
) -> None:
    """Set guardians with fresh M-of-N key shares of your identity (SLIP-39).

    Each guardian's share is sealed to its published key; --paper guardians get a 20-word
    mnemonic, printed here once. Running it again (guardian added or removed, new threshold)
    replaces every share: old shares stop working."""
    from medledger.cli import resolve

    guardians = [resolve.address(g) for g in split_names(guardian_names)]
    paper = [resolve.address(g) for g in split_names(paper_names)]
    state = get_state()
    info = state.session().recovery.setup(guardians, threshold, parse_duration(delay), paper=paper)
    data = {
        "patient_id": info.patient_id,
        "guardians": list(info.guardians),
        "threshold": info.threshold,
        "shares_document": "0x" + info.shares_digest.hex(),
        "paper_guardians": list(info.paper_shares),
        **tx_facts(info.tx),
    }
    if state.json:
        emit(True, {**data, "paper_shares": info.paper_shares}, lambda con: None)
        return

    def human(con: Any) -> None:
        con.print(kv_table(data, title="guardians and key shares set"))
        _print_paper(con, info.paper_shares)

    emit(False, data, human)


@recovery.command()
@click.argument("patient_id", type=int, required=False)
@click.option(
    "--paper",
    is_flag=True,
    help="Issue fresh shares to the same guardians and print the paper ones (once).",
)
@sdk_options
def shares(patient_id: int | None, paper: bool) -> None:
    """Show who holds a key share (nothing secret); --paper re-issues every share and prints the
    paper guardians' new mnemonics (the old ones stop working)."""
    state = get_state()
    if not paper:  # who holds a share is public: no key is unlocked
        pid = state.own_patient_id() if patient_id is None else patient_id
        set_ = state.reader().recovery.shares(pid)
        rows = {e.guardian: ("paper" if e.paper else "sealed") for e in set_.entries}
        data = {"patient_id": set_.patient_id, "threshold": set_.threshold, "shares": rows}
        emit(state.json, data, lambda con: con.print(kv_table(data, title="guardian key shares")))
        return
    session = state.session()
    pid = session.identity.patient_id()
    g = session.contract.get_guardians(pid)
    current = session.recovery.shares(pid)
    kinds = [e.guardian for e in current.entries if e.paper]
    if not kinds:
        from medledger.errors import InvalidInput

        raise InvalidInput(
            "no guardian of this set holds a paper share",
            hint="name paper guardians with `recovery setup --paper`",
        )
    info = session.recovery.setup(list(g.guardians), g.threshold, g.delay, paper=kinds)
    if state.json:
        emit(True, {"paper_shares": info.paper_shares, **tx_facts(info.tx)}, lambda c: None)
        return
    emit(False, {}, lambda con: _print_paper(con, info.paper_shares))


@recovery.command()
@click.option(
    "--request",
    "request_id",
    metavar="ID",
    required=True,
    help="The new device's recovery request id (0x...).",
)
@sdk_options
def reshare(request_id: str) -> None:
    """As a guardian who approved it, re-seal your key share to the new device of a request."""
    state = get_state()
    session = state.session()
    req = session.recovery.load_request(request_id)
    receipt = session.recovery.reshare(request_id)
    data = {"patient_id": req.patient_id, "candidate": req.candidate, **tx_facts(receipt)}
    emit(
        state.json,
        data,
        lambda con: con.print(f"share re-sealed to {req.candidate} for patient {req.patient_id}"),
    )


@recovery.command()
@click.argument("patient_id", type=int)
@click.option(
    "--paper",
    "paper_count",
    type=int,
    default=0,
    help="How many paper shares to type in (hidden prompt, one per share).",
)
@sdk_options
def complete(patient_id: int, paper_count: int) -> None:
    """On the new device (--as a fresh key): request, then finish the recovery of PATIENT_ID.

    \b
    Run it first to get the request id for the guardians; run it again once they approved and
    reshared (and the delay passed). It checks M shares before changing anything, takes over,
    restores the keyring and rotates the keys. Interrupted? Run it again: it continues."""
    from medledger.client.recovery import RecoveryNotReady
    from medledger.crypto.shares import NotEnoughShares

    state = get_state()
    session = state.session()
    already = session.contract.patient_of(session.address) == patient_id
    if not already:
        req = session.recovery.request(patient_id)
        # on stderr, also with --json (whose stdout stays the result document)
        click.echo(
            f"recovery request: {req.request_id}\n"
            f"guardians run: medledger recovery approve --request {req.request_id} --as NAME\n"
            f"          and: medledger recovery reshare --request {req.request_id} --as NAME",
            err=True,
        )
    words = [
        click.prompt(f"Paper share {i + 1} of {paper_count}", hide_input=True, err=True)
        for i in range(paper_count)
    ]
    try:
        done = session.recovery.complete(patient_id, paper_shares=words)
    except (NotEnoughShares, RecoveryNotReady) as exc:
        exc.hint = (exc.hint or "") + " (then run `medledger recovery complete` again)"
        raise
    data = {
        "patient_id": patient_id,
        "controller": session.address,
        "rotated_categories": list(done.rotation.rotated),
        "refreshed_grantees": list(done.rotation.refreshed),
        "rejected_shares": done.rejected,
        "transactions": len(done.rotation.txs) + (1 if done.accept_tx else 0),
        "gas_used": done.gas_used,
    }
    if state.json:
        emit(True, {**data, "paper_shares": done.rotation.paper_shares}, lambda con: None)
        return

    def human(con: Any) -> None:
        con.print(kv_table(data, title=f"patient {patient_id} recovered; keys rotated"))
        _print_paper(con, done.rotation.paper_shares)

    emit(False, data, human)
