"""Custodian request handling, excluding the chain query (issue 16 target: p50 <= 5 ms).

    python benchmarks/custodian_handling.py [--requests N] [--backend sqlite|postgresql-url]

One ``medledger custodian serve`` process on loopback, a SQLite (WAL) store (or
``--db postgresql://...``), a fresh Anvil with MedLedger deployed, one reader holding a kfrag and
one logged access. Each request is a fresh signed ``/v1/reencrypt`` (new nonce) through the real
HTTP stack. The custodian reports ``Server-Timing: chain;dur=..., handler;dur=...,
handler-cpu;dur=...``: ``chain`` is the wall time of its 2 round trips to the node (one JSON-RPC
batch of latest block, receipt and getRecord, then hasAccess); ``handler`` the wall time of
everything else it does (parse, signature recovery, replay check, store reads, re-encryption,
receipt signing, the served-row commit); ``handler-cpu`` the CPU time of that work on its
thread, which other processes' load does not inflate. The client also times the whole round
trip. Prints a table; ``--results`` appends it to benchmarks/RESULTS.md.

The world (patient, reader, records) is the one the custodian tests use
(tests/custodian/custodian_world.py), so the benchmark measures exactly what the tests check.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "custodian"))

import httpx  # noqa: E402
from custodian_world import make_world  # noqa: E402

from common import load_line, machine_info  # noqa: E402
from helpers.custodian_procs import CustodianProc, start_custodians  # noqa: E402
from medledger.custodian import protocol as p  # noqa: E402
from medledger.nodes import start_anvil  # noqa: E402


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(requests: int, db: str | None) -> dict[str, Any]:
    load_start = load_line()
    with tempfile.TemporaryDirectory() as tmp:
        anvil = start_anvil()
        try:
            world = make_world(anvil.url)
            custodian = CustodianProc(
                Path(tmp) / "custodian", anvil.url, world.medledger,
                "--max-lag", "0", "--rate", "1000000", "--burst", "1000000",
                db=db or f"sqlite:{Path(tmp) / 'custodian.db'}",
            )  # fmt: skip
            start_custodians([custodian])
            try:
                reader = world.new_reader("Bench Clinic")
                # k = 1 of 1 here: one custodian's handling is what is measured
                world.delegate([custodian], reader, threshold=1)
                record = world.add_record()
                world.register([custodian], record)
                tx = world.log_access(reader, record)
                parts: dict[str, list[float]] = {
                    "chain": [], "handler": [], "handler-cpu": [], "round": []
                }  # fmt: skip
                with httpx.Client(base_url=custodian.url, timeout=30) as http:
                    for i in range(requests + 20):
                        req, sig = world.request(reader, record, tx)
                        body = {
                            "request": req.to_json(),
                            "capsule": p.to_hex(record.capsule),
                            "signature": p.to_hex(sig),
                        }
                        start = time.perf_counter()
                        response = http.post("/v1/reencrypt", json=body)
                        elapsed = (time.perf_counter() - start) * 1000
                        response.raise_for_status()
                        if i < 20:  # warm-up
                            continue
                        for part in response.headers["server-timing"].split(","):
                            name, dur = part.strip().split(";dur=")
                            parts[name].append(float(dur))
                        parts["round"].append(elapsed)
            finally:
                custodian.stop()
        finally:
            anvil.stop()
    out: dict[str, Any] = {
        "requests": requests,
        "backend": "postgresql" if db else "sqlite (WAL)",
        "load_start": load_start,
        "load_end": load_line(),
        "machine": machine_info(),
    }
    for name, values in parts.items():
        out[f"{name}_p50"] = statistics.median(values)
        out[f"{name}_p95"] = _pct(values, 0.95)
    return out


def markdown(r: dict[str, Any]) -> str:
    m = r["machine"]
    rows = [
        ("custodian handling, excluding the chain query: wall", r["handler_p50"], r["handler_p95"]),
        ("the same, CPU time of the handling thread", r["handler-cpu_p50"], r["handler-cpu_p95"]),
        ("its chain calls: 2 round trips (Anvil, loopback)", r["chain_p50"], r["chain_p95"]),
        ("client round trip (HTTP on loopback, all included)", r["round_p50"], r["round_p95"]),
    ]
    lines = [
        "## Custodians",
        "",
        f"`python benchmarks/custodian_handling.py --requests {r['requests']}` (issue 16), one "
        f"run, commit {m.get('commit', '?')}, {m.get('cores', '?')} cores, "
        f"store {r['backend']}. One `medledger custodian serve` process on loopback, "
        f"{r['requests']} fresh signed `/v1/reencrypt` requests (after 20 warm-up), each a new "
        "nonce on one logged access; times from the custodian's `Server-Timing` header and the "
        "client's clock.",
        "",
        "| part of one re-encryption request | p50 (ms) | p95 (ms) |",
        "|---|---:|---:|",
        *(f"| {name} | {p50:.2f} | {p95:.2f} |" for name, p50, p95 in rows),
        "",
        f"Target: handling excluding the chain query p50 ≤ 5 ms — measured "
        f"{r['handler_p50']:.2f} ms: **{'met' if r['handler_p50'] <= 5 else 'missed'}**.",
        f"Machine load {r['load_start']} at start, {r['load_end']} at end (2 cores: a load "
        "above 2 means other processes competed for them and inflated the wall times).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--db", default=None, help="postgresql://... (default: SQLite)")
    parser.add_argument("--results", action="store_true", help="append to RESULTS.md")
    args = parser.parse_args()
    result = run(args.requests, args.db)
    text = markdown(result)
    print(text)
    if args.results:
        path = ROOT / "benchmarks" / "RESULTS.md"
        path.write_text(path.read_text().rstrip("\n") + "\n\n" + text)


if __name__ == "__main__":
    main()
