"""``medledger portal --demo``: one command seeds a persistent local node with the reference
scenario, serves the portal on it, and a second run finds the same history without seeding."""

from __future__ import annotations

import os
import queue
import re
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from helpers.cli import SRC

pytestmark = pytest.mark.anvil
PASSWORD = "demo password"


def start(home: Path) -> tuple[subprocess.Popen[str], str, list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDLEDGER_")}
    env.update(MEDLEDGER_HOME=str(home), MEDLEDGER_PASSWORD=PASSWORD)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.Popen(
        [sys.executable, "-m", "medledger.cli", "portal", "--demo", "--no-browser"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stderr is not None
    stream = proc.stderr
    threading.Thread(target=lambda: [lines.put(x) for x in stream], daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + 400
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            assert proc.poll() is None, "".join(seen)
            continue
        seen.append(line)
        found = re.search(r"(http://127\.0\.0\.1:\d+)", line)
        if found:
            return proc, found.group(1), seen
    proc.kill()
    raise AssertionError("the portal did not start: " + "".join(seen))


def unlock(client: httpx.Client) -> None:
    page = client.get("/unlock")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    done = client.post("/unlock", data={"csrf": token.group(1), "password": PASSWORD})
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/timeline"


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0


def test_demo_seeds_once_and_keeps_its_history(tmp_path: Path) -> None:
    home = tmp_path / "home"
    proc, url, said = start(home)
    try:
        assert any("seeding the demo node" in line for line in said)
        with httpx.Client(base_url=url, timeout=60) as client:
            unlock(client)
            timeline = client.get("/timeline").text
            assert timeline.count('class="record"') == 3  # the scenario's allergy and two labs
            emergency = client.get("/emergency").text
            assert "City General Emergency Dept." in emergency
            assert "Close now" in emergency  # the demo leaves one window open
    finally:
        stop(proc)
    key = home / "keys" / "demo-patient.json"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert (home / "demo" / "node" / "state.json").exists()

    proc, url, said = start(home)  # the node restarts from its state file: no second seeding
    try:
        assert not any("seeding" in line for line in said)
        with httpx.Client(base_url=url, timeout=60) as client:
            unlock(client)
            log = client.get("/log").text
            assert "Hash chain verified" in log
            assert "Dr. Ada Okafor, Endocrinology" in log
    finally:
        stop(proc)
