"""``medledger keys create|import|list|show``: encrypted keystores in $MEDLEDGER_HOME/keys.

Each key file is an eth-account (Web3 Secret Storage v3, scrypt) keystore for the EVM signing key,
extended with the encryption identity key under the same password (see
``medledger.crypto.keystore``). Passwords come from a hidden prompt or MEDLEDGER_PASSWORD, never
from the command line (it would land in shell history and ``ps``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from medledger.cli.output import emit, kv_table, table
from medledger.cli.profiles import check_name, home
from medledger.cli.state import (
    connection_options,
    get_state,
    json_option,
    key_path,
    read_password,
)
from medledger.cli.views import open_keystore
from medledger.errors import InvalidInput, KeystoreError

if TYPE_CHECKING:
    from medledger.crypto import Keystore

_LIGHT_KDF_HELP = "Testing only: cheap scrypt parameters (unsafe for real keys)."


def key_view(name: str, ks: Keystore) -> dict[str, Any]:
    """Public facts about a key (never anything secret)."""
    return {
        "name": name,
        "address": ks.address,
        "suite": ks.suite.label,
        "encryption_key": "0x" + ks.public_key.x25519_public_bytes().hex(),
        "fingerprint": ks.public_key.fingerprint(),
        "file": str(key_path(name)),
    }


def _save(name: str, password: str, light: bool, **kwargs: Any) -> dict[str, Any]:
    from medledger.crypto import Keystore, ScryptParams

    path = key_path(name)
    if path.exists():
        raise InvalidInput(
            f"a key named {name!r} already exists ({path})",
            hint="choose another name; keys are never overwritten",
        )
    scrypt = ScryptParams.LIGHT if light else ScryptParams.DEFAULT
    ks = Keystore.create(password, scrypt=scrypt, **kwargs)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    ks.save(path)
    return key_view(name, ks)


@click.group()
def keys() -> None:
    """Manage keys: an EVM signing key + an encryption identity key per name.

    \b
    Examples:
      medledger keys create alice
      medledger keys create er-team --pq          # ML-KEM-768 + X25519 hybrid identity key
      medledger keys import clinic --private-key-file clinic.key
      medledger keys list
      medledger keys show alice --json
    """


@keys.command()
@click.argument("name")
@click.option("--pq", is_flag=True, help="Hybrid post-quantum identity key (ML-KEM-768+X25519).")
@click.option("--insecure-light-kdf", "light", is_flag=True, hidden=True, help=_LIGHT_KDF_HELP)
@json_option
def create(name: str, pq: bool, light: bool) -> None:
    """Create key NAME: a new signing account and identity key, encrypted with a password."""
    check_name("key", name)
    if key_path(name).exists():
        raise InvalidInput(f"a key named {name!r} already exists", hint="choose another name")
    password = read_password(f"New password for {name}", confirm=True)
    data = _save(name, password, light, suite="mlkem768-x25519" if pq else "x25519")
    emit(get_state().json, data, lambda con: con.print(kv_table(data, title="key created")))


@keys.command("import")
@click.argument("name")
@click.option(
    "--private-key-file",
    type=click.File("r"),
    default=None,
    help="File with a hex private key (- for stdin); else you are prompted.",
)
@click.option(
    "--keystore",
    "v3_file",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="An Ethereum v3 keystore JSON (e.g. from geth or cast); same password.",
)
@click.option("--pq", is_flag=True, help="Hybrid post-quantum identity key (ML-KEM-768+X25519).")
@click.option("--insecure-light-kdf", "light", is_flag=True, hidden=True, help=_LIGHT_KDF_HELP)
@json_option
def import_(name: str, private_key_file: Any, v3_file: str | None, pq: bool, light: bool) -> None:
    """Import an existing EVM account as key NAME (a fresh identity key is generated).

    The private key is read from a file, stdin or a hidden prompt, never from an argument.
    """
    from eth_account import Account

    check_name("key", name)
    if key_path(name).exists():
        raise InvalidInput(f"a key named {name!r} already exists", hint="choose another name")
    if private_key_file is not None and v3_file is not None:
        raise InvalidInput("give either --private-key-file or --keystore, not both")
    if v3_file is not None:
        password = read_password(f"Password of {v3_file}")
        try:
            secret = bytes(Account.decrypt(json.loads(Path(v3_file).read_text()), password))
        except ValueError as exc:
            raise KeystoreError(f"cannot open {v3_file}: {exc}") from None
    else:
        if private_key_file is not None:
            text = private_key_file.read().strip()
        else:
            try:
                text = click.prompt(
                    "Private key (hex)", hide_input=True, default="", show_default=False, err=True
                ).strip()
            except click.Abort:
                raise InvalidInput("no private key given") from None
        try:
            secret = bytes.fromhex(text.removeprefix("0x"))
            if len(secret) != 32:
                raise ValueError
        except ValueError:
            raise InvalidInput(
                "the private key must be 32 bytes of hex", hint="e.g. 0x followed by 64 hex digits"
            ) from None
        if not 0 < int.from_bytes(secret, "big") < _SECP256K1_N:
            raise InvalidInput(
                "that private key is not a valid secp256k1 key (zero or beyond the curve order)",
                hint="a private key is a random number in 1..n-1; check the file",
            )
        password = read_password(f"New password for {name}", confirm=True)
    account = Account.from_key(secret)
    data = _save(
        name, password, light, account=account, suite="mlkem768-x25519" if pq else "x25519"
    )
    emit(get_state().json, data, lambda con: con.print(kv_table(data, title="key imported")))


#: Order of the secp256k1 group: a private key is a number in 1..n-1.
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@keys.command("list")
@json_option
def list_() -> None:
    """List keys in $MEDLEDGER_HOME/keys (addresses only; nothing is decrypted)."""
    folder = home() / "keys"
    rows = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            rows.append(key_view(path.stem, open_keystore(path.stem)))
        except (KeystoreError, InvalidInput) as exc:
            rows.append(
                {
                    "name": path.stem,
                    "address": None,
                    "suite": None,
                    "error": str(exc),
                    "file": str(path),
                }
            )

    def human(con: Any) -> None:
        if not rows:
            con.print(f"no keys in {folder}; create one with `medledger keys create NAME`")
            return
        con.print(
            table(
                ["name", "address", "suite", "fingerprint"],
                [
                    (r["name"], r["address"] or r.get("error"), r["suite"], r.get("fingerprint"))
                    for r in rows
                ],
            )
        )

    emit(get_state().json, rows, human)


@keys.command()
@click.argument("name")
@json_option
def show(name: str) -> None:
    """Show key NAME's address and public encryption key (no password, nothing secret)."""
    data = key_view(name, open_keystore(check_name("key", name)))
    emit(get_state().json, data, lambda con: con.print(kv_table(data, title=f"key {name}")))


@keys.command()
@click.argument("name")
@connection_options
def rotate(name: str) -> None:
    """Rotate key NAME's identity key (suspected leaked): new key epochs for every category, the
    keyring re-sealed, grantees and the emergency kit refreshed, the new public key published,
    fresh guardian shares. The signing account stays. Interrupted? Run it again: it continues.

    The new identity key is written first to NAME.json.rotating (same password) and replaces
    NAME.json once the rotation is on-chain."""
    from medledger.client import Party
    from medledger.crypto import IdentityKey, Keystore, ScryptParams
    from medledger.fsutil import check_regular_target, fsync_dir

    check_name("key", name)
    path = key_path(name)
    pending = path.with_name(path.name + ".rotating")
    password = read_password(f"Password for {name}")
    party = Party.from_keystore(path, password)
    if pending.exists():
        account, new_key = Keystore.load(pending, password)
        if account.address != party.address:
            raise KeystoreError(f"{pending} belongs to another account; move it away")
    else:
        n = int(json.loads(path.read_text())["crypto"]["kdfparams"]["n"])
        new_key = IdentityKey.generate(party.identity.suite)
        Keystore.create(password, party.account, identity_key=new_key, scrypt=ScryptParams(n)).save(
            pending
        )
    state = get_state()
    info = state.medledger().session(party).recovery.rotate(new_key)
    check_regular_target(path)
    os.replace(pending, path)
    fsync_dir(path.parent)
    data = {
        "name": name,
        "address": party.address,
        "rotated_categories": list(info.rotated),
        "refreshed_grantees": list(info.refreshed),
        "transactions": len(info.txs),
        "gas_used": info.gas_used,
        "fingerprint": new_key.public_key.fingerprint(),
    }
    if state.json:
        emit(True, {**data, "paper_shares": info.paper_shares})
        return

    def human(con: Any) -> None:
        con.print(kv_table(data, title="identity key rotated"))
        for guardian, words in info.paper_shares.items():
            con.print(f"\nnew paper share for guardian {guardian} (printed once, stored nowhere):")
            con.print("  " + words)

    emit(False, data, human)
