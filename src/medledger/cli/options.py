"""Click options that several commands share (one definition each)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

#: A patient id as the contracts store it (uint64; ids start at 1): a larger or negative one is
#: refused as a usage error instead of reaching the ABI encoder.
PATIENT_ID = click.IntRange(1, 2**64 - 1)


def purpose_option(help: str) -> Decorator:
    """``-p/--purpose`` of a logged read (default treatment)."""
    return click.option("-p", "--purpose", default="treatment", show_default=True, help=help)


def path_option(*decls: str, help: str, required: bool = False) -> Decorator:
    """An output file path option (``-o/--out``, ``--csv``, ...)."""
    return click.option(
        *decls,
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        required=required,
        help=help,
    )


def patient_option() -> Decorator:
    """``--patient ID``, defaulting to the ``--as`` account's own patient."""
    return click.option(
        "--patient",
        "patient_id",
        type=PATIENT_ID,
        default=None,
        help="Patient id (default: the --as account's own).",
    )
