"""Storage benchmarks: CID computation, embedded put, IPFS daemon add/cat.

    python benchmarks/bench_storage.py [--quick] [--json]

Rows (MB/s = 10^6 bytes per second, best of ``repeat`` runs, file in the page cache):
- ``cid v1`` / ``cid v0``: :func:`medledger.storage.cid_of_file` on a 256 MiB file, beside the
  Rust wheel ``aleph-cid`` (streaming ``CidHasher``) and plain ``hashlib.sha256`` on the same file;
- ``embedded put``: :meth:`EmbeddedStore.put_file` of the same file (hash + durable writes:
  temp file, fdatasync, rename per block), the store emptied between runs;
- ``daemon add`` / ``daemon cat``: through :class:`IpfsNodeStore` (with verification) on a
  smaller file, when a daemon is available (``MEDLEDGER_IPFS_API``, else the js-ipfs test daemon
  is started if installed).

``run(quick=False) -> dict[str, float]`` returns the figures for the benchmark runner.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from medledger.storage import EmbeddedStore, cid_of_file  # noqa: E402
from medledger.storage.ipfs_node import IpfsNodeStore  # noqa: E402

MIB = 1024 * 1024


def _best_rate(size: int, fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return size / best / 1e6


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb", buffering=0) as f:
        while chunk := f.read(MIB):
            h.update(chunk)
    return h.hexdigest()


def _aleph(path: Path, version: int) -> str:
    import aleph_cid

    hasher = (
        aleph_cid.CidHasher.for_ipfs_v1_raw_leaves()
        if version == 1
        else aleph_cid.CidHasher.for_ipfs()
    )
    with path.open("rb", buffering=0) as f:
        while chunk := f.read(MIB):
            hasher.update(chunk)
    return str(hasher.finalize())


def _daemon_api(workdir: Path) -> tuple[str | None, Any]:
    api = os.environ.get("MEDLEDGER_IPFS_API")
    if api:
        return api, None
    path = ROOT / "tests" / "helpers" / "ipfs_daemon.py"
    spec = importlib.util.spec_from_file_location("medledger_bench_ipfs_daemon", path)
    if spec is None or spec.loader is None:
        return None, None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    if module.daemon_missing_reason() is not None:
        return None, None
    daemon = module.start_daemon(workdir)
    return daemon.api, daemon


def run(quick: bool = False) -> dict[str, float]:
    """Measure and return {figure name: MB/s}."""
    size = (8 if quick else 256) * MIB
    daemon_size = (2 if quick else 32) * MIB
    repeat = 1 if quick else 3
    work_parent = ROOT / "benchmarks" / ".work"
    work_parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=work_parent, prefix="storage-"))
    results: dict[str, float] = {}
    try:
        data_file = work / "payload.bin"
        with data_file.open("wb") as f:
            for _ in range(size // MIB):
                f.write(os.urandom(MIB))
        _sha256_file(data_file)  # warm the page cache

        assert str(cid_of_file(data_file, 1)) == _aleph(data_file, 1)
        assert str(cid_of_file(data_file, 0)) == _aleph(data_file, 0)
        results["sha256 MB/s"] = _best_rate(size, lambda: _sha256_file(data_file), repeat)
        for version in (1, 0):
            results[f"cid v{version} medledger MB/s"] = _best_rate(
                size, lambda v=version: cid_of_file(data_file, v), repeat
            )
            results[f"cid v{version} aleph-cid MB/s"] = _best_rate(
                size, lambda v=version: _aleph(data_file, v), repeat
            )

        # The disk's own speed for the same work (256 KiB files, fdatasync, 4 threads), measured
        # in the same run: on a shared machine it moves a lot and bounds the embedded figure.
        block = os.urandom(256 * 1024)
        raw_dir = work / "raw"
        raw_dir.mkdir()

        def raw_write(i: int) -> None:
            fd = os.open(raw_dir / f"{i}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                os.write(fd, block)
                os.fdatasync(fd)
            finally:
                os.close(fd)

        with ThreadPoolExecutor(4) as pool:
            start = time.perf_counter()
            list(pool.map(raw_write, range(size // len(block))))
            results["disk write+fdatasync MB/s"] = size / (time.perf_counter() - start) / 1e6
        shutil.rmtree(raw_dir)

        store = EmbeddedStore(work / "store")

        # gc is excluded from the figure: time the put alone on each run
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            cid = store.put_file(data_file)
            best = min(best, time.perf_counter() - start)
            store.unpin(cid)
            store.gc()
        results["embedded put MB/s"] = size / best / 1e6

        api, daemon = _daemon_api(work / "ipfs")
        if api is not None:
            try:
                node = IpfsNodeStore(api, timeout=300, rpc_timeout=120)
                blob = os.urandom(daemon_size)
                added = node.put(blob)
                results["daemon add MB/s"] = _best_rate(daemon_size, lambda: node.put(blob), 1)
                results["daemon cat MB/s"] = _best_rate(daemon_size, lambda: node.get(added), 1)
                node.unpin(added)
                node.gc()
            finally:
                if daemon is not None:
                    daemon.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke run)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    results = run(quick=args.quick)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    width = max(len(k) for k in results)
    print(f"{'figure':<{width}}  {'value':>10}")
    for name, value in results.items():
        print(f"{name:<{width}}  {value:>10,.0f}")


if __name__ == "__main__":
    main()
