"""``medledger cid FILE``: the CID IPFS would give a file, computed locally."""

from __future__ import annotations

from pathlib import Path

import click

from medledger.cli.output import print_json
from medledger.cli.state import get_state, json_option


@click.command(
    epilog="""\b
Examples:
  medledger cid scan.dcm                  # same as: ipfs add --only-hash -Q --cid-version=1
  medledger cid --cid-version 0 scan.dcm  # same as: ipfs add --only-hash -Q (Qm...)"""
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
@click.option(
    "--cid-version",
    type=click.IntRange(0, 1),
    default=1,
    show_default=True,
    help="0: dag-pb leaves (Kubo's historic default, Qm...); 1: raw leaves (bafy.../bafk...).",
)
@json_option
def cid(file: Path, cid_version: int) -> None:
    """Print the CID of FILE exactly as `ipfs add --only-hash -Q` would (nothing is stored).

    UnixFS with Kubo's defaults fixed in code: 256 KiB chunks, balanced DAG, sha2-256.
    """
    from medledger.storage.compute import cid_of_file

    value = str(cid_of_file(file, cid_version))
    if get_state().json:
        print_json({"file": str(file), "cid": value, "cid_version": cid_version})
    else:
        click.echo(value)
