"""Shared plumbing for the example workflows: arguments, connection, expectations.

Each example is a plain script that uses the SDK directly (``import medledger``), runs on the
embedded default with no arguments, and exits non-zero when an expectation fails.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from medledger.client import Medledger


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--rpc", default=None, help="chain JSON-RPC URL of a dev chain (default: embedded py-evm)"
    )
    parser.add_argument(
        "--store",
        default=None,
        help="record store: directory or IPFS RPC URL (default: temporary dir)",
    )
    parser.add_argument("--manifest", default=None, help="deployment manifest (deploys if none)")
    return parser.parse_args()


@contextmanager
def connect(args: argparse.Namespace) -> Iterator[Medledger]:
    """The embedded default (fresh chain + temporary store), or the given chain and store."""
    from medledger.client import Medledger  # here, so that --help answers instantly

    with tempfile.TemporaryDirectory(prefix="medledger-example-") as tmp:
        store = args.store or tmp
        if args.rpc is None:
            print(f"connecting: embedded chain, store in {store}")
            yield Medledger.embedded(store_dir=store)
        else:
            print(f"connecting: {args.rpc}, store {store}")
            yield Medledger.open(rpc=args.rpc, store=store, manifest=args.manifest, deploy=True)


class Expectations:
    """Collects checks; prints each one; the script exits 1 if any failed."""

    def __init__(self) -> None:
        self.failed: list[str] = []

    def check(self, ok: bool, what: str) -> None:
        print(f"  [{'ok' if ok else 'FAILED'}] {what}")
        if not ok:
            self.failed.append(what)

    def finish(self) -> None:
        if self.failed:
            print(f"\n{len(self.failed)} expectation(s) failed:", file=sys.stderr)
            for what in self.failed:
                print(f"  - {what}", file=sys.stderr)
            sys.exit(1)
        print("\nall expectations held")
