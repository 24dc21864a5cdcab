"""The example workflows run as a user would run them: a subprocess on the embedded default.

Each example prints what it does and exits non-zero when one of its expectations fails, so a
zero exit plus the closing line means every check inside the script held.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import medledger

ROOT = Path(__file__).resolve().parents[2]
SRC = str(Path(medledger.__file__).resolve().parents[1])


def run_example(name: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MEDLEDGER_HOME": str(tmp_path / "home")}
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / name)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize(
    ("script", "expected_lines"),
    [
        ("hospital_import.py", ["patient-c: timeline has the 1 imported records"]),
        ("er_break_glass_drill.py", ["ER reads the allergy", "ER read after the window is denied"]),
        (
            "research_consent_expiry.py",
            ["the expired consent is refused (ConsentExpired)", "the study holds no key for it"],
        ),
    ],
)
def test_example_runs_and_all_expectations_hold(
    script: str, expected_lines: list[str], tmp_path: Path
) -> None:
    proc = run_example(script, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "all expectations held" in proc.stdout
    assert "FAILED" not in proc.stdout
    for line in expected_lines:
        assert f"[ok] {line}" in proc.stdout or line in proc.stdout, line


@pytest.mark.parametrize(
    "script", ["hospital_import.py", "er_break_glass_drill.py", "research_consent_expiry.py"]
)
def test_examples_document_rpc_and_store(script: str) -> None:
    helped = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), "--help"],
        env={**os.environ, "PYTHONPATH": SRC},
        capture_output=True,
        text=True,
        check=False,
    )
    assert helped.returncode == 0
    assert "--rpc" in helped.stdout
    assert "--store" in helped.stdout
