"""Throughput on Anvil + the embedded store: logged reads, batched access logging, sealing +
storing, and (through bench_storage) CID computation beside aleph-cid and sha256.

    python benchmarks/bench_throughput.py [--quick] [--json]

- logged reads/s: ``session.access.read`` of 1 KiB records by one client, sequentially (log
  on-chain, wait for the receipt, fetch, verify the CID, decrypt); also ``access.log`` alone (the
  chain part) and ``read_many`` (one logging transaction for many reads);
- batched access logging/s: ``recordAccessBatch`` of distinct records through the bindings,
  one transaction at a time (sign, estimate, send, wait);
- sealing + storing MB/s (plaintext bytes): ``session.records.add`` of 1 MiB and 100 MiB (bytes in
  memory, and a file object, which the SDK seals through a temp file), with the seal-only and
  store-only parts for attribution;
- CID/hash MB/s: ``bench_storage.run`` (not ours; called as is).

``run(quick=False) -> dict``; ``markdown(result)``; ``plot(result, out_dir)``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_storage
from common import (
    BENCH_DIR,
    BenchDeployment,
    Progress,
    Sample,
    anvil_deployment,
    bulk_send,
    fmt,
    md_table,
    print_table,
)
from medledger.chain.types import AccessRequest
from medledger.client import Session
from medledger.codes import Category, Purpose
from medledger.crypto import PublicDirectory, seal_record

KIB = 1024
MIB = 1024 * 1024
RAW = 0x55
MAX_BATCH = 256


def _setup_reader(dep: BenchDeployment, records: int) -> tuple[Session, Session, int, list[bytes]]:
    patient = dep.session()
    pid = patient.identity.register().patient_id
    clinic = dep.new_provider("Clinic")
    patient.consent.grant(
        clinic.address,
        categories=["labs"],
        purposes=["treatment"],
        actions=["read", "write"],
        duration=365 * 86_400,
    )
    rids = [
        clinic.records.add(pid, os.urandom(KIB), category="labs").record_id for _ in range(records)
    ]
    return patient, clinic, pid, rids


def measure_reads(dep: BenchDeployment, records: int, reads: int) -> dict[str, Any]:
    """Sequential logged reads of 1 KiB records by one client."""
    _, clinic, _, rids = _setup_reader(dep, records)
    clinic.access.read(rids[0], purpose="treatment")  # warm-up: opens and caches the key bundle
    progress = Progress("logged reads", reads * 2)
    read_times, log_times = [], []
    # read() and log_access() alternate so that both see the same machine load
    for i in range(reads):
        rid = rids[i % len(rids)]
        t = time.perf_counter()
        data = clinic.access.read(rid, purpose="treatment")
        read_times.append(time.perf_counter() - t)
        assert len(data) == KIB  # the benchmark's own data must round-trip
        t = time.perf_counter()
        result = clinic.access.log(rid, purpose="treatment")
        log_times.append(time.perf_counter() - t)
        assert result.allowed
        progress.step(2)
    progress.close()
    t = time.perf_counter()
    many = clinic.access.read_many(rids, purpose="treatment")
    many_s = time.perf_counter() - t
    assert all(isinstance(m, bytes) for m in many)
    read = Sample(tuple(read_times))
    log = Sample(tuple(log_times))
    return {
        "record_bytes": KIB,
        "reads": reads,
        "read": read.to_json(),
        "reads_per_s": reads / sum(read_times),
        "log_access": log.to_json(),
        "logs_per_s": reads / sum(log_times),
        "off_chain_share_of_read": max(0.0, 1 - log.median / read.median),
        "read_many_records": len(rids),
        "read_many_s": many_s,
        "read_many_reads_per_s": len(rids) / many_s,
    }


def measure_batch_logging(
    dep: BenchDeployment, sizes: tuple[int, ...], repeats: int
) -> dict[str, Any]:
    """``recordAccessBatch`` throughput for each batch size (distinct records per batch)."""
    patient = dep.session()
    pid = patient.identity.register().patient_id
    clinic = dep.new_provider("Clinic")
    patient.consent.grant(
        clinic.address, categories=["labs"], purposes=["treatment"], duration=365 * 86_400
    )
    largest = max(sizes)
    rids = [os.urandom(32) for _ in range(largest)]
    contract = patient.contract.contract
    ring = patient.contract.get_patient(pid).keyring  # v2: records name their keyring
    calls = [
        bytes.fromhex(
            contract.encode_abi("addRecord", args=[pid, rid, int(Category.LABS), RAW, ring])[2:]
        )
        for rid in rids
    ]
    progress = Progress("records for batch logging", len(calls))
    bulk_send(dep, patient.address, calls, patient.contract.address, 120_000, progress=progress)
    progress.close()
    treatment = int(Purpose.TREATMENT)
    # The patient's log slot exists from here on, as for any patient already being read.
    clinic.contract.record_access(pid, rids[0], treatment)
    out = []
    progress = Progress("batched logging", len(sizes) * repeats)
    for n in sizes:
        requests = [AccessRequest(pid, rid, treatment) for rid in rids[:n]]
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            tx = clinic.contract.record_access_batch(requests)
            times.append(time.perf_counter() - t)
            assert len(tx.events_named("AccessRecorded")) == n
            progress.step()
        s = Sample(tuple(times))
        out.append(
            {
                "batch": n,
                **s.to_json(),
                "accesses_per_s": n / s.median,
                "gas_per_access": tx.gas_used // n,
            }
        )
    progress.close()
    return {"sizes": out}


def _unpin_all(dep: BenchDeployment, cids: list[Any]) -> None:
    for cid in cids:
        dep.ml.store.unpin(cid)
    dep.ml.store.gc()
    cids.clear()


def measure_seal_store(dep: BenchDeployment, sizes: tuple[tuple[int, int], ...]) -> dict[str, Any]:
    """``add_record`` MB/s (plaintext) in memory and streamed, plus seal-only / put-only."""
    patient = dep.session()
    pid = patient.identity.register().patient_id
    directory = PublicDirectory.from_document(
        dep.ml.get_document(patient.contract.get_patient(pid).keyring)
    )
    rows = []
    pinned: list[Any] = []
    progress = Progress("sealing + storing", sum(r * 4 for _, r in sizes))
    for size, repeats in sizes:
        data = os.urandom(size)
        timings: dict[str, list[float]] = {
            "add_record (bytes)": [],
            "add_record (file)": [],
            "seal only": [],
            "store only": [],
        }
        for _ in range(repeats):
            t = time.perf_counter()
            rec = patient.records.add(pid, data, category="labs")
            timings["add_record (bytes)"].append(time.perf_counter() - t)
            pinned.append(rec.cid)
            progress.step()
            with tempfile.TemporaryFile() as fh:
                fh.write(data)
                fh.seek(0)
                t = time.perf_counter()
                rec = patient.records.add(pid, fh, category="labs")
                timings["add_record (file)"].append(time.perf_counter() - t)
            pinned.append(rec.cid)
            progress.step()
            t = time.perf_counter()
            sealed = seal_record(
                data,
                directory,
                category=int(Category.LABS),
                author=patient.address,
                created_at=dep.ml.now(),
            )
            timings["seal only"].append(time.perf_counter() - t)
            progress.step()
            t = time.perf_counter()
            pinned.append(dep.ml.store.put(sealed))
            timings["store only"].append(time.perf_counter() - t)
            progress.step()
            del sealed
            _unpin_all(dep, pinned)  # keep the store small; gc is not timed
        for path, times in timings.items():
            s = Sample(tuple(times))
            rows.append(
                {
                    "size_bytes": size,
                    "path": path,
                    **s.to_json(),
                    "mb_per_s_best": size / s.best / 1e6,
                    "mb_per_s_median": size / s.median / 1e6,
                }
            )
    progress.close()
    return {"rows": rows}


def run_crypto_bench(timeout: float = 600) -> str:
    """bench_crypto.py (not ours) has only a printing ``main``: run it and keep its output."""
    proc = subprocess.run(
        [sys.executable, str(BENCH_DIR / "bench_crypto.py")],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        return f"bench_crypto.py failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}"
    return proc.stdout


def run(quick: bool = False) -> dict[str, Any]:
    """Every throughput figure; quick = tiny sizes for the smoke test."""
    result: dict[str, Any] = {"quick": quick}
    with anvil_deployment("throughput") as dep:
        result["reads"] = measure_reads(dep, records=3 if quick else 20, reads=4 if quick else 150)
        r = result["reads"]
        print_table(
            "Logged reads (1 KiB, one client, sequential)",
            ["what", "per second", "median ms", "p90 ms"],
            [
                [
                    "read() = log + fetch + verify + decrypt",
                    fmt(r["reads_per_s"]),
                    fmt(r["read"]["median_s"] * 1e3),
                    fmt(r["read"]["p90_s"] * 1e3),
                ],
                [
                    "log_access() only (on-chain part)",
                    fmt(r["logs_per_s"]),
                    fmt(r["log_access"]["median_s"] * 1e3),
                    fmt(r["log_access"]["p90_s"] * 1e3),
                ],
                [
                    f"read_many() of {r['read_many_records']}",
                    fmt(r["read_many_reads_per_s"]),
                    fmt(r["read_many_s"] * 1e3),
                    "-",
                ],
            ],
        )
        sizes = (1, 16) if quick else (1, 16, 64, MAX_BATCH)
        result["batch"] = measure_batch_logging(dep, sizes, repeats=1 if quick else 5)
        print_table(
            "Batched access logging (recordAccessBatch, distinct records)",
            ["batch", "accesses/s", "median s/tx", "gas/access"],
            [
                [
                    b["batch"],
                    fmt(b["accesses_per_s"]),
                    f"{b['median_s']:.3f}",
                    f"{b['gas_per_access']:,}",
                ]
                for b in result["batch"]["sizes"]
            ],
        )
        seal_sizes = ((MIB, 2), (4 * MIB, 1)) if quick else ((MIB, 10), (100 * MIB, 3))
        result["seal_store"] = measure_seal_store(dep, seal_sizes)
        print_table(
            "Sealing + storing (embedded store, MB/s of plaintext)",
            ["size", "path", "best MB/s", "median MB/s"],
            [
                [
                    _size(x["size_bytes"]),
                    x["path"],
                    fmt(x["mb_per_s_best"]),
                    fmt(x["mb_per_s_median"]),
                ]
                for x in result["seal_store"]["rows"]
            ],
        )
    print("\n== CID / hashing / embedded put (bench_storage.run)", flush=True)
    result["storage"] = bench_storage.run(quick=quick)
    result["storage_file_mib"] = 8 if quick else 256
    print_table(
        "CID and store (MB/s)",
        ["figure", "MB/s"],
        [[k, fmt(v)] for k, v in result["storage"].items()],
    )
    if not quick:
        print("\n== bench_crypto.py (verbatim)", flush=True)
        result["crypto_output"] = run_crypto_bench()
        print(result["crypto_output"])
    return result


def _size(n: int) -> str:
    return f"{n // MIB} MiB" if n >= MIB else f"{n // KIB} KiB"


def headline(result: dict[str, Any]) -> dict[str, float]:
    """The figures the targets are judged on."""
    st = result["storage"]
    batch = max(result["batch"]["sizes"], key=lambda b: b["batch"])
    big = max(x["size_bytes"] for x in result["seal_store"]["rows"])
    seal_big = {
        x["path"]: x["mb_per_s_median"]
        for x in result["seal_store"]["rows"]
        if x["size_bytes"] == big
    }
    return {
        "logged_reads_per_s": result["reads"]["reads_per_s"],
        "batched_accesses_per_s": batch["accesses_per_s"],
        "batch_size": batch["batch"],
        "seal_store_size_mib": big // MIB,
        "seal_store_bytes_mb_s": seal_big["add_record (bytes)"],
        "seal_store_file_mb_s": seal_big["add_record (file)"],
        "cid_v1_ratio_to_aleph": st["cid v1 medledger MB/s"] / st["cid v1 aleph-cid MB/s"],
        "cid_v0_ratio_to_aleph": st["cid v0 medledger MB/s"] / st["cid v0 aleph-cid MB/s"],
        "cid_v1_mb_s": st["cid v1 medledger MB/s"],
        "cid_v0_mb_s": st["cid v0 medledger MB/s"],
        "sha256_mb_s": st["sha256 MB/s"],
        "embedded_put_mb_s": st["embedded put MB/s"],
    }


def markdown(result: dict[str, Any]) -> str:
    """The throughput section of RESULTS.md."""
    r = result["reads"]
    h = headline(result)
    st = result["storage"]
    lines = [
        f"### Logged reads ({r['record_bytes'] // KIB} KiB records, one client, sequential, "
        f"{r['reads']} reads)",
        "",
        md_table(
            ["what", "per second", "median ms", "p90 ms"],
            [
                [
                    "`read()` = log on-chain + fetch + verify CID + decrypt",
                    fmt(r["reads_per_s"]),
                    fmt(r["read"]["median_s"] * 1e3),
                    fmt(r["read"]["p90_s"] * 1e3),
                ],
                [
                    "`log_access()` only (the on-chain part of a read)",
                    fmt(r["logs_per_s"]),
                    fmt(r["log_access"]["median_s"] * 1e3),
                    fmt(r["log_access"]["p90_s"] * 1e3),
                ],
                [
                    f"`read_many()` of {r['read_many_records']} records (one logging tx)",
                    fmt(r["read_many_reads_per_s"]),
                    fmt(r["read_many_s"] * 1e3) + " (whole call)",
                    "—",
                ],
            ],
            "lrrr",
        ),
        "",
        "`read()` and `log_access()` calls alternate, so both see the same load. The "
        f"on-chain logging is {100 * (1 - r['off_chain_share_of_read']):.0f}% of a read's "
        "median time; the rest is the SDK's key-bundle lookup (`eth_getLogs`) plus fetching, "
        "verifying and decrypting 1 KiB. Each transaction is signed client-side (see the "
        "secp256k1 backend in the header), gas-estimated, sent and waited for.",
        "",
        "### Batched access logging (`recordAccessBatch`, distinct records, one tx at a time)",
        "",
        md_table(
            ["batch size", "accesses/s", "median s per tx", "gas per access"],
            [
                [
                    b["batch"],
                    fmt(b["accesses_per_s"]),
                    f"{b['median_s']:.3f}",
                    f"{b['gas_per_access']:,}",
                ]
                for b in result["batch"]["sizes"]
            ],
            "rrrr",
        ),
        "",
        "### Sealing + storing (embedded store; MB/s of plaintext, 1 MB = 10^6 bytes)",
        "",
        md_table(
            ["size", "path", "runs", "best MB/s", "median MB/s"],
            [
                [
                    _size(x["size_bytes"]),
                    x["path"],
                    x["n"],
                    fmt(x["mb_per_s_best"]),
                    fmt(x["mb_per_s_median"]),
                ]
                for x in result["seal_store"]["rows"]
            ],
            "llrrr",
        ),
        "",
        "`add_record (bytes)` seals in memory then stores; `add_record (file)` streams the input "
        "through a sealed temp file into the store (constant memory); both include the "
        "`addRecord` transaction. `seal only` is AES-256-GCM sealing; `store only` is "
        "`EmbeddedStore.put` of the sealed bytes (chunking, hashing, one durable write — temp "
        "file, fdatasync, rename — per 256 KiB block). Sealing is far faster than storing: the "
        "store's per-block fdatasync dominates.",
        "",
        f"### CID computation and embedded put ({result['storage_file_mib']} MiB file, "
        "`bench_storage.run`, best of runs, same process)",
        "",
        md_table(["figure", "MB/s"], [[k, fmt(v)] for k, v in st.items()], "lr"),
        "",
        f"Ratios in this run: CID v1 medledger ÷ aleph-cid = {h['cid_v1_ratio_to_aleph']:.3f}, "
        f"CID v0 medledger ÷ aleph-cid = {h['cid_v0_ratio_to_aleph']:.3f}; CID v1 ÷ plain "
        "sha256 (the single-core hashing floor) = "
        f"{h['cid_v1_mb_s'] / h['sha256_mb_s']:.3f}, CID v0 ÷ "
        f"sha256 = {h['cid_v0_mb_s'] / h['sha256_mb_s']:.3f}. Plain sha256 and aleph-cid hash on "
        "one thread; medledger's CID code hashes leaves on a small thread pool, so on 2 idle "
        "cores it can beat the single-core hashing floor, and under load from other processes "
        "it loses that edge: these ratios depend on the load of the moment.",
    ]
    if result.get("crypto_output"):
        lines += [
            "",
            "### Record crypto (`benchmarks/bench_crypto.py`, verbatim)",
            "",
            "```",
            result["crypto_output"].rstrip(),
            "```",
        ]
    return "\n".join(lines)


def plot(result: dict[str, Any], out_dir: Path) -> list[Path]:
    """Bar charts: CID/hash/store MB/s, and batched logging accesses/s by batch size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    st = result["storage"]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    names = list(st)
    ax.barh(names, [st[n] for n in names], color="tab:blue")
    ax.invert_yaxis()
    ax.set_xlabel("MB/s (10^6 bytes/s)")
    ax.set_title(f"CID, sha256 and embedded put, {result['storage_file_mib']} MiB file")
    fig.tight_layout()
    paths.append(out_dir / "cid_throughput.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    sizes = result["batch"]["sizes"]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot([b["batch"] for b in sizes], [b["accesses_per_s"] for b in sizes], "o-")
    reads = result["reads"]["reads_per_s"]
    ax.axhline(reads, linestyle="--", color="grey", label=f"full SDK read(): {reads:.1f}/s")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("accesses per recordAccessBatch transaction")
    ax.set_ylabel("logged accesses per second")
    ax.set_title("Access logging throughput on Anvil (one client)")
    ax.legend()
    fig.tight_layout()
    paths.append(out_dir / "access_logging_throughput.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke run)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    result = run(quick=args.quick)
    if args.json:
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
