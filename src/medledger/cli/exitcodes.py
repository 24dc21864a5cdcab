"""Exit codes of the ``medledger`` command and the mapping from errors to them.

Scripts branch on these, so they are part of the public interface (documented in docs/cli.md and
in ``medledger --help``). This module imports nothing heavy: it runs on every error path.
"""

from __future__ import annotations

from medledger.errors import (
    AccessDenied,
    ChainUnavailable,
    InvalidInput,
    MedledgerError,
    NotAuthorized,
    StoreUnavailable,
)

OK = 0
#: Any other medledger error (integrity failure, wrong password, reverted transaction, ...).
ERROR = 1
#: Invalid input or usage (also click's own usage errors): nothing was sent or stored.
INVALID_INPUT = 2
#: Denied: the on-chain consent check refused (the denial was logged), or the account may not do it.
DENIED = 3
#: The chain node or the record store cannot be reached (or none is configured).
UNREACHABLE = 4
#: Interrupted by Ctrl-C (the shell convention 128 + SIGINT).
INTERRUPTED = 130

EXIT_CODES_HELP = """\b
Exit codes:
  0  success
  1  other medledger error (integrity, keystore, reverted transaction, ...)
  2  invalid input or usage (nothing was sent)
  3  denied (consent refused and logged on-chain, or account not allowed)
  4  node or store unreachable / not configured
Errors are one line with a hint; MEDLEDGER_DEBUG=1 shows the traceback."""


def exit_code_for(exc: BaseException) -> int:
    """The exit code for an exception that reached the top of the command."""
    if isinstance(exc, InvalidInput):
        return INVALID_INPUT
    if isinstance(exc, AccessDenied | NotAuthorized):
        return DENIED
    if isinstance(exc, ChainUnavailable | StoreUnavailable):
        return UNREACHABLE
    if isinstance(exc, MedledgerError):
        return ERROR
    return ERROR


def error_kind(code: int) -> str:
    """A stable machine-readable name for an exit code (used in ``--json`` error objects)."""
    return {
        INVALID_INPUT: "invalid_input",
        DENIED: "denied",
        UNREACHABLE: "unreachable",
    }.get(code, "error")
