"""Real ``medledger custodian serve`` processes on loopback (the service's tests, the
custodian-mode flows and the custodian benchmarks): one process per custodian with its own key
file, database (SQLite in its folder unless ``db`` names another) and log; ``stop`` and
``start`` again on the same database model a restart.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import medledger
from medledger.custodian.client import CustodianClient
from medledger.custodian.config import CustodianKeys
from medledger.nodes import find_free_port

SRC = str(Path(medledger.__file__).resolve().parents[1])


class CustodianProc:
    """One custodian process; ``keys`` are its signing account and HPKE key."""

    def __init__(
        self, workdir: Path, rpc: str, medledger_address: str, *extra: str, db: str | None = None
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.keys = CustodianKeys.generate()
        self.key_file = workdir / "custodian.key"
        self.keys.write_key_file(self.key_file)
        self.log = workdir / "custodian.log"
        self.db = db or f"sqlite:{workdir / 'store.db'}"
        self.port = find_free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = [
            sys.executable, "-m", "medledger.cli", "custodian", "serve",
            "--key", str(self.key_file), "--rpc", rpc, "--medledger", medledger_address,
            "--db", self.db, "--port", str(self.port), *extra,
        ]  # fmt: skip
        self.proc: subprocess.Popen[str] | None = None
        self.client = CustodianClient(self.url, timeout=10)

    def start(self) -> CustodianProc:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("MEDLEDGER_", "PYTHONPATH"))
        }
        env.update(MEDLEDGER_HOME=str(self.workdir / "home"), PYTHONPATH=SRC)
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(
                self.args, stdout=subprocess.PIPE, stderr=log, text=True, env=env,
                start_new_session=True,
            )  # fmt: skip
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        assert self.proc is not None
        assert self.proc.stdout is not None
        lines: queue.Queue[str] = queue.Queue()
        stdout = self.proc.stdout
        threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            line = ""
        if not line.startswith("listening on"):
            self.stop()
            raise RuntimeError(f"custodian did not start: {line!r}\n{self.log.read_text()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.proc = None


def start_custodians(procs: list[CustodianProc]) -> list[CustodianProc]:
    """Start all, then wait for each (they boot side by side)."""
    for c in procs:
        c.start()
    for c in procs:
        c.wait_ready()
    return procs
