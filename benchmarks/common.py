"""Shared helpers of the benchmark suite (``benchmarks/run_all.py`` and the ``bench_*`` modules).

- the machine header (cores, CPU model, versions, load) every report starts with;
- console tables and a progress line for long steps;
- a fresh Anvil + embedded store + deployed suite per benchmark (:func:`anvil_deployment`);
- funded throw-away parties and bulk state set-up on Anvil;
- the theoretical gas floor of a mined transaction, computed from its real calldata, the storage
  slots it changed (Anvil's ``prestateTracer`` in diff mode), its SSTORE count and its logs.

Nothing here asserts a time: benchmarks measure and report, the smoke test only checks that the
code runs and that the arithmetic is self-consistent.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eth_account import Account
from hexbytes import HexBytes
from web3.types import RPCEndpoint

from medledger.chain.artifacts import load_artifact
from medledger.client import Medledger, Party, Session
from medledger.crypto import IdentityKey
from medledger.errors import ChainError
from medledger.nodes import NodeProcess, find_tool, start_anvil

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / "benchmarks"

# --- EVM gas constants (Cancun; EIP-2028 calldata, EIP-2929 cold access, EIP-3529 refunds) -----
TX_BASE = 21_000
CALLDATA_ZERO = 4
CALLDATA_NONZERO = 16
SSTORE_NEW = 22_100  # 20,000 set + 2,100 cold slot access
SSTORE_UPDATE = 5_000  # 2,900 reset + 2,100 cold slot access
SSTORE_REWRITE = 100  # writing a slot already written in this transaction (warm, dirty)
SSTORE_CLEAR_REFUND = 4_800
REFUND_CAP_DIVISOR = 5
LOG_BASE = 375
LOG_TOPIC = 375
LOG_DATA_BYTE = 8
ECRECOVER = 3_000

#: Reference figures quoted by the issue (not measured here).
REFERENCES = {
    "oz_grant_role": ("OpenZeppelin AccessControl.grantRole", 51_000),
    "eas_attest": ("Ethereum Attestation Service attest", 195_000),
}


# --------------------------------------------------------------------------------------------
# machine header
# --------------------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


def _anvil_version() -> str:
    try:
        out = subprocess.run(
            [str(find_tool("anvil")), "--version"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError, ChainError):
        return "unknown"
    first = out.strip().splitlines()[0] if out.strip() else "unknown"
    return first.replace("anvil Version:", "").strip()


def load_line() -> str:
    """``uptime``-style load averages (other engineers may be running tests on this machine)."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} (1/5/15 min)"


def git_commit() -> str:
    """The checked-out commit (read-only ``git rev-parse``), plus ``+dirty`` for local changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "") if head else "unknown"


def machine_info() -> dict[str, str]:
    """What the figures were measured on."""
    solc = load_artifact("MedLedger").compiler or {}
    settings = solc.get("settings", {})
    optimizer = settings.get("optimizer", {})
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "cpu": _cpu_model(),
        "cores": str(os.cpu_count()),
        "memory": _memory(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "web3": _version("web3"),
        "eth-account": _version("eth-account"),
        "cryptography": _version("cryptography"),
        "solc": (
            f"{solc.get('version', '?')} (evm {settings.get('evmVersion', '?')}, optimizer "
            f"{'on' if optimizer.get('enabled') else 'off'}, runs {optimizer.get('runs', '?')})"
        ),
        "anvil": _anvil_version(),
        "secp256k1 backend": _ecc_backend(),
        "commit": git_commit(),
        "load at start": load_line(),
    }


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError):
        pass
    return "unknown"


def _ecc_backend() -> str:
    from eth_keys.main import KeyAPI

    name = type(KeyAPI().backend).__name__
    if name == "NativeECCBackend":
        return "eth-keys native (pure Python; coincurve not installed)"
    return name


# --------------------------------------------------------------------------------------------
# console output
# --------------------------------------------------------------------------------------------


def fmt_int(value: float) -> str:
    return f"{value:,.0f}"


def fmt(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}"


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print an aligned plain-text table (numbers right-aligned)."""
    cells = [[str(c) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    print(f"\n== {title}")
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for r in cells:
        print("  ".join(_align(c, w) for c, w in zip(r, widths, strict=True)))
    sys.stdout.flush()


def _align(cell: str, width: int) -> str:
    stripped = cell.replace(",", "").replace(".", "").replace("%", "").replace("x", "")
    return cell.rjust(width) if stripped.lstrip("-~").isdigit() else cell.ljust(width)


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], align: str = "") -> str:
    """A Markdown table; ``align`` is one letter per column (``l``/``r``), default left."""
    spec = align or "l" * len(headers)
    sep = ["---:" if a == "r" else "---" for a in spec]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(sep) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


class Progress:
    """A progress line on stderr for long steps (rewritten in place on a terminal)."""

    def __init__(self, label: str, total: int) -> None:
        self.label = label
        self.total = max(total, 1)
        self.done_count = 0
        self._tty = sys.stderr.isatty()
        self._last = 0.0
        self._start = time.perf_counter()

    def step(self, n: int = 1) -> None:
        self.done_count += n
        now = time.perf_counter()
        if now - self._last >= (0.2 if self._tty else 5.0) or self.done_count >= self.total:
            self._last = now
            pct = 100 * self.done_count / self.total
            line = f"  {self.label}: {self.done_count:,}/{self.total:,} ({pct:.0f}%)"
            if self._tty:
                print("\r" + line, end="", file=sys.stderr, flush=True)
            else:
                print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        took = time.perf_counter() - self._start
        if self._tty:
            print(file=sys.stderr)
        print(f"  {self.label}: done in {took:.1f} s", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# timing
# --------------------------------------------------------------------------------------------


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, result) of one call."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


@dataclass(frozen=True)
class Sample:
    """Repeated timings of one operation, in seconds."""

    times: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def best(self) -> float:
        return min(self.times)

    @property
    def p90(self) -> float:
        ordered = sorted(self.times)
        return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]

    def to_json(self) -> dict[str, float]:
        return {
            "n": len(self.times),
            "median_s": self.median,
            "best_s": self.best,
            "p90_s": self.p90,
        }


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float, float]:
    """Least-squares line ``y = slope * x + intercept`` and its R²."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    slope = sxy / sxx if sxx else 0.0
    intercept = my - slope * mx
    ss_tot = sum((y - my) ** 2 for y in ys)
    ss_res = sum((y - (slope * x + intercept)) ** 2 for x, y in zip(xs, ys, strict=True))
    r2 = 1.0 - ss_res / ss_tot if ss_tot else 1.0
    return slope, intercept, r2


# --------------------------------------------------------------------------------------------
# Anvil deployments and parties
# --------------------------------------------------------------------------------------------


@dataclass
class BenchDeployment:
    """A fresh Anvil node with the suite deployed and an embedded store in a temp dir."""

    node: NodeProcess
    ml: Medledger
    store_dir: Path
    consortium: Session
    _funded: list[Party] = field(default_factory=list)

    @property
    def w3(self) -> Any:
        return self.ml.chain.w3

    def rpc(self, method: str, params: list[Any]) -> Any:
        response = self.w3.provider.make_request(RPCEndpoint(method), params)
        if "error" in response:
            raise ChainError(f"{method} failed: {response['error']}")
        return response.get("result")

    def new_party(self, eth: int = 100) -> Party:
        """A brand-new funded account with an identity key (Anvil ``anvil_setBalance``)."""
        party = Party.generate()
        self.ml.chain.fund(party.address, eth * 10**18)
        self._funded.append(party)
        return party

    def session(self, party: Party | None = None) -> Session:
        return self.ml.session(party or self.new_party())

    def new_provider(self, name: str, *, emergency: bool = False) -> Session:
        """A funded, registered provider with a real identity key."""
        s = self.session()
        self.consortium.providers.register(s.party, name=name, emergency_responder=emergency)
        return s

    def register_bare_providers(self, count: int, label: str = "grantee") -> list[str]:
        """Register ``count`` unfunded provider addresses (grantees only ever receive grants).

        Each gets a real X25519 key so that SDK grants can seal key bundles to it.
        """
        addrs = []
        for i in range(count):
            # v2: the provider signs its own key; the consortium submits
            party = Party(Account.create(), IdentityKey.generate())
            address = party.address
            self.consortium.providers.register(party, name=f"{label} {i}")
            addrs.append(str(address))
        return addrs

    def close(self) -> None:
        self.ml.close()
        self.node.stop()
        shutil.rmtree(self.store_dir, ignore_errors=True)


@contextlib.contextmanager
def anvil_deployment(label: str) -> Iterator[BenchDeployment]:
    """Start Anvil, deploy the suite, open an embedded store; stop and clean up afterwards."""
    store_dir = Path(tempfile.mkdtemp(prefix=f"medledger-bench-{label}-"))
    node = start_anvil()
    try:
        ml = Medledger.open(rpc=node.url, store=str(store_dir), deploy=True)
    except BaseException:
        node.stop()
        shutil.rmtree(store_dir, ignore_errors=True)
        raise
    dep = BenchDeployment(node, ml, store_dir, ml.session(ml.dev_party(0)))
    try:
        yield dep
    finally:
        dep.close()


def _batch(dep: BenchDeployment, calls: list[tuple[str, list[Any]]]) -> list[Any]:
    """One JSON-RPC batch request; the results in call order (errors raise)."""
    responses = dep.w3.provider.make_batch_request(
        [(RPCEndpoint(method), params) for method, params in calls]
    )
    if isinstance(responses, dict):  # the node rejected the whole batch
        raise ChainError(f"batch request failed: {responses.get('error')}")
    by_id = sorted(responses, key=lambda r: int(r["id"]))
    errors = [r["error"] for r in by_id if "error" in r]
    if errors:
        raise ChainError(f"batch request: {len(errors)} calls failed, first: {errors[0]}")
    return [r["result"] for r in by_id]


def bulk_send(
    dep: BenchDeployment,
    sender: str,
    calls: Sequence[bytes],
    to: str,
    gas: int,
    *,
    per_block: int = 400,
    progress: Progress | None = None,
) -> None:
    """Send many contract calls from ``sender`` fast, to build up state before a measurement.

    Anvil impersonates ``sender`` (no client-side signing: pure-Python ECDSA costs ~7 ms per
    transaction here) and mines ``per_block`` transactions per block with automine off. Every
    receipt is checked; the SDK's cached nonce for ``sender`` is dropped afterwards.
    """
    dep.rpc("anvil_impersonateAccount", [sender])
    dep.rpc("evm_setAutomine", [False])
    try:
        base = dep.w3.eth.get_transaction_count(sender, "pending")
        fee = int(dep.w3.eth.get_block("latest")["baseFeePerGas"]) * 4 + 10**9
        for start in range(0, len(calls), per_block):
            chunk = calls[start : start + per_block]
            sent = _batch(
                dep,
                [
                    (
                        "eth_sendTransaction",
                        [
                            {
                                "from": sender,
                                "to": to,
                                "data": "0x" + data.hex(),
                                "gas": hex(gas),
                                "nonce": hex(base + start + i),
                                "maxFeePerGas": hex(fee),
                                "maxPriorityFeePerGas": hex(10**9),
                            }
                        ],
                    )
                    for i, data in enumerate(chunk)
                ],
            )
            dep.rpc("evm_mine", [])
            receipts = _batch(dep, [("eth_getTransactionReceipt", [h]) for h in sent])
            failed = [r for r in receipts if r is None or int(r["status"], 16) != 1]
            if failed:
                raise ChainError(
                    f"bulk set-up: {len(failed)} of {len(chunk)} transactions failed or unmined"
                )
            if progress is not None:
                progress.step(len(chunk))
    finally:
        dep.rpc("evm_setAutomine", [True])
        dep.rpc("anvil_stopImpersonatingAccount", [sender])
        dep.ml.chain.nonces.resync(sender)


# --------------------------------------------------------------------------------------------
# theoretical gas floor
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GasFloor:
    """The cheapest any implementation could do the same state change with the same calldata.

    base 21,000 + calldata (4 per zero byte, 16 per non-zero byte) + storage (22,100 per slot
    created, 5,000 per slot updated or cleared: one write per changed slot) + logs (375 + 375
    per topic + 8 per data byte) + precompiles the operation cannot avoid (ecrecover 3,000 for
    signed operations) - refunds (4,800 per slot cleared, capped at a fifth of the gas used).
    ``rewrites`` counts SSTOREs beyond one per changed slot (100 gas each when warm); they are
    reported but not part of the floor, since one write per slot would do.
    """

    calldata_zero: int
    calldata_nonzero: int
    new_slots: int
    updated_slots: int
    cleared_slots: int
    rewrites: int
    logs: tuple[tuple[int, int], ...]  # (topics, data bytes) per log
    ecrecovers: int = 0

    @property
    def calldata_gas(self) -> int:
        return self.calldata_zero * CALLDATA_ZERO + self.calldata_nonzero * CALLDATA_NONZERO

    @property
    def storage_gas(self) -> int:
        return (
            self.new_slots * SSTORE_NEW + (self.updated_slots + self.cleared_slots) * SSTORE_UPDATE
        )

    @property
    def rewrite_gas(self) -> int:
        """Gas of SSTOREs beyond one per changed slot: spent, but not part of the floor."""
        return self.rewrites * SSTORE_REWRITE

    @property
    def log_gas(self) -> int:
        return sum(LOG_BASE + LOG_TOPIC * t + LOG_DATA_BYTE * d for t, d in self.logs)

    @property
    def precompile_gas(self) -> int:
        return self.ecrecovers * ECRECOVER

    @property
    def before_refund(self) -> int:
        return TX_BASE + self.calldata_gas + self.storage_gas + self.log_gas + self.precompile_gas

    @property
    def refund(self) -> int:
        return min(
            self.cleared_slots * SSTORE_CLEAR_REFUND, self.before_refund // REFUND_CAP_DIVISOR
        )

    @property
    def total(self) -> int:
        return self.before_refund - self.refund

    def arithmetic(self) -> str:
        """The sum written out, e.g. ``21,000 + 16×4+... calldata 548 + 1×22,100 + ...``."""
        parts = [f"{TX_BASE:,} base"]
        parts.append(
            f"{self.calldata_gas:,} calldata ({self.calldata_nonzero}×16 + {self.calldata_zero}×4)"
        )
        storage = []
        if self.new_slots:
            storage.append(f"{self.new_slots}×22,100 new")
        if self.updated_slots:
            storage.append(f"{self.updated_slots}×5,000 update")
        if self.cleared_slots:
            storage.append(f"{self.cleared_slots}×5,000 clear")
        if storage:
            parts.append(f"{self.storage_gas:,} storage ({' + '.join(storage)})")
        if self.logs:
            shapes: dict[tuple[int, int], int] = {}
            for shape in self.logs:
                shapes[shape] = shapes.get(shape, 0) + 1
            desc = " + ".join(
                f"{n}×(375+{t}×375+{d}×8)" if n > 1 else f"(375+{t}×375+{d}×8)"
                for (t, d), n in shapes.items()
            )
            if len(shapes) > 1:
                desc = f"[{desc}]"
            parts.append(f"{self.log_gas:,} logs {desc}")
        if self.ecrecovers:
            parts.append(f"{self.precompile_gas:,} ecrecover")
        text = " + ".join(parts)
        if self.refund:
            text += f" − {self.refund:,} refund"
        return f"{text} = {self.total:,}"

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "base": TX_BASE,
            "calldata": self.calldata_gas,
            "calldata_zero_bytes": self.calldata_zero,
            "calldata_nonzero_bytes": self.calldata_nonzero,
            "storage": self.storage_gas,
            "new_slots": self.new_slots,
            "updated_slots": self.updated_slots,
            "cleared_slots": self.cleared_slots,
            "rewrites": self.rewrites,
            "rewrite_gas_not_in_floor": self.rewrite_gas,
            "logs": self.log_gas,
            "log_shapes": [list(s) for s in self.logs],
            "ecrecover": self.precompile_gas,
            "refund": self.refund,
            "arithmetic": self.arithmetic(),
        }


def storage_changes(dep: BenchDeployment, tx_hash: str) -> list[tuple[str, str, int, int]]:
    """(contract, slot, before, after) of every storage slot the transaction changed."""
    result = dep.rpc(
        "debug_traceTransaction",
        [tx_hash, {"tracer": "prestateTracer", "tracerConfig": {"diffMode": True}}],
    )
    pre, post = result.get("pre", {}), result.get("post", {})
    out = []
    for address in set(pre) | set(post):
        before = (pre.get(address) or {}).get("storage") or {}
        after_acct = post.get(address)
        after = (after_acct or {}).get("storage") or {}
        for slot in set(before) | set(after):
            b = int(before.get(slot, "0x0"), 16)
            # diff mode: a slot missing from "post" but present in "pre" was cleared
            a = int(after.get(slot, "0x0"), 16)
            if a != b:
                out.append((address.lower(), slot, b, a))
    return sorted(out)


def sstore_count(dep: BenchDeployment, tx_hash: str) -> int:
    """Number of SSTORE instructions the transaction executed.

    Anvil returns struct logs for ``debug_traceTransaction`` only when started with steps
    tracing, so the call is replayed with ``debug_traceCall`` on the parent block's state:
    exact for a transaction alone in its block (automine), which is checked, and the replay's
    gas must equal the receipt's.
    """
    w3 = dep.w3
    tx = w3.eth.get_transaction(tx_hash)
    receipt = w3.eth.get_transaction_receipt(tx_hash)
    if int(tx["transactionIndex"]) != 0:
        raise ChainError(f"{tx_hash} is not alone in its block: cannot replay it exactly")
    call = {
        "from": tx["from"],
        "to": tx["to"],
        "data": "0x" + bytes(HexBytes(tx["input"])).hex(),
        "gas": hex(int(tx["gas"])),
    }
    result = dep.rpc(
        "debug_traceCall",
        [
            call,
            hex(int(tx["blockNumber"]) - 1),
            {"disableStack": True, "disableMemory": True, "disableStorage": True},
        ],
    )
    if int(result.get("gas", -1)) != int(receipt["gasUsed"]):
        raise ChainError(
            f"replay of {tx_hash} used {result.get('gas')} gas, the receipt {receipt['gasUsed']}"
        )
    return sum(1 for step in result.get("structLogs", []) if step.get("op") == "SSTORE")


def gas_floor(dep: BenchDeployment, tx_hash: str, *, ecrecovers: int = 0) -> GasFloor:
    """The floor of a mined transaction, from its real calldata, storage diff and logs."""
    w3 = dep.w3
    tx = w3.eth.get_transaction(tx_hash)
    receipt = w3.eth.get_transaction_receipt(tx_hash)
    data = bytes(HexBytes(tx["input"]))
    zero = data.count(0)
    changes = storage_changes(dep, tx_hash)
    new = sum(1 for _, _, b, _ in changes if b == 0)
    cleared = sum(1 for _, _, b, a in changes if b != 0 and a == 0)
    updated = len(changes) - new - cleared
    rewrites = max(sstore_count(dep, tx_hash) - len(changes), 0)
    logs = tuple((len(log["topics"]), len(bytes(HexBytes(log["data"])))) for log in receipt["logs"])
    return GasFloor(zero, len(data) - zero, new, updated, cleared, rewrites, logs, ecrecovers)


def describe_load(start: str) -> str:
    """Load at start and now, for the report header."""
    return f"at start: {start}; at end: {load_line()}"
