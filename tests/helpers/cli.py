"""Helpers for the CLI tests: run the CLI in-process or as a subprocess, create keys.

Keys are created with the keystore's light scrypt parameters (the hidden
``--insecure-light-kdf`` flag, honoured only in this test process) so that a test pays
milliseconds, not a second, per unlock; keys a subprocess unlocks use the default parameters.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import medledger
from medledger.cli.main import cli

PASSWORD = "correct horse battery staple"

#: connection settings that must not leak into a test's MEDLEDGER_HOME from the environment
ENV_VARS = (
    "MEDLEDGER_PROFILE",
    "MEDLEDGER_ACCOUNT",
    "MEDLEDGER_RPC",
    "MEDLEDGER_IPFS_API",
    "MEDLEDGER_STORE",
    "MEDLEDGER_MANIFEST",
    "MEDLEDGER_DEBUG",
)


def isolate_home(mp: pytest.MonkeyPatch, path: Path) -> Path:
    """Point MEDLEDGER_HOME at ``path`` (created by the CLI on first use), set the keystore
    password, and drop every connection setting inherited from outside."""
    mp.setenv("MEDLEDGER_HOME", str(path))
    mp.setenv("MEDLEDGER_PASSWORD", PASSWORD)
    for var in ENV_VARS:
        mp.delenv(var, raising=False)
    return path


SRC = str(Path(medledger.__file__).resolve().parents[1])


@dataclass
class Run:
    """What a CLI invocation did."""

    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def invoke(args: list[str], env: dict[str, str] | None = None, input: str | None = None) -> Run:
    """Run the CLI in-process (CliRunner), stdout and stderr kept apart."""
    runner = CliRunner(mix_stderr=False)
    result: Result = runner.invoke(cli, args, env=env, input=input, catch_exceptions=False)
    return Run(result.exit_code, result.stdout, result.stderr)


def ok(args: list[str], input: str | None = None) -> Any:
    """Run with --json, assert success, return the parsed output."""
    run = invoke([*args, "--json"], input=input)
    assert run.exit_code == 0, f"{args}: {run.stderr}"
    return run.json()


def run_subprocess(args: list[str], env: dict[str, str], timeout: float = 900) -> Run:
    """Run ``python -m medledger.cli`` in a real subprocess (entry point, exit status, streams).

    ``timeout`` only guards against a hang: the demo takes ~20 s idle but over 120 s on 2 cores
    shared with other suites (a CI run timed out there)."""
    full_env = {**os.environ, **env}
    full_env["PYTHONPATH"] = SRC + os.pathsep + full_env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, "-m", "medledger.cli", *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def create_key(name: str, *, subprocess_use: bool = False) -> dict[str, Any]:
    """A new key in the current ``MEDLEDGER_HOME``. ``subprocess_use``: with the default scrypt
    parameters, because a separate ``medledger`` process refuses the light ones (only this
    test process has the test-only switch on)."""
    light = [] if subprocess_use else ["--insecure-light-kdf"]
    run = invoke(["keys", "create", name, *light, "--json"])
    assert run.exit_code == 0, run.stderr
    data: dict[str, Any] = run.json()
    return data


def patient_and_clinic(duration: str = "30d") -> int:
    """On the current profile's chain: keys ``alice`` (a patient) and ``clinic`` (a provider
    registered by dev account 0), both funded, alice granting clinic read+write on labs for
    treatment for ``duration``; returns alice's patient id."""
    for name in ("alice", "clinic"):
        create_key(name)
        ok(["fund", name])
    ok(["register", "provider", "clinic", "--name", "Clinic", "--as", "dev:0"])
    pid = int(ok(["register", "patient", "--as", "alice"])["patient_id"])
    ok(["grant", "clinic", "--as", "alice", "-c", "labs", "-p", "treatment", "-a", "read,write",
        "--for", duration])  # fmt: skip
    return pid
