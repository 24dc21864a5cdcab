"""Per-invocation state shared by all commands: output mode, connection and the acting account.

Options such as ``--json``, ``--rpc`` or ``--as`` are accepted both before the subcommand
(``medledger --json audit``) and after it (``medledger audit --json``), like git and gh. Each
option writes into the one :class:`CliState` of the invocation; a value given after the
subcommand wins. Environment variables are looked at only when resolving, so an explicit flag
always beats the environment, which beats the profile.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from medledger.cli.profiles import DEFAULT_PROFILE, Profile, check_name, home
from medledger.errors import ChainUnavailable, InvalidInput, KeystoreError, MedledgerError

if TYPE_CHECKING:
    from medledger.client import Medledger, Party, Session

F = TypeVar("F", bound=Callable[..., Any])
_DEV = re.compile(r"^dev:(\d{1,2})$")


@dataclass
class Connection:
    """Where to connect, after flags, environment and profile are merged."""

    profile: str
    rpc: str | None
    store: str | None
    manifest: str | None
    profile_exists: bool


@dataclass
class CliState:
    """Everything the options of one invocation said, plus lazily opened SDK objects."""

    json: bool = False
    profile: str | None = None
    rpc: str | None = None
    store: str | None = None
    manifest: str | None = None
    account: str | None = None
    _ml: Medledger | None = field(default=None, repr=False)
    _parties: dict[str, Party] = field(default_factory=dict, repr=False)
    _locks: dict[str, int] = field(default_factory=dict, repr=False)
    _reader: Session | None = field(default=None, repr=False)

    # --- connection -----------------------------------------------------------------------

    def profile_name(self) -> str:
        name = self.profile or os.environ.get("MEDLEDGER_PROFILE") or DEFAULT_PROFILE
        return check_name("profile", name)

    def connection(self) -> Connection:
        """Merge flags > environment > profile."""
        name = self.profile_name()
        prof = Profile.load(name)
        explicit = self.profile is not None or "MEDLEDGER_PROFILE" in os.environ
        if prof is None and explicit and name != DEFAULT_PROFILE:
            raise InvalidInput(
                f"no profile named {name!r}",
                hint=f"create it with `medledger node start --profile {name}` "
                "(or check MEDLEDGER_HOME)",
            )
        env = os.environ.get
        return Connection(
            profile=name,
            rpc=self.rpc or env("MEDLEDGER_RPC") or (prof.rpc if prof else None),
            store=self.store
            or env("MEDLEDGER_IPFS_API")
            or env("MEDLEDGER_STORE")
            or (prof.store if prof else None),
            manifest=self.manifest
            or env("MEDLEDGER_MANIFEST")
            or (prof.manifest if prof else None),
            profile_exists=prof is not None,
        )

    def medledger(self, *, deploy: bool = False) -> Medledger:
        """The SDK facade for this invocation's connection (opened once)."""
        if self._ml is not None:
            return self._ml
        conn = self.connection()
        if conn.rpc is None:
            raise ChainUnavailable(
                f"no chain configured (profile {conn.profile!r} "
                + ("has no rpc)" if conn.profile_exists else "does not exist)"),
                hint="run `medledger node start`, or pass --rpc URL (env MEDLEDGER_RPC)",
            )
        check_rpc_url(conn.rpc)
        if conn.rpc.startswith(("http://", "https://")):
            from medledger.cli.nodeproc import rpc_call

            # a frozen or absent node fails here, in bounded time, naming the endpoint (exit 4)
            rpc_call(conn.rpc, "eth_chainId", timeout=network_timeout())
        if conn.store is not None:
            check_store(conn.store)
        self.lock_store()  # a `store gc` never runs between this command's pins and its txs
        from medledger.client import Medledger

        self._ml = Medledger.open(
            rpc=conn.rpc, store=conn.store, manifest=conn.manifest, deploy=deploy
        )
        self._persist_on_exit(conn)
        return self._ml

    def _persist_on_exit(self, conn: Connection) -> None:
        """On the managed node, save the chain state when this command ends if it mined blocks:
        a transaction the command reported must survive a kill of the node right after."""
        prof = Profile.load(conn.profile) if conn.profile_exists else None
        ctx = click.get_current_context(silent=True)
        if prof is None or not prof.managed or prof.rpc != conn.rpc or ctx is None:
            return
        if conn.rpc is None:
            return
        from medledger.cli import nodeproc

        rpc = conn.rpc
        start = int(nodeproc.rpc_call(rpc, "eth_blockNumber", timeout=network_timeout()), 16)

        def persist() -> None:
            from medledger.cli.output import note

            paths = nodeproc.NodePaths.default()
            try:
                if nodeproc.read_pid(paths) is None:
                    return  # not our Anvil any more (stopped, or another one on that port)
                end = int(nodeproc.rpc_call(rpc, "eth_blockNumber", timeout=network_timeout()), 16)
                if end != start:
                    nodeproc.save_state(paths, rpc)
            except (MedledgerError, OSError, ValueError) as exc:  # runs after the command's output
                note(f"warning: could not save the node's state to {paths.state}: {exc}")

        ctx.find_root().call_on_close(persist)

    # --- accounts -------------------------------------------------------------------------

    def account_name(self, required: bool = True) -> str | None:
        name = self.account or os.environ.get("MEDLEDGER_ACCOUNT")
        if name is None and required:
            raise InvalidInput(
                "no account chosen",
                hint="pass --as NAME (a key from `medledger keys list`) or set MEDLEDGER_ACCOUNT",
            )
        return name

    def party(self, name: str | None = None) -> Party:
        """The party behind keystore ``name`` (default: --as), unlocked with the password.

        ``dev:N`` names a funded dev account of Anvil/Hardhat/embedded chains (account 0 deployed
        the contracts and owns the provider registry); its encryption key is fresh each run, so
        use it for consortium and funding chores, not as a patient or provider.
        """
        name = name or self.account_name()
        assert name is not None
        if name in self._parties:
            return self._parties[name]
        dev = _DEV.match(name)
        if dev:
            party = self.medledger().dev_party(int(dev.group(1)))
        else:
            from medledger.client import Party

            party = Party.from_keystore(
                existing_key_path(name), read_password(f"Password for {name}")
            )
        self._parties[name] = party
        return party

    def address(self, name: str | None = None) -> str:
        """The address of account ``name`` (default --as), read from its keystore in clear:
        nothing is unlocked and no password is asked."""
        name = name or self.account_name()
        assert name is not None
        if name in self._parties or _DEV.match(name):
            return self.party(name).address
        from medledger.crypto import Keystore

        return Keystore.from_json(existing_key_path(name)).address

    def own_patient_id(self, name: str | None = None) -> int:
        """The patient account ``name`` (default --as) controls, without unlocking its key."""
        from medledger.errors import NotRegistered

        ml = self.medledger()  # first: no chain configured is exit 4 before any key question
        address = self.address(name)
        pid = ml.patient_of(address)
        if pid == 0:
            raise NotRegistered(
                f"{address} does not control a patient",
                hint="register as a patient first (`medledger register patient`), or pass "
                "--patient ID",
            )
        return pid

    def reader(self) -> Session:
        """A session for reads of public chain data (a timeline, an access trail): it signs and
        decrypts nothing, so it acts as a throwaway party and no keystore is unlocked."""
        if self._reader is None:
            from medledger.client import Party

            self._reader = self.medledger().session(Party.generate("x25519"))
        return self._reader

    def session(self, name: str | None = None) -> Session:
        """A session acting as ``name`` (default --as), holding that account's command lock."""
        ml = self.medledger()  # first: no chain configured is exit 4 before any key question
        party = self.party(name)
        self.lock(party.address)
        return ml.session(party)

    def lock(self, address: str) -> None:
        """Hold ``address``'s lock until this process exits (see :mod:`medledger.cli.locks`):
        two commands of one patient never interleave their steps."""
        self._hold(address, f"another medledger command acting as {address}")

    def lock_store(self, *, exclusive: bool = False) -> None:
        """Hold the store lock until this invocation ends: shared by every command that opens
        the SDK, exclusive for ``store gc --yes`` (which then waits for the others to end)."""
        from medledger.cli import locks

        if exclusive:
            self._hold(locks.STORE, "other medledger commands using the store")
        else:
            self._hold(locks.STORE, "`medledger store gc`", shared=True)

    def _hold(self, name: str, waiting_for: str, *, shared: bool = False) -> None:
        if name in self._locks:
            return
        from medledger.cli import locks
        from medledger.cli.output import note

        def waiting(holder: str) -> None:
            note(f"waiting for {waiting_for} ({holder}) ...")

        fd = locks.acquire(home(), name, on_wait=waiting, shared=shared)
        self._locks[name] = fd
        ctx = click.get_current_context(silent=True)
        if ctx is not None:  # released when the invocation ends (in-process runs included)
            ctx.find_root().call_on_close(lambda: self._unlock(name))

    def _unlock(self, address: str) -> None:
        fd = self._locks.pop(address, None)
        if fd is not None:
            os.close(fd)


#: Seconds a node or store may take to answer one request (env MEDLEDGER_TIMEOUT).
DEFAULT_TIMEOUT = 30.0


def network_timeout() -> float:
    """The per-request network timeout: MEDLEDGER_TIMEOUT seconds, default 30."""
    raw = os.environ.get("MEDLEDGER_TIMEOUT")
    if raw is None:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 3600:
        raise InvalidInput(
            f"MEDLEDGER_TIMEOUT={raw!r} is not a number of seconds in (0, 3600]",
            hint="e.g. MEDLEDGER_TIMEOUT=10",
        )
    return value


def check_rpc_url(url: str) -> str:
    """A chain endpoint that can be parsed: ``embedded`` or an http(s)/ws(s) URL with a host."""
    from urllib.parse import urlsplit

    if url == "embedded":
        return url
    hint = "e.g. http://127.0.0.1:8545 (IPv6: http://[::1]:8545)"
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a port that is not a number in 0..65535
    except ValueError as exc:
        raise InvalidInput(f"malformed chain URL {url!r}: {exc}", hint=hint) from None
    if parts.scheme not in ("http", "https", "ws", "wss") or not parts.hostname:
        raise InvalidInput(f"not a chain JSON-RPC URL: {url!r}", hint=hint)
    return url


def check_store(store: str) -> None:
    """Fail early, with the right exit code, on a store that cannot work: a directory path that
    is a file (exit 2), or a URL where no IPFS RPC API answers (exit 4, naming the endpoint)."""
    from medledger.errors import StoreUnavailable

    if not store.startswith(("http://", "https://")):
        path = Path(store).expanduser()
        if path.exists() and not path.is_dir():
            raise InvalidInput(
                f"record store {store} is not a directory",
                hint="--store takes a directory (the embedded store) or an IPFS RPC URL",
            )
        return
    import urllib.error
    import urllib.request

    url = store.rstrip("/") + "/api/v0/version"
    try:
        # http(s) only: checked above
        request = urllib.request.Request(url, method="POST", data=b"")  # noqa: S310
        with urllib.request.urlopen(request, timeout=network_timeout()) as response:  # noqa: S310
            body = response.read(4096)
        if b"Version" not in body:
            raise ValueError("the answer is not an IPFS version object")
    except (OSError, ValueError) as exc:  # URLError, HTTPError, timeouts are OSErrors
        reason = getattr(exc, "reason", None) or exc
        raise StoreUnavailable(
            f"no IPFS RPC API answers at {store}: {reason}",
            hint="start the IPFS node (or `medledger node start`), or check --store",
        ) from None


def is_dev_account(name: str) -> bool:
    """True for ``dev:N`` account names (funded dev accounts, no keystore)."""
    return _DEV.match(name) is not None


def key_path(name: str) -> Path:
    return home() / "keys" / f"{check_name('key', name)}.json"


def existing_key_path(name: str) -> Path:
    """The keystore file of key ``name``; ``KeystoreError`` saying how to make it if missing."""
    path = key_path(name)
    if not path.exists():
        raise KeystoreError(
            f"no key named {name!r} in {path.parent}",
            hint=f"see `medledger keys list`, or create it with `medledger keys create {name}`",
        )
    return path


def read_password(prompt: str, *, confirm: bool = False) -> str:
    """The keystore password: env MEDLEDGER_PASSWORD or a hidden prompt (never an argument).

    Prompts once (twice with ``confirm``) and fails instead of re-asking, so a script that pipes
    the wrong input gets an error rather than a prompt loop.
    """
    env = os.environ.get("MEDLEDGER_PASSWORD")
    if env is not None:
        return env
    no_password = InvalidInput(
        "no password given",
        hint="type it at the prompt, or set MEDLEDGER_PASSWORD for scripts",
    )

    def ask(text: str) -> str:
        try:
            value: str = click.prompt(
                text, hide_input=True, default="", show_default=False, err=True
            )
        except click.Abort:
            raise no_password from None
        return value

    value = ask(prompt)
    if not value:
        raise no_password
    if confirm and ask("Repeat for confirmation") != value:
        raise InvalidInput("the two passwords do not match", hint="run the command again")
    return value


def confirm_irreversible(action: str, *, yes: bool, as_json: bool) -> None:
    """Ask before an irreversible action; without a terminal to ask on (or with --json), require
    ``--yes`` instead of going ahead silently."""
    import sys

    if yes:
        return
    if as_json or not sys.stdin.isatty():
        raise InvalidInput(
            f"{action} cannot be undone and there is no terminal to confirm on",
            hint="add --yes to confirm",
        )
    if not click.confirm(f"{action}? this cannot be undone", default=False, err=True):
        raise InvalidInput(f"{action}: not confirmed; nothing was done")


def get_state() -> CliState:
    ctx = click.get_current_context()
    return ctx.ensure_object(CliState)


def _setter(attr: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        if value is None or value is False:
            return
        setattr(ctx.ensure_object(CliState), attr, value)

    return callback


def json_option(func: F) -> F:
    """``--json``: print a machine-readable result instead of tables."""
    return click.option(
        "--json",
        "json_",
        is_flag=True,
        default=False,
        expose_value=False,
        is_eager=True,
        callback=_setter("json"),
        help="Print machine-readable JSON.",
    )(func)


#: (flag, metavar, CliState attribute, help) of the connection options
_CONNECTION_OPTIONS = (
    ("--profile", "NAME", "profile",
     "Connection profile (env MEDLEDGER_PROFILE; default 'local')."),
    ("--rpc", "URL", "rpc", "Chain JSON-RPC URL (env MEDLEDGER_RPC); overrides the profile."),
    ("--store", "PATH|URL", "store",
     "Record store: directory or IPFS RPC URL (env MEDLEDGER_IPFS_API)."),
    ("--manifest", "FILE", "manifest", "Deployment manifest (env MEDLEDGER_MANIFEST)."),
)  # fmt: skip


def connection_options(func: F) -> F:
    """``--profile``, ``--rpc``, ``--store``, ``--manifest``."""
    for flag, metavar, attr, text in reversed(_CONNECTION_OPTIONS):
        option = click.option(
            flag, metavar=metavar, expose_value=False, callback=_setter(attr), help=text
        )
        func = option(func)
    return json_option(func)


def account_option(func: F) -> F:
    """``--as NAME``: the keystore (or ``dev:N``) that signs."""
    return click.option(
        "--as",
        "as_",
        metavar="NAME",
        expose_value=False,
        callback=_setter("account"),
        help="Act as this key (see `keys list`; env MEDLEDGER_ACCOUNT; dev:N on dev chains).",
    )(func)


def sdk_options(func: F) -> F:
    """Connection + account + --json: what every SDK flow command takes."""
    return connection_options(account_option(func))
