"""Custodian mode (issue 16) on Anvil, with real custodian processes on loopback.

    python benchmarks/bench_custodians.py [--quick] [--json] [--plot DIR]

- logged reads through 2-of-3 custodians vs the direct path, in the same run, alternating
  (one client, sequential, 1 KiB records): the ratio of reads/s (target >= 0.5x);
- erasure with 3 custodians end to end (``session.records.erase``: the on-chain tombstone, the
  unpin, and signed erasure receipts from all 3; target <= 1 s);
- read latency vs number of custodians (3, 5, 7 with k = n // 2 + 1), plotted.

Each custodian is a ``medledger custodian serve`` process with its own SQLite database (the
helper the custodian-mode tests use). The client asks all n custodians in parallel, waits for
every answer (each within its timeout, so that a forged fragment is named) and opens the record
with k verified fragments.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "tests"))

from common import (  # noqa: E402
    BenchDeployment,
    Sample,
    anvil_deployment,
    fmt,
    load_line,
    md_table,
    print_table,
)
from helpers.custodian_procs import CustodianProc, start_custodians  # noqa: E402
from medledger.chain.transactions import TxSender  # noqa: E402
from medledger.client import Session  # noqa: E402

KIB = 1024
CUSTODIAN_ARGS = ("--finality", "1", "--max-age", "300", "--max-lag", "0", "--rate", "1000",
                  "--burst", "2000")  # fmt: skip


def _custodians(dep: BenchDeployment, n: int, workdir: Path) -> list[CustodianProc]:
    medledger = dep.ml.contracts.medledger.address
    procs = [
        CustodianProc(workdir / f"c{n}-{i}", dep.node.url, medledger, *CUSTODIAN_ARGS)
        for i in range(n)
    ]
    start_custodians(procs)
    registry = dep.ml.contracts.custodians
    assert registry is not None
    for i, c in enumerate(procs):
        dep.consortium.consortium.register_custodian(c.keys.address, f"bench {n}/{i}", c.url)
        dep.ml.fund(c.keys.address, 10**18)
        registry.connect_as(TxSender(dep.ml.chain, c.keys.account)).set_custodian_key(
            c.keys.encryption_key
        )
    return procs


def _patient(dep: BenchDeployment, clinic: Session) -> tuple[Session, int]:
    patient = dep.session()
    pid = patient.identity.register().patient_id
    patient.consent.grant(
        clinic.address, ["labs"], ["treatment"], ["read", "write"], duration=365 * 86_400
    )
    return patient, pid


def _records(who: Session, pid: int, count: int) -> list[bytes]:
    return [who.records.add(pid, os.urandom(KIB), "labs").record_id for _ in range(count)]


def measure(quick: bool = False) -> dict[str, Any]:
    reads = 4 if quick else 40
    result: dict[str, Any] = {"reads": reads, "load_before": load_line()}
    workdir = Path(tempfile.mkdtemp(prefix="medledger-bench-custodians-"))
    procs: list[CustodianProc] = []
    with anvil_deployment("custodians") as dep:
        try:
            clinic = dep.new_provider("Clinic")
            # direct path: a patient without custodian mode
            _, direct_pid = _patient(dep, clinic)
            direct = _records(clinic, direct_pid, 5)
            # custodian path: 2 of 3
            three = _custodians(dep, 3, workdir)
            procs += three
            patient, pid = _patient(dep, clinic)
            patient.custodians.configure([c.keys.address for c in three], 2, ["labs"])
            patient.custodians.delegate(clinic.address)
            custodial = _records(clinic, pid, 5)
            clinic.custodians.read(custodial[0], "treatment", patient_id=pid)  # warm up
            clinic.access.read(direct[0], "treatment", patient_id=direct_pid)
            t_direct: list[float] = []
            t_cust: list[float] = []
            for i in range(reads):  # alternate, so both see the same load
                t0 = time.perf_counter()
                clinic.access.read(direct[i % 5], "treatment", patient_id=direct_pid)
                t1 = time.perf_counter()
                clinic.custodians.read(custodial[i % 5], "treatment", patient_id=pid)
                t2 = time.perf_counter()
                t_direct.append(t1 - t0)
                t_cust.append(t2 - t1)
            result["direct"] = Sample(tuple(t_direct)).to_json()
            result["custodian_2of3"] = Sample(tuple(t_cust)).to_json()
            result["direct_reads_per_s"] = reads / sum(t_direct)
            result["custodian_reads_per_s"] = reads / sum(t_cust)
            result["ratio"] = result["custodian_reads_per_s"] / result["direct_reads_per_s"]

            erase_times, custodian_part = [], []
            fan_out = patient.custodians.erase

            def timed_fan_out(record: Any) -> Any:  # the custodians' share of an erasure
                t = time.perf_counter()
                out = fan_out(record)
                custodian_part.append(time.perf_counter() - t)
                return out

            patient.custodians.erase = timed_fan_out  # type: ignore[method-assign]
            for _ in range(3 if quick else 10):
                rid = _records(patient, pid, 1)[0]
                t0 = time.perf_counter()
                patient.records.erase(rid)
                erase_times.append(time.perf_counter() - t0)
                erasure = patient.custodians.last_erasure
                assert erasure is not None
                assert erasure.receipts.complete
            result["erasure_3"] = Sample(tuple(erase_times)).to_json()
            result["erasure_3_custodians"] = Sample(tuple(custodian_part)).to_json()

            scaling = []
            for n in (3, 5, 7):
                group = three if n == 3 else _custodians(dep, n, workdir)
                if n != 3:
                    procs += group
                k = n // 2 + 1
                p, p_id = _patient(dep, clinic)
                p.custodians.configure([c.keys.address for c in group], k, ["labs"])
                p.custodians.delegate(clinic.address)
                rids = _records(clinic, p_id, 3)
                clinic.custodians.read(rids[0], "treatment", patient_id=p_id)
                times = []
                for i in range(max(3, reads // 2)):
                    t0 = time.perf_counter()
                    clinic.custodians.read(rids[i % 3], "treatment", patient_id=p_id)
                    times.append(time.perf_counter() - t0)
                scaling.append({**Sample(tuple(times)).to_json(), "n": n, "k": k})
            result["scaling"] = scaling
            result["load_after"] = load_line()
        finally:
            for c in procs:
                c.stop()
    return result


def markdown(r: dict[str, Any]) -> str:
    rows = [
        ["direct `access.read()` (key bundle)", fmt(r["direct_reads_per_s"]),
         fmt(r["direct"]["median_s"] * 1000), fmt(r["direct"]["p90_s"] * 1000)],
        ["through 2 of 3 custodians", fmt(r["custodian_reads_per_s"]),
         fmt(r["custodian_2of3"]["median_s"] * 1000), fmt(r["custodian_2of3"]["p90_s"] * 1000)],
    ]  # fmt: skip
    scale = [
        [f"{s['n']}", f"{s['k']}", fmt(s["median_s"] * 1000), fmt(s["p90_s"] * 1000)]
        for s in r["scaling"]
    ]
    e, ec = r["erasure_3"], r["erasure_3_custodians"]
    return "\n\n".join(
        [
            f"### Logged reads, direct vs through custodians (1 KiB, one client, {r['reads']} "
            "each, alternating, same run)",
            md_table(["path", "reads/s", "median ms", "p90 ms"], rows, "lrrr"),
            f"Ratio custodian / direct: **{r['ratio']:.2f}x** (target >= 0.5x).",
            f"### Erasure with 3 custodians, end to end ({e['n']} erasures)",
            f"Median **{e['median_s'] * 1000:.0f} ms**, p90 {e['p90_s'] * 1000:.0f} ms "
            "(target <= 1 s): the on-chain tombstone, the unpin, the key-holder report and 3 "
            f"signed erasure receipts; of which the custodian fan-out (3 receipts and the "
            f"who-read-it scan) median {ec['median_s'] * 1000:.0f} ms.",
            "### Read latency vs number of custodians (k = n // 2 + 1)",
            md_table(["custodians n", "threshold k", "median ms", "p90 ms"], scale, "rrrr"),
            f"Load: {r['load_before']} before, {r['load_after']} after.",
        ]
    )


def plot(r: dict[str, Any], out_dir: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ns = [s["n"] for s in r["scaling"]]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.plot(ns, [s["median_s"] * 1000 for s in r["scaling"]], "o-", label="median")
    ax.plot(ns, [s["p90_s"] * 1000 for s in r["scaling"]], "s--", label="p90")
    ax.axhline(r["direct"]["median_s"] * 1000, color="grey", linestyle=":",
               label="direct read (median)")  # fmt: skip
    ax.set_xticks(ns)
    ax.set_xlabel("custodians n (threshold k = n // 2 + 1)")
    ax.set_ylabel("logged read latency, ms")
    ax.set_ylim(bottom=0)
    ax.set_title("Reads through custodians on Anvil (one client)")
    ax.legend()
    fig.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "custodian_latency.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke run)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--plot", type=Path, default=None, help="write the plot into DIR")
    args = parser.parse_args()
    r = measure(quick=args.quick)
    print_table(
        "Custodian reads",
        ["n", "k", "median ms"],
        [[s["n"], s["k"], fmt(s["median_s"] * 1000)] for s in r["scaling"]],
    )
    print(markdown(r))
    if args.plot is not None:
        print(f"plot: {plot(r, args.plot)}")
    if args.json:
        print(json.dumps(r, indent=2))


if __name__ == "__main__":
    main()
