"""``medledger custodian init|serve``: a threshold re-encryption custodian (docs/custodians.md)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click

from medledger.cli.output import emit, kv_table
from medledger.cli.profiles import check_name, home
from medledger.cli.state import connection_options, get_state, key_path, read_password
from medledger.errors import InvalidInput


@click.group()
def custodian() -> None:
    """Run a custodian: it holds key fragments, never a key, and re-encrypts a record for a
    reader only after checking the reader's logged access on its own chain node.

    \b
    Examples:
      medledger custodian init hospital-a
      medledger custodian serve --key hospital-a --rpc http://127.0.0.1:8545 \\
          --manifest deployment.json --db sqlite:custodian.db --port 8700
      medledger custodian serve --key hospital-a --db postgresql://cust@db:5432/custodian
    """


@custodian.command()
@click.argument("name")
@click.option("--insecure-light-kdf", "light", is_flag=True, hidden=True)
@connection_options
def init(name: str, light: bool) -> None:
    """Create key NAME for a custodian: a signing account (receipts) and an X25519 key (the
    key fragments are sealed to it). Register the address with the consortium, then set the
    key on-chain from this account."""
    from medledger.cli.commands.keys import _save

    check_name("key", name)
    if key_path(name).exists():
        raise InvalidInput(f"a key named {name!r} already exists", hint="choose another name")
    password = read_password(f"New password for {name}", confirm=True)
    data = _save(name, password, light, suite="x25519")
    emit(get_state().json, data, lambda con: con.print(kv_table(data, title="custodian key")))


def _load_keys(key: str) -> Any:
    from medledger.crypto.keys import Suite
    from medledger.custodian.config import CustodianKeys
    from medledger.errors import KeystoreError

    path = Path(key)
    if path.is_file() and path.suffix != ".json":
        return CustodianKeys.from_key_file(path)
    from medledger.cli.views import open_keystore
    from medledger.crypto import Keystore

    ks = Keystore.from_json(path) if path.is_file() else open_keystore(check_name("key", key))
    account, identity = ks.unlock(read_password(f"Password for {key}"))
    if identity.suite is not Suite.X25519:
        raise KeystoreError("a custodian's key must be X25519 (create it with `custodian init`)")
    return CustodianKeys(account, identity)


def _medledger_address(explicit: str | None, manifest: str | None) -> str:
    from medledger.chain.contracts import checksum
    from medledger.chain.deployment import Manifest

    if explicit:
        return checksum(explicit, "--medledger")
    if manifest:
        return Manifest.load(manifest).address_of("MedLedger")
    raise InvalidInput(
        "which MedLedger does this custodian serve?",
        hint="pass --medledger ADDRESS or --manifest deployment.json (or use a profile)",
    )


@custodian.command(
    epilog="""\b
Prints `listening on URL` once the socket accepts connections. Logs are JSON lines on stderr
and never contain a key fragment, a capsule, a cfrag or a key."""
)
@click.option("--key", required=True, metavar="NAME|FILE", help="Keystore name or key file.")
@click.option("--db", default=None, metavar="URL", help="sqlite:PATH (default) or postgresql://.")
@click.option("--medledger", "medledger_address", default=None, metavar="ADDRESS")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=0, show_default=True, help="0 = any free port.")
@click.option("--finality", type=int, default=None, help="Confirmations an access needs [1].")
@click.option("--max-age", type=int, default=None, help="Oldest access accepted, s [300].")
@click.option(
    "--max-lag", type=int, default=None, help="Node is behind past this many s; 0 = off [120]."
)
@click.option("--rate", type=float, default=None, help="Requests/s per reader [20].")
@click.option("--burst", type=int, default=None, help="Burst per reader [40].")
@connection_options
def serve(
    key: str,
    db: str | None,
    medledger_address: str | None,
    host: str,
    port: int,
    finality: int | None,
    max_age: int | None,
    max_lag: int | None,
    rate: float | None,
    burst: int | None,
) -> None:
    """Serve the custodian HTTP API until interrupted."""
    from medledger.cli.state import check_rpc_url
    from medledger.custodian.app import create_app
    from medledger.custodian.config import CustodianConfig
    from medledger.services.runner import serve as run

    conn = get_state().connection()
    if conn.rpc is None:
        raise InvalidInput("no chain configured", hint="pass --rpc URL (env MEDLEDGER_RPC)")
    check_rpc_url(conn.rpc)
    keys = _load_keys(key)
    if db is None:
        db = f"sqlite:{home() / 'custodians' / (keys.address + '.db')}"
    options: dict[str, Any] = {
        k: v
        for k, v in {
            "finality": finality,
            "max_age": max_age,
            "max_lag": max_lag,
            "rate": rate,
            "burst": burst,
        }.items()
        if v is not None
    }
    config = CustodianConfig(
        keys=keys,
        rpc=conn.rpc,
        medledger=_medledger_address(medledger_address, conn.manifest),
        db=db,
        **options,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("medledger.custodian")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    app = create_app(config)

    def ready(url: str) -> None:
        click.echo(f"listening on {url}")
        sys.stdout.flush()

    run(app, host, port, on_ready=ready)
