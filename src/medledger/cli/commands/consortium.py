"""``medledger consortium``: the consortium's Safe multisig and timelock (docs/governance.md)."""

from __future__ import annotations

from typing import Any

import click

from medledger.cli.output import emit, kv_table, table
from medledger.cli.parsing import parse_duration, split_names
from medledger.cli.state import connection_options, get_state, sdk_options
from medledger.cli.views import tx_facts
from medledger.errors import MedledgerError


@click.group()
def consortium() -> None:
    """The consortium: a k-of-n Safe behind a timelock owns the provider and custodian registries.

    \b
    Examples:
      medledger consortium create --owners a,b,c --threshold 2 --as dev:0
      medledger consortium propose register --as er --name "City ER" --responder --out reg.json
      medledger consortium sign reg.json --as a           # offline, each owner in turn
      medledger consortium execute reg.json --as dev:1    # anyone, once 2 have signed
      medledger consortium status                         # what patients see coming
      medledger consortium propose execute reg.json --out run.json   # after the delay
      medledger consortium propose suspend 0xProvider --out s.json   # immediate once executed
      medledger consortium propose register-custodian 0xC --name "HIE" \\
          --endpoint https://hie.example/custodian --out c.json      # timelocked
    """


@consortium.command()
@click.option("--owners", required=True, multiple=True, help="Owner addresses or key names.")
@click.option("--threshold", type=int, required=True, help="Signatures needed.")
@click.option("--delay", metavar="DURATION", default="48h", show_default=True)
@click.option(
    "--custodians/--no-custodians",
    default=True,
    show_default=True,
    help="Also move the CustodianRegistry to the timelock.",
)
@sdk_options
def create(owners: tuple[str, ...], threshold: int, delay: str, custodians: bool) -> None:
    """Deploy a Safe and a timelock and move the registries to them (--as their owner)."""
    from medledger.cli import resolve

    addresses = [resolve.address(o) for o in split_names(owners)]
    state = get_state()
    conn = state.connection()
    setup = state.session().consortium.create(
        addresses,
        threshold,
        min_delay=int(parse_duration(delay).total_seconds()),
        custodians=custodians,
    )
    if conn.manifest:
        setup.manifest.save(conn.manifest)
    c = setup.consortium
    data = {
        "safe": c.safe.address,
        "timelock": c.timelock.address,
        "owners": addresses,
        "threshold": threshold,
        "min_delay": c.timelock.min_delay(),
        "custodian_registry_owner": c.custodians.owner() if c.custodians else None,
        "manifest": conn.manifest,
        "gas": setup.gas,
    }
    emit(state.json, data, lambda con: con.print(kv_table(data, title="consortium created")))


@consortium.group()
def propose() -> None:
    """Write a Safe transaction proposal (JSON) for the owners to sign."""


def _write(p: Any, out: str) -> None:
    state = get_state()
    p.save(out)
    data = {
        "file": out,
        "action": p.action,
        "summary": p.summary,
        "safe_tx_hash": "0x" + p.safe_tx_hash.hex(),
        "nonce": p.tx.nonce,
    }
    emit(state.json, data, lambda con: con.print(kv_table(data, title="proposal written")))


_out = click.option("--out", required=True, metavar="FILE", help="Proposal file to write.")


@propose.command("register")
@click.option("--name", required=True)
@click.option("--responder/--no-responder", default=False, help="Emergency responder flag.")
@click.option("--key-valid", metavar="DURATION", default="7d", show_default=True)
@_out
@sdk_options
def propose_register(name: str, responder: bool, key_valid: str, out: str) -> None:
    """As the provider (--as), propose registering yourself: your key signature goes inside."""
    state = get_state()
    session = state.session()
    deadline = state.medledger().now() + int(parse_duration(key_valid).total_seconds())
    ks = session.providers.sign_key(deadline=deadline)
    _write(session.consortium.propose_register(ks, name, responder), out)


@propose.command("update")
@click.argument("provider")
@click.option("--name", required=True)
@click.option("--responder/--no-responder", required=True)
@_out
@connection_options
def propose_update(provider: str, name: str, responder: bool, out: str) -> None:
    """Schedule changing PROVIDER's name and emergency-responder flag."""
    from medledger.cli import resolve

    _write(_consortium().propose_update(resolve.address(provider), responder, name), out)


@propose.command("suspend")
@click.argument("provider")
@_out
@connection_options
def propose_suspend(provider: str, out: str) -> None:
    """Suspend PROVIDER (no delay)."""
    from medledger.cli import resolve

    _write(_consortium().propose_suspend(resolve.address(provider)), out)


@propose.command("reinstate")
@click.argument("provider")
@_out
@connection_options
def propose_reinstate(provider: str, out: str) -> None:
    """Schedule reinstating a suspended PROVIDER."""
    from medledger.cli import resolve

    _write(_consortium().propose_reinstate(resolve.address(provider)), out)


_registry = click.option(
    "--registry",
    type=click.Choice(["medledger", "custodians"]),
    default="medledger",
    show_default=True,
    help="Which governed registry: providers (medledger) or custodians.",
)


@propose.command("transfer-ownership")
@click.argument("new_owner")
@_registry
@_out
@connection_options
def propose_transfer(new_owner: str, registry: str, out: str) -> None:
    """Schedule offering the registry to NEW_OWNER (who must accept)."""
    from medledger.cli import resolve

    c = _consortium()
    _write(c.propose_transfer_ownership(resolve.address(new_owner), registry=registry), out)


@propose.command("accept-ownership")
@click.option(
    "--registry",
    type=click.Choice(["medledger", "custodians"]),
    default="custodians",
    show_default=True,
)
@_out
@connection_options
def propose_accept(registry: str, out: str) -> None:
    """Schedule the timelock's acceptance of a registry its owner offered it."""
    _write(_consortium().propose_accept_ownership(registry), out)


@propose.command("register-custodian")
@click.argument("custodian")
@click.option("--name", required=True, help="Display name, 1 .. 64 bytes.")
@click.option("--endpoint", required=True, help="Base URL of its custodian service.")
@_out
@connection_options
def propose_register_custodian(custodian: str, name: str, endpoint: str, out: str) -> None:
    """Schedule registering CUSTODIAN (it then sets its own HPKE key with its own account)."""
    from medledger.cli import resolve

    _write(
        _consortium().propose_register_custodian(resolve.address(custodian), name, endpoint), out
    )


@propose.command("remove-custodian")
@click.argument("custodian")
@_out
@connection_options
def propose_remove_custodian(custodian: str, out: str) -> None:
    """Schedule removing the active CUSTODIAN."""
    from medledger.cli import resolve

    _write(_consortium().propose_remove_custodian(resolve.address(custodian)), out)


@propose.command("execute")
@click.argument("scheduled_file")
@_out
@connection_options
def propose_execute(scheduled_file: str, out: str) -> None:
    """Execute what SCHEDULED_FILE scheduled, once its delay has passed."""
    from medledger.governance import Proposal

    _write(_consortium().propose_execute(Proposal.load(scheduled_file)), out)


@propose.command("cancel")
@click.argument("scheduled_file")
@_out
@connection_options
def propose_cancel(scheduled_file: str, out: str) -> None:
    """Cancel what SCHEDULED_FILE scheduled, before it is executed."""
    from medledger.governance import Proposal

    _write(_consortium().propose_cancel(Proposal.load(scheduled_file)), out)


def _consortium() -> Any:
    from medledger.governance import Consortium

    return Consortium.from_deployment(get_state().medledger().deployment)


@consortium.command("offer-custodians")
@sdk_options
def offer_custodians() -> None:
    """As the CustodianRegistry's owner (--as), offer it to the consortium's timelock; then
    propose accept-ownership --registry custodians."""
    state = get_state()
    receipt = state.session().consortium.offer_custodian_registry()
    data = {"pending_owner": _consortium().timelock.address, **tx_facts(receipt)}
    emit(state.json, data, lambda con: con.print(kv_table(data, title="offered")))


@consortium.command()
@click.argument("file")
@click.option("--offline", is_flag=True, help="No chain access: skip the owner and summary checks.")
@sdk_options
def sign(file: str, offline: bool) -> None:
    """Add your (--as, an owner) signature to the proposal FILE."""
    from medledger.cli.state import key_path, read_password
    from medledger.client import Party
    from medledger.governance import Proposal

    state = get_state()
    if offline:
        # a keystore only (dev:N needs a chain); the file's hash is re-derived on load
        name = state.account_name()
        assert name is not None
        party = Party.from_keystore(key_path(name), read_password(f"Password for {name}"))
        p = Proposal.load(file).sign(party.account, None)
    else:
        p = _consortium().sign(Proposal.load(file), state.party().account)
    p.save(file)
    data = {"file": file, "summary": p.summary, "signatures": sorted(p.signatures)}
    emit(state.json, data, lambda con: con.print(kv_table(data, title="signed")))


@consortium.command()
@click.argument("file")
@sdk_options
def execute(file: str) -> None:
    """Submit the proposal FILE once the threshold has signed (--as pays the gas)."""
    from medledger.chain.transactions import TxSender
    from medledger.governance import Proposal

    state = get_state()
    sender = TxSender(state.medledger().chain, state.party().account)
    p = Proposal.load(file)
    receipt = _consortium().execute(p, sender)
    data = {"file": file, "summary": p.summary, **tx_facts(receipt)}
    emit(state.json, data, lambda con: con.print(kv_table(data, title="executed")))


@consortium.command()
@click.argument("files", nargs=-1)
@click.option("--all", "include_done", is_flag=True, help="Also executed/cancelled changes.")
@connection_options
def status(files: tuple[str, ...], include_done: bool) -> None:
    """The Safe, the timelock and the scheduled registry changes; FILES: pending proposals."""
    from medledger.governance import Proposal

    state = get_state()
    c = _consortium()
    data = c.status()
    if include_done:
        data["scheduled"] = [s.__dict__ for s in c.scheduled(include_done=True)]
    pending = []
    for f in files:
        p = Proposal.load(f)
        try:
            c.check_executable(p)
            ready = "ready"
        except MedledgerError as exc:  # why it cannot run yet: shown, not raised
            ready = f"{type(exc).__name__}: {exc}"
        pending.append(
            {"file": f, "summary": p.summary, "signatures": len(p.signatures), "state": ready}
        )
    data["pending"] = pending

    def human(con: Any) -> None:
        head = {k: v for k, v in data.items() if k not in ("scheduled", "pending")}
        con.print(kv_table(head, title="consortium"))
        rows = [(s["state"], s["summary"]) for s in data["scheduled"]]
        con.print(table(["state", "scheduled change"], rows, title="timelock"))
        if pending:
            lines = [(p["file"], p["signatures"], p["state"]) for p in pending]
            con.print(table(["proposal", "signatures", "state"], lines, title="pending"))

    emit(state.json, data, human)
