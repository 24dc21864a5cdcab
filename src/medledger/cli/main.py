"""The root ``medledger`` command: lazy subcommand loading, global options, error handling.

Subcommands live in :mod:`medledger.cli.commands` and are imported only when used, so
``medledger --help`` and ``medledger cid FILE`` never import web3 or py-evm.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

import click

from medledger import __version__
from medledger.cli.exitcodes import EXIT_CODES_HELP, INTERRUPTED, exit_code_for
from medledger.cli.state import CliState, account_option, connection_options
from medledger.errors import InvalidInput, MedledgerError

# name -> ("module:attribute", one-line summary for the command list), in `--help` order.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("demo:demo", "Play the reference scenario, narrated (nothing to start)."),
    "node": ("node:node", "Persistent local stack: Anvil + store + profile."),
    "keys": ("keys:keys", "Create, import and list signing + encryption keys."),
    "deploy": ("deploy:deploy", "Deploy the contracts and write the manifest."),
    "register": ("identity:register", "Register a patient or a provider."),
    "record": ("records:record", "Add, list and read encrypted records."),
    "grant": ("consent:grant", "Grant access to record categories for purposes."),
    "revoke": ("consent:revoke", "Withdraw a grantee's consent."),
    "rotate": ("rotation:rotate", "Complete a pending key rotation (cut-off parties)."),
    "relay": ("consent:relay", "Submit a signed grant or revocation, paying the gas."),
    "emergency": ("consent:emergency", "Configure your break-glass settings (patient)."),
    "break-glass": ("consent:break_glass", "Open time-limited emergency access (responders)."),
    "audit": ("audit:audit", "A patient's access log, verified; sync/verify the archive."),
    "export": ("audit:export", "Export records (FHIR bundle)."),
    "anchor": ("anchor:anchor", "Anchor batches of items on-chain; prove and verify items."),
    "erase": (
        "records:erase",
        "Erase a record: tombstone on-chain, unpin; lists who may hold keys.",
    ),
    "recovery": ("recovery:recovery", "Guardian recovery of a patient's controller key."),
    "consortium": ("consortium:consortium", "The consortium's Safe multisig and timelock."),
    "custodian": ("custodian:custodian", "Run a threshold re-encryption custodian."),
    "cid": ("cid:cid", "Print a file's CID, like `ipfs add --only-hash -Q`."),
    "fund": ("dev:fund", "Give an account ETH (dev chains)."),
    "time": ("dev:time_", "Move or show chain time (dev chains)."),
}


def _debug() -> bool:
    return os.environ.get("MEDLEDGER_DEBUG", "") not in ("", "0", "false", "no")


def report_error(exc: BaseException, code: int, as_json: bool) -> None:
    """One line on stderr (and a JSON object on stdout with --json); never a traceback."""
    from medledger.cli.output import safe

    message = safe(str(exc) or type(exc).__name__)
    hint = getattr(exc, "hint", None)
    if not isinstance(exc, MedledgerError):
        message = f"unexpected {type(exc).__name__}: {message}"
        hint = hint or "this is a bug; rerun with MEDLEDGER_DEBUG=1 and report the traceback"
    line = f"error: {message}" + (f" (hint: {hint})" if hint else "")
    click.echo(" ".join(line.split()), err=True)
    if as_json:
        from medledger.cli.output import error_payload

        error = error_payload(
            type(exc).__name__,
            message,
            code=code,
            hint=hint,
            outcome=getattr(exc, "outcome", None),
            tx_hash=getattr(exc, "tx_hash", None),
        )
        click.echo(json.dumps({"error": error}, indent=2))


def _network_error(exc: Exception, state: CliState) -> Exception:
    """A timeout or refused connection that escaped the SDK untyped, as ChainUnavailable /
    StoreUnavailable naming the endpoint (exit 4) instead of "unexpected ... this is a bug"."""
    import socket

    from medledger.errors import ChainUnavailable, StoreUnavailable

    try:
        import requests

        network: tuple[type[BaseException], ...] = (
            requests.exceptions.ConnectionError,
            requests.exceptions.Timeout,
            socket.timeout,
            ConnectionError,
        )
    except ImportError:  # pragma: no cover - requests comes with web3
        network = (socket.timeout, ConnectionError)
    if isinstance(exc, MedledgerError) or not isinstance(exc, network):
        return exc
    try:
        conn = state.connection()
    except MedledgerError:
        return exc
    text = str(exc)
    store = conn.store or ""
    hint = "check that it runs and answers, or raise MEDLEDGER_TIMEOUT (seconds)"
    if store and any(part in text for part in (store, store.split("://")[-1])):
        return StoreUnavailable(f"the record store at {store} did not answer: {text}", hint=hint)
    return ChainUnavailable(f"the chain node at {conn.rpc} did not answer: {text}", hint=hint)


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use; also the top-level error handler."""

    def __init__(
        self, *args: Any, lazy: dict[str, tuple[str, str]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.lazy) + [c for c in super().list_commands(ctx) if c not in self.lazy]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module, attr = target[0].split(":")
        command = getattr(importlib.import_module(f"medledger.cli.commands.{module}"), attr)
        assert isinstance(command, click.Command)
        command.short_help = target[1]
        return command

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Click's main, with usage errors as one ``error:`` line (plus a hint), exit 2."""
        as_json = "--json" in (sys.argv[1:] if args is None else args)
        try:
            rv = super().main(args, prog_name, complete_var, False, **extra)
        except click.exceptions.UsageError as exc:
            code = exc.exit_code
            path = exc.ctx.command_path if exc.ctx is not None else "medledger"
            if not path.startswith("medledger"):
                path = "medledger" + path[path.find(" ") :] if " " in path else "medledger"
            usage = InvalidInput(exc.format_message(), hint=f"see `{path} --help`")
            if not standalone_mode:
                raise
            report_error(usage, code, as_json)
            sys.exit(code)
        except click.exceptions.ClickException as exc:
            if not standalone_mode:
                raise
            report_error(InvalidInput(exc.format_message()), exc.exit_code, as_json)
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            if not standalone_mode:
                raise
            click.echo("aborted", err=True)
            sys.exit(1)
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(INTERRUPTED)
        except Exception as exc:
            if _debug():
                raise
            exc = _network_error(exc, ctx.ensure_object(CliState))
            code = exit_code_for(exc)
            report_error(exc, code, ctx.ensure_object(CliState).json)
            ctx.exit(code)


HELP = f"""medledger: patient-controlled medical records on an EVM chain.

Consent, a tamper-evident access log and the record index live on-chain; records are encrypted
and stored off-chain by CID. Start with `medledger demo` (nothing to start); every other command
needs a chain and a store: run `medledger node start` first (or pass --rpc/--store).

\b
Examples:
  medledger demo                                 # the reference scenario, nothing to start
  medledger node start                           # local dev node (Anvil) + store + profile
  medledger keys create alice && medledger fund alice
  medledger register patient --as alice
  medledger grant clinic --as alice --category labs --purpose treatment --for 30d
  medledger record add --as clinic --patient 1 --category labs result.json
  medledger audit --as alice --csv trail.csv
  medledger cid scan.dcm

\b
Configuration: $MEDLEDGER_HOME (default ~/.medledger) holds profiles/, keys/, node/, store/.
Environment: MEDLEDGER_PROFILE, MEDLEDGER_ACCOUNT, MEDLEDGER_RPC, MEDLEDGER_IPFS_API,
MEDLEDGER_MANIFEST, MEDLEDGER_PASSWORD (keystore password; never pass it as an argument).

{EXIT_CODES_HELP}
"""


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    help=HELP,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "-V", "--version", prog_name="medledger")
@connection_options
@account_option
@click.pass_context
def cli(ctx: click.Context) -> None:
    ctx.ensure_object(CliState)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (``medledger = medledger.cli.main:main``)."""
    cli.main(args=argv, prog_name="medledger")


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
