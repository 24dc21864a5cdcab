"""Sealed-record throughput (MB/s) for 1 MiB and 100 MiB, both key suites.

Run: python benchmarks/bench_crypto.py   (prints one line per operation; no assertions)
"""

from __future__ import annotations

import io
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from medledger.crypto import (
    Keyring,
    Suite,
    open_file,
    open_record,
    open_stream,
    seal_file,
    seal_record,
    seal_stream,
)
from medledger.crypto.hpke import hpke_seal

AUTHOR = "0x" + "11" * 20
LABS = 3


def _timed(fn: Callable[[], object], reps: int) -> tuple[float, float]:
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    times.sort()
    return times[0], times[len(times) // 2]


def _report(suite: Suite, size: int, name: str, fn: Callable[[], object], reps: int) -> None:
    best, median = _timed(fn, reps)
    mb = size / 1e6
    print(
        f"{suite.label:16} {size >> 20:4} MiB {name:12} "
        f"best {mb / best:6,.0f} MB/s  median {mb / median:6,.0f} MB/s"
    )


def _bench_size(keyring: Keyring, size: int, reps: int) -> None:
    directory = keyring.directory()
    data = os.urandom(size)
    blob = seal_record(data, directory, category=LABS, author=AUTHOR, created_at=1)
    suite = keyring.suite
    _report(
        suite,
        size,
        "seal_record",
        lambda: seal_record(data, directory, category=LABS, author=AUTHOR, created_at=1),
        reps,
    )
    _report(suite, size, "open_record", lambda: open_record(blob, keyring), reps)
    _report(
        suite,
        size,
        "seal_stream",
        lambda: seal_stream(
            io.BytesIO(data), io.BytesIO(), directory, category=LABS, author=AUTHOR
        ),
        reps,
    )
    _report(
        suite,
        size,
        "open_stream",
        lambda: open_stream(io.BytesIO(blob), io.BytesIO(), keyring),
        reps,
    )
    with tempfile.TemporaryDirectory() as tmp:
        plain, sealed = Path(tmp, "p"), Path(tmp, "s")
        plain.write_bytes(data)
        sealed.write_bytes(blob)
        _report(
            suite,
            size,
            "seal_file",
            lambda: seal_file(plain, Path(tmp, "s2"), directory, category=LABS, author=AUTHOR),
            reps,
        )
        _report(suite, size, "open_file", lambda: open_file(sealed, Path(tmp, "o"), keyring), reps)


def _bench_suite(suite: Suite) -> None:
    keyring = Keyring.create(1, suite=suite)
    recipient = keyring.directory().recipient(LABS, 0).public_key
    best, _ = _timed(lambda: hpke_seal(recipient, bytes(32), label=b"b", context=b""), 200)
    print(f"{suite.label:16} HPKE wrap: {1 / best:,.0f} wraps/s")
    for size, reps in ((1 << 20, 30), (100 << 20, 5)):
        _bench_size(keyring, size, reps)


def main() -> None:
    for suite in Suite:
        _bench_suite(suite)


if __name__ == "__main__":
    main()
