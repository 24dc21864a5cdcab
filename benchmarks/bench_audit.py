"""Audit archive verification time for 100 .. 100,000 access-log entries, archive write rate and
Merkle batch costs.

Run: python benchmarks/bench_audit.py [--quick] [--json]
``run(quick)`` returns the figures as a dict (seconds unless the key says otherwise); no assertions.
Entries are synthetic but go through the real write path (``Archive.apply_page``) into a SQLite
file, and verification reads them back exactly as ``verify_patient`` does (minus the one
``logHead`` call).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from medledger.anchoring import Batch, verify_proof
from medledger.audit.archive import Archive, SyncedBlock
from medledger.audit.events import DecodedEvent
from medledger.audit.hashchain import ZERO_HEAD, next_head, next_head_reference
from medledger.audit.verify import verify_entries

PATIENT = 1
PAGE = 2000


def _events(n: int) -> tuple[list[DecodedEvent], bytes]:
    head, out = ZERO_HEAD, []
    for seq in range(n):
        accessor = bytes([seq % 200 + 1]) * 20
        record = seq.to_bytes(32, "big")
        purpose, outcome, ts = seq % 8, (16 if seq % 7 == 0 else 0), 1_700_000_000 + seq
        head = next_head(head, PATIENT, seq, accessor, record, purpose, outcome, ts)
        out.append(
            DecodedEvent(
                name="AccessRecorded",
                address="0x" + "00" * 19 + "01",
                block_number=seq + 1,
                block_hash="0x" + seq.to_bytes(32, "big").hex(),
                tx_hash="0x" + (seq + 1).to_bytes(32, "big").hex(),
                log_index=0,
                args={
                    "patientId": PATIENT,
                    "accessor": "0x" + accessor.hex(),
                    "recordId": "0x" + record.hex(),
                    "seq": seq,
                    "purpose": purpose,
                    "outcome": outcome,
                    "timestamp": ts,
                    "head": "0x" + head.hex(),
                },
            )
        )
    return out, head


def _write(archive: Archive, events: list[DecodedEvent]) -> float:
    t = time.perf_counter()
    for i in range(0, len(events), PAGE):
        page = events[i : i + PAGE]
        times = {e.block_number: int(e.args["timestamp"]) for e in page}
        last = page[-1]
        tip = SyncedBlock(last.block_number, last.block_hash, int(last.args["timestamp"]))
        archive.apply_page(page, times, [tip], tip, 64)
    return time.perf_counter() - t


def _best(fn: Any, reps: int) -> float:
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def bench_verification(n: int, directory: Path, reference_limit: int) -> dict[str, Any]:
    """Write ``n`` entries, then time load + verify (end to end) and verify alone."""
    events, head = _events(n)
    archive = Archive.open(directory / f"bench-{n}.sqlite")
    write_s = _write(archive, events)
    reps = 3 if n <= 10_000 else 1
    entries = archive.access_entries(PATIENT)
    report = verify_entries(PATIENT, entries, head, n)
    assert report.ok, report.problem  # the benchmark's own data must verify

    def end_to_end() -> None:
        verify_entries(PATIENT, archive.access_entries(PATIENT), head, n)

    out: dict[str, Any] = {
        "entries": n,
        "archive_write_s": round(write_s, 4),
        "archive_write_entries_per_s": round(n / write_s),
        "load_and_verify_s": round(_best(end_to_end, reps), 4),
        "verify_only_s": round(_best(lambda: verify_entries(PATIENT, entries, head, n), reps), 4),
    }
    if n <= reference_limit:
        # the same chain recomputed with eth_abi.encode (the spec formula, literally)
        def reference() -> None:
            h = ZERO_HEAD
            for e in entries:
                h = next_head_reference(
                    h, e.patient_id, e.seq, bytes.fromhex(e.accessor[2:]),
                    bytes.fromhex(e.record_id[2:]), e.purpose, e.outcome, e.timestamp,
                )  # fmt: skip

        out["recompute_with_eth_abi_s"] = round(_best(reference, 1), 4)
    archive.close()
    return out


def bench_merkle(n: int) -> dict[str, Any]:
    """Build a batch of ``n`` digests; prove and verify every item."""
    digests = [i.to_bytes(32, "big") for i in range(n)]
    t = time.perf_counter()
    batch = Batch.from_digests(b"\x01" * 32, digests)
    build = time.perf_counter() - t
    t = time.perf_counter()
    proofs = [batch.proof(i) for i in range(n)]
    prove = time.perf_counter() - t
    t = time.perf_counter()
    ok = all(verify_proof(batch.root, digests[i], proofs[i]) for i in range(n))
    verify = time.perf_counter() - t
    assert ok
    return {
        "items": n,
        "build_s": round(build, 4),
        "proof_us_per_item": round(prove / n * 1e6, 1),
        "verify_us_per_item": round(verify / n * 1e6, 1),
        "proof_hashes": len(proofs[0]),
        "manifest_bytes": len(batch.to_json()),
    }


def run(quick: bool = False) -> dict[str, Any]:
    """All figures as a dict. ``quick``: up to 10,000 entries and a 1,000-item batch."""
    sizes = (100, 1_000, 10_000) if quick else (100, 1_000, 10_000, 100_000)
    with tempfile.TemporaryDirectory() as tmp:
        verification = [bench_verification(n, Path(tmp), reference_limit=10_000) for n in sizes]
    merkle = [bench_merkle(n) for n in ((1_000,) if quick else (1_000, 10_000, 100_000))]
    return {"verification": verification, "merkle": merkle, "quick": quick}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="up to 10,000 entries only")
    parser.add_argument("--json", action="store_true", help="print the dict as JSON")
    args = parser.parse_args()
    figures = run(args.quick)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"{'entries':>8} {'write/s':>10} {'load+verify':>12} {'verify':>9} {'eth_abi':>9}")
    for v in figures["verification"]:
        ref = v.get("recompute_with_eth_abi_s")
        print(
            f"{v['entries']:>8,} {v['archive_write_entries_per_s']:>10,} "
            f"{v['load_and_verify_s']:>11.3f}s {v['verify_only_s']:>8.3f}s "
            f"{(f'{ref:.3f}s' if ref is not None else '-'):>9}"
        )
    for m in figures["merkle"]:
        print(
            f"merkle {m['items']:>7,} items: build {m['build_s']:.3f}s, proof "
            f"{m['proof_us_per_item']} us/item ({m['proof_hashes']} hashes), verify "
            f"{m['verify_us_per_item']} us/item, manifest {m['manifest_bytes']:,} B"
        )


if __name__ == "__main__":
    main()
