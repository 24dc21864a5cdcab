"""13.1: two processes of the same patient never interleave a flow (a lock per account)."""

from __future__ import annotations

import os
import select
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from helpers.cli import PASSWORD, SRC, create_key, ok
from medledger.cli import locks
from medledger.cli.nodeproc import rpc_call

pytestmark = pytest.mark.anvil


@pytest.fixture(scope="module")
def stack(module_env: Path, anvil_url: str) -> dict[str, Any]:
    ok(["node", "start", "--attach", anvil_url])
    keys = {name: create_key(name) for name in ("doc1", "doc2", "doc3")}
    keys["pat"] = create_key("pat", subprocess_use=True)  # the subprocesses act as the patient
    for name in keys:
        ok(["fund", name])
    for name in ("doc1", "doc2", "doc3"):
        ok(["register", "provider", name, "--name", name, "--as", "dev:0"])
    ok(["register", "patient", "--as", "pat"])
    return {"home": module_env, "keys": keys, "url": anvil_url}


def _spawn(home: Path, args: list[str]) -> subprocess.Popen[str]:
    env = {**os.environ, "MEDLEDGER_HOME": str(home), "MEDLEDGER_PASSWORD": PASSWORD}
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.Popen(
        [sys.executable, "-m", "medledger.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _grant(grantee: str) -> list[str]:
    return ["grant", grantee, "--as", "pat", "-c", "labs", "-p", "treatment", "--for", "3d",
            "--replace"]  # fmt: skip


def test_a_second_command_of_the_same_patient_waits_for_the_first(stack: dict[str, Any]) -> None:
    """While another process holds the patient's lock, a grant waits (nothing sent); it goes
    ahead once the lock is released."""
    address = stack["keys"]["pat"]["address"]
    fd = locks.acquire(stack["home"], address, wait=0)
    try:
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
        assert mode == 0o600
        before = rpc_call(stack["url"], "eth_blockNumber")
        proc = _spawn(stack["home"], _grant("doc1"))
        assert proc.stderr is not None
        ready, _, _ = select.select([proc.stderr], [], [], 120)
        assert ready, "the second command neither waited nor finished"
        first = proc.stderr.readline()
        assert "waiting for another medledger command acting as" in first, first
        time.sleep(1)
        assert proc.poll() is None
        assert rpc_call(stack["url"], "eth_blockNumber") == before  # nothing sent meanwhile
    finally:
        os.close(fd)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err


def test_concurrent_grants_of_one_patient_all_land(stack: dict[str, Any]) -> None:
    """Three grants started at once (the issue's reproduction) run one after the other: each
    exits 0 and each grantee holds its consent afterwards."""

    def granted() -> int:
        trail = ok(["audit", "--as", "pat"])
        outcomes = ("consent_granted", "consent_replaced")
        return sum(e["outcome"] in outcomes for e in trail["entries"])

    before = granted()
    procs = [_spawn(stack["home"], _grant(g)) for g in ("doc1", "doc2", "doc3")]
    results = [p.communicate(timeout=300) for p in procs]
    for proc, (_out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
    assert granted() == before + 3


def test_the_lock_gives_up_after_the_wait(stack: dict[str, Any]) -> None:
    address = stack["keys"]["pat"]["address"]
    fd = locks.acquire(stack["home"], address, wait=0)
    try:
        with pytest.raises(locks.AccountBusy, match="still running"):
            locks.acquire(stack["home"], address, wait=0.3)
    finally:
        os.close(fd)
