"""``medledger node start|stop|status``: a persistent local stack and its profile."""

from __future__ import annotations

from typing import Any

import click

from medledger.cli.output import emit, kv_table, note
from medledger.cli.profiles import Profile, home
from medledger.cli.state import connection_options, get_state
from medledger.cli.views import contract_addresses


@click.group()
def node() -> None:
    """Run a persistent local stack: Anvil (state on disk) + embedded store + profile.

    \b
    Files live in $MEDLEDGER_HOME/node (default ~/.medledger/node): state.json (chain state,
    including every block and event), anvil.log, anvil.pid, deployment.json (manifest).
    Stopping and starting again keeps every consent, record and access-log entry.
    """


@node.command(
    epilog="""\b
Examples:
  medledger node start                      # Anvil on 127.0.0.1:8545, profile 'local'
  medledger node start --port 0             # any free port
  medledger node start --attach http://127.0.0.1:8545 --profile devnet"""
)
@click.option(
    "--port", type=int, default=None, help="Port (default: the last one, else 8545; 0 = any free)."
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--attach",
    metavar="URL",
    default=None,
    help="Do not run Anvil: use the node at URL (deploys there if no manifest).",
)
@connection_options
def start(port: int | None, host: str, attach: str | None) -> None:
    """Start (or attach to) the node, deploy the contracts if needed, write the profile."""
    from medledger.cli import nodeproc

    state = get_state()
    name = state.profile_name()
    paths = nodeproc.NodePaths.default()
    if attach is not None:
        rpc, started = attach, False
        nodeproc.rpc_call(attach, "eth_chainId")  # fail fast, exit 4, before writing anything
        default_manifest = home() / "deployments" / f"{name}.json"
    else:
        _check_host(host, port)
        rpc, started = nodeproc.start(paths, host=host, port=port)
        default_manifest = paths.manifest
    store = state.store or str(home() / "store")
    manifest = state.manifest or str(default_manifest)
    if not state.json:
        note(f"{'started' if started else 'using'} node at {rpc}; checking deployment ...")

    from medledger.client import Medledger

    ml = Medledger.open(rpc=rpc, store=store, manifest=manifest, deploy=True)
    if attach is None:
        nodeproc.save_state(paths, rpc)  # the deployment survives a kill of the node from now on
    profile = Profile(name=name, rpc=rpc, store=store, manifest=manifest, managed=attach is None)
    profile_path = profile.save()
    data: dict[str, Any] = {
        "profile": name,
        "profile_file": str(profile_path),
        "rpc": rpc,
        "started": started,
        "managed": attach is None,
        "chain_id": ml.chain.chain_id,
        "store": store,
        "manifest": manifest,
        "contracts": contract_addresses(ml),
    }
    if attach is None:
        data["state_file"] = str(paths.state)
        data["log_file"] = str(paths.log)
    data["orphaned_pins"] = _orphaned_pins(ml)

    def human(con: Any) -> None:
        con.print(kv_table(data, title="medledger node"))
        con.print(
            "Other commands now use this profile. The consortium owner (provider registry) is "
            "dev account 0: use [bold]--as dev:0[/] for `register provider`.",
            markup=True,
        )

    emit(state.json, data, human)


def _orphaned_pins(ml: Any) -> int | None:
    """Reconcile the store against the chain on start: how many pins nothing on-chain
    references (a kill between a pin and its transaction, a chain reset under a kept store);
    ``None`` (with a warning) when the check itself fails: starting does not depend on it."""
    from medledger.client.reconcile import reconcile
    from medledger.errors import MedledgerError

    try:
        found = reconcile(ml)
    except MedledgerError as exc:
        note(f"warning: could not check the store against the chain: {exc}")
        return None
    if found.orphaned:
        note(
            f"the store holds {len(found.orphaned)} pin(s) ({found.orphaned_bytes} bytes) that "
            "nothing on-chain references: `medledger store gc` lists them, --yes removes them"
        )
    return len(found.orphaned)


def _check_host(host: str, port: int | None) -> None:
    """--host must resolve and --port be a port number, before anything is started."""
    import socket

    from medledger.errors import InvalidInput

    if port is not None and not 0 <= port <= 65535:
        raise InvalidInput(f"--port {port} is not a port number", hint="use 0..65535 (0 = any)")
    try:
        socket.getaddrinfo(host, None)
    except (OSError, UnicodeError) as exc:
        raise InvalidInput(
            f"--host {host!r} is not an address or a name that resolves ({exc})",
            hint="e.g. 127.0.0.1 (local only) or 0.0.0.0 (every interface)",
        ) from None


@node.command()
@connection_options
def stop() -> None:
    """Stop the managed Anvil; its state is written to disk first (the profile stays)."""
    from medledger.cli import nodeproc

    state = get_state()
    stopped = nodeproc.stop(nodeproc.NodePaths.default())
    data = {"stopped": stopped, "was_running": stopped}
    emit(
        state.json,
        data,
        lambda con: con.print("node stopped (state saved)" if stopped else "node was not running"),
    )


@node.command()
@connection_options
def status() -> None:
    """Show whether the managed node runs, its RPC URL, chain and block, and the profile."""
    from medledger.cli import nodeproc
    from medledger.cli.output import to_jsonable

    state = get_state()
    st = nodeproc.status(nodeproc.NodePaths.default())
    prof = Profile.load(state.profile_name())
    data: dict[str, Any] = to_jsonable(st)
    data["profile"] = None if prof is None else to_jsonable(prof)

    def human(con: Any) -> None:
        rows = {k: v for k, v in data.items() if k != "profile"}
        con.print(kv_table(rows, title="managed node"))
        if prof is None:
            con.print(f"no profile {state.profile_name()!r}: run `medledger node start`")
        else:
            con.print(
                kv_table(
                    {
                        "profile": prof.name,
                        "rpc": prof.rpc,
                        "store": prof.store,
                        "manifest": prof.manifest,
                    },
                    title="profile",
                )
            )

    emit(state.json, data, human)
