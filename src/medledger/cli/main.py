"""The root ``medledger`` command: lazy subcommand loading, global options, error handling.

Subcommands live in :mod:`medledger.cli.commands` and are imported only when used, so
``medledger --help`` and ``medledger cid FILE`` never import web3 or py-evm.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from typing import Any

import click

from medledger import __version__
from medledger.cli.exitcodes import EXIT_CODES_HELP, INTERRUPTED, exit_code_for
from medledger.cli.state import CliState, account_option, connection_options
from medledger.errors import MedledgerError

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
    "cid": ("cid:cid", "Print a file's CID, like `ipfs add --only-hash -Q`."),
    "fund": ("dev:fund", "Give an account ETH (dev chains)."),
    "time": ("dev:time_", "Move or show chain time (dev chains)."),
}


def _debug() -> bool:
    return os.environ.get("MEDLEDGER_DEBUG", "") not in ("", "0", "false", "no")


def report_error(exc: BaseException, code: int, as_json: bool) -> None:
    """One line on stderr (and a JSON object on stdout with --json); never a traceback."""
    message = str(exc) or type(exc).__name__
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
            code = exit_code_for(exc)
            report_error(exc, code, ctx.ensure_object(CliState).json)
            ctx.exit(code)


HELP = f"""medledger: patient-controlled medical records on an EVM chain.

Consent, a tamper-evident access log and the record index live on-chain; records are encrypted
and stored off-chain by CID. Start with `medledger demo`.

\b
Examples:
  medledger demo                                 # the reference scenario, nothing to start
  medledger node start                           # persistent local Anvil + store + profile
  medledger keys create alice
  medledger register patient --as alice
  medledger grant 0xSpecialist --as alice --category labs --purpose treatment --for 30d
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
