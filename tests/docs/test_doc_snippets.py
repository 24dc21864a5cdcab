"""Every ```python block of docs/sdk.md and README.md runs, in order, on the embedded default.

The blocks of one document form one script (later blocks use names from earlier ones), run in a
fresh process in a fresh directory with its own MEDLEDGER_HOME, so nothing leaks in or out.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ("docs/sdk.md", "README.md")
FENCE = re.compile(r"^```python\n(.*?)^```$", re.S | re.M)


def python_blocks(path: Path) -> list[str]:
    return FENCE.findall(path.read_text(encoding="utf-8"))


def test_sdk_guide_has_snippets() -> None:
    assert len(python_blocks(ROOT / "docs/sdk.md")) >= 2


@pytest.mark.parametrize("doc", DOCS)
def test_snippets_run(doc: str, tmp_path: Path) -> None:
    blocks = python_blocks(ROOT / doc)
    if not blocks:
        pytest.skip(f"{doc} has no python blocks")
    script = tmp_path / "snippets.py"
    script.write_text("\n".join(blocks), encoding="utf-8")
    env = {**os.environ, "MEDLEDGER_HOME": str(tmp_path / "home")}
    run = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, f"{doc}: snippets failed\n{run.stdout}\n{run.stderr}"
