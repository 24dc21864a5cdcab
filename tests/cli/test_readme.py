"""13.13: the README's "Using it" shell block works verbatim on a fresh MEDLEDGER_HOME.

The block is taken from README.md as written (nothing substituted) and run with ``bash -e`` in
an empty directory: every line must succeed, in order, and leave what it promises behind.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.cli import SRC

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.anvil


def readme_block() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Using it") :]
    match = re.search(r"^```bash\n(.*?)^```$", section, re.S | re.M)
    assert match is not None, "README 'Using it' has no bash block"
    return match.group(1)


def test_readme_block_has_no_placeholders() -> None:
    block = readme_block()
    assert "0xSpecialist" not in block
    assert "node start" in block.split("\n", 2)[1]  # started before any command that needs it


def test_readme_using_it_runs_verbatim(tmp_path: Path) -> None:
    script = tmp_path / "using_it.sh"
    script.write_text("set -euo pipefail\n" + readme_block(), encoding="utf-8")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MEDLEDGER_")  # a fresh user: nothing configured, no password
    }
    env["MEDLEDGER_HOME"] = str(tmp_path / "home")
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    work = tmp_path / "work"
    work.mkdir()
    try:
        run = subprocess.run(
            ["bash", str(script)],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    finally:  # never leave the managed node running, whatever failed
        subprocess.run(
            [sys.executable, "-m", "medledger.cli", "node", "stop"],
            env=env,
            capture_output=True,
            check=False,
        )
    assert run.returncode == 0, f"{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    assert "hash chain verified" in run.stdout
    for produced in ("trail.html", "bundle.json", "result.json"):
        assert (work / produced).is_file(), produced
    assert oct((work / "trail.html").stat().st_mode & 0o777) == oct(0o600)
    assert "Riverside Clinic" in (work / "trail.html").read_text()
