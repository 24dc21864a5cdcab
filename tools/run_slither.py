#!/usr/bin/env python3
"""Run Slither on the Solidity suite offline; fail on any High or Medium finding.

Slither compiles through crytic-compile in standard-JSON mode with the project's offline solc
(``.solcx/solc-v0.8.28``, the npm solc behind tools/solc/solc.js), so solc-select is never used.
OpenZeppelin is remapped to ``node_modules``; dependency findings are excluded. Accepted
Low/Informational findings are documented in docs/contracts.md; deliberate suppressions in the
sources carry a ``slither-disable-next-line`` comment with the reason.

Usage: python tools/run_slither.py [--json PATH]   (exit 0 = no High/Medium finding)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOLC_VERSION = "0.8.28"
FAILING_IMPACTS = {"High", "Medium"}


def _slither_command(solc: Path) -> list[str]:
    slither = shutil.which("slither") or str(ROOT / ".venv" / "bin" / "slither")
    return [
        slither,
        "contracts",  # the top-level files import every component
        "--solc",
        str(solc),
        "--solc-standard-json",
        "--solc-remaps",
        "@openzeppelin/contracts/=node_modules/@openzeppelin/contracts/",
        "--filter-paths",
        "node_modules|contracts/.cache",
        "--exclude-dependencies",
        "--json",
        "-",
    ]


def _find_solc() -> Path:
    base = Path(os.environ.get("SOLCX_BINARY_PATH", ROOT / ".solcx"))
    solc = base / f"solc-v{SOLC_VERSION}"
    if not solc.exists():
        sys.exit(f"run_slither: {solc} not found; run `make setup` (tools/bootstrap.sh) first")
    return solc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write Slither's JSON report here")
    args = parser.parse_args(argv)

    env = dict(os.environ)
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}:{ROOT / 'node_modules' / '.bin'}:{env.get('PATH', '')}"
    proc = subprocess.run(
        _slither_command(_find_solc()),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        sys.stderr.write(proc.stderr[-4000:])
        print("run_slither: Slither produced no JSON report (compilation failed?)")
        return 2
    if not report.get("success"):
        print(f"run_slither: Slither failed: {report.get('error')}")
        return 2
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))

    findings = report.get("results", {}).get("detectors", [])
    by_impact = Counter(f["impact"] for f in findings)
    failing = [f for f in findings if f["impact"] in FAILING_IMPACTS]
    summary = ", ".join(f"{n} {impact}" for impact, n in sorted(by_impact.items())) or "none"
    print(f"slither {SOLC_VERSION}: {len(findings)} finding(s): {summary}")
    for f in findings:
        first_line = f["description"].strip().splitlines()[0]
        marker = "FAIL" if f["impact"] in FAILING_IMPACTS else "ok  "
        print(f"  {marker} [{f['impact']}/{f['confidence']}] {f['check']}: {first_line}")
    if failing:
        print(f"run_slither: {len(failing)} High/Medium finding(s)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
