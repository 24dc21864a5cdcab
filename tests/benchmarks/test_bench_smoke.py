"""Smoke run of the benchmark suite (``run_all.py --quick`` into a temp dir) so it cannot rot.

No timing is asserted. What is asserted is what the report's honesty depends on: the gas floor
arithmetic adds up and is a true lower bound of every measured transaction, the storage writes
the floor counts are the ones the contract's one-slot layout promises, grant gas does not depend
on the patient's records, and the committed benchmarks/RESULTS.md is never touched by a smoke run.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _load_common() -> Any:
    spec = importlib.util.spec_from_file_location("medledger_bench_common", BENCH / "common.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


common = _load_common()


def _digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench")
    committed = BENCH / "RESULTS.md"
    before = _digest(committed)
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCH / "run_all.py"),
            "--quick",
            "--out",
            str(out),
            "--json",
            str(out / "results.json"),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return {
        "out": out,
        "stdout": proc.stdout,
        "data": json.loads((out / "results.json").read_text()),
        "committed_before": before,
        "committed_after": _digest(committed),
    }


def test_quick_run_writes_report_to_the_given_dir_only(quick_run: dict[str, Any]) -> None:
    assert quick_run["committed_after"] == quick_run["committed_before"]
    text = (quick_run["out"] / "RESULTS.md").read_text()
    for heading in ("## Machine", "## Targets", "## Gas", "## Throughput", "## Scaling"):
        assert heading in text
    assert "Quick (smoke) run" in text
    assert "load at end" in text
    # every target row is rendered with its verdict
    for target in quick_run["data"]["targets"]:
        assert target["target"] in text


def test_quick_run_draws_every_plot(quick_run: dict[str, Any]) -> None:
    if importlib.util.find_spec("matplotlib") is None:
        pytest.skip("matplotlib (dev extra) is not installed: run_all writes no plots")
    plots = sorted((quick_run["out"] / "plots").glob("*.png"))
    names = {p.name for p in plots}
    assert {
        "gas_vs_floor.png",
        "grant_vs_records.png",
        "audit_vs_entries.png",
        "read_vs_grants.png",
    } <= names
    for p in plots:
        assert p.read_bytes()[:8] == PNG_MAGIC
        assert f"plots/{p.name}" in (quick_run["out"] / "RESULTS.md").read_text()


def test_gas_floor_is_a_lower_bound_and_adds_up(quick_run: dict[str, Any]) -> None:
    ops = quick_run["data"]["results"]["gas"]["operations"]
    assert len(ops) >= 15
    for op in ops:
        f = op["floor"]
        parts = f["base"] + f["calldata"] + f["storage"] + f["logs"] + f["ecrecover"]
        assert parts - f["refund"] == f["total"], op["operation"]
        assert f["arithmetic"].endswith(f"= {f['total']:,}")
        assert f["total"] <= op["gas"], f"{op['operation']}: floor above the measured gas"


def test_floor_counts_the_storage_the_layout_promises(quick_run: dict[str, Any]) -> None:
    ops = {o["operation"]: o["floor"] for o in quick_run["data"]["results"]["gas"]["operations"]}
    # one packed slot per consent, per record, per patient log (v2: every consent and record
    # operation is a hash-chain entry, so it rewrites the log slot too; the log slot exists from
    # the registration on); an OZ keyed-nonce slot per (signer, key): a first signature for a
    # grantee creates it
    expected = {
        "grant (new grantee)": (1, 1, 0),
        "grant (replacing the grantee's grant)": (0, 2, 0),
        "revoke": (0, 1, 1),
        "addRecord (provider with write consent)": (1, 1, 0),
        "recordAccess allowed": (0, 1, 0),
        "recordAccess denied (no consent)": (0, 1, 0),
        "grantBySig (signer's later signature)": (2, 1, 0),
        "anchor (Merkle root of a batch)": (1, 0, 0),
    }
    for name, (new, updated, cleared) in expected.items():
        f = ops[name]
        assert (f["new_slots"], f["updated_slots"], f["cleared_slots"]) == (
            new,
            updated,
            cleared,
        ), name
    # a batch of n accesses writes the log slot once and rewrites it n - 1 times
    batch = ops["recordAccessBatch ×10, per access"]
    assert (batch["updated_slots"], batch["rewrites"]) == (1, 9)
    assert len(batch["log_shapes"]) == 10


def test_grant_gas_does_not_depend_on_existing_records(quick_run: dict[str, Any]) -> None:
    levels = quick_run["data"]["results"]["scaling"]["grant"]["levels"]
    assert [lv["records"] for lv in levels] == [1, 10, 30]
    gas = [lv["contract_gas_median"] for lv in levels]
    # only calldata differs between grants (random digests): a few 12-gas steps at most
    assert max(gas) - min(gas) <= 12 * 8


def test_read_scaling_and_audit_curves_are_complete(quick_run: dict[str, Any]) -> None:
    scaling = quick_run["data"]["results"]["scaling"]
    assert [lv["grants"] for lv in scaling["read"]["levels"]] == [1, 3]
    assert all(lv["latency"]["n"] == 3 for lv in scaling["read"]["levels"])
    history = scaling["history"]["levels"]
    assert [h["unrelated_txs"] for h in history] == [0, 200]
    # the unrelated transactions really landed on the chain
    assert history[1]["chain_txs"] >= history[0]["chain_txs"] + 200
    entries = [v["entries"] for v in scaling["audit"]["bench_audit"]["verification"]]
    assert entries == sorted(entries)
    assert len(entries) >= 3


def test_floor_arithmetic_by_hand() -> None:
    # grant to a new grantee: 228 bytes of calldata (63 non-zero), one new slot, one log
    # with 3 topics and 192 data bytes
    f = common.GasFloor(165, 63, 1, 0, 0, 0, ((3, 192),))
    assert f.total == 21_000 + (63 * 16 + 165 * 4) + 22_100 + (375 + 3 * 375 + 192 * 8)
    # a cleared slot refunds 4,800, but never more than a fifth of the gas
    cheap = common.GasFloor(0, 0, 0, 0, 1, 0, ())
    assert cheap.before_refund == 26_000
    assert cheap.refund == 4_800
    tiny = common.GasFloor(0, 0, 0, 0, 3, 0, ())
    assert tiny.refund == tiny.before_refund // 5
    signed = common.GasFloor(0, 0, 0, 1, 0, 2, (), ecrecovers=1)
    # rewrites of an already-written slot are reported, not part of the floor
    assert signed.total == 21_000 + 5_000 + 3_000
    assert signed.rewrite_gas == 200
