"""The persistent local stack: a detached Anvil with state on disk survives stop + start.

`node start`/`stop` run as real subprocesses (as a user runs them: the node must outlive the
command that started it); the flows in between use the in-process runner.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.cli import Run, create_key, invoke, ok, patient_and_clinic, run_subprocess

pytestmark = pytest.mark.anvil


@pytest.fixture
def node_home(home: Path) -> Iterator[Path]:
    yield home
    # never leave a node behind, whatever the test did
    pid_file = home / "node" / "anvil.pid"
    if pid_file.exists():
        run_subprocess(["node", "stop"], {"MEDLEDGER_HOME": str(home)})
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


def cli(home: Path, *args: str) -> Run:
    return run_subprocess(list(args), {"MEDLEDGER_HOME": str(home)})


def test_stop_and_start_keeps_consents_records_and_log(node_home: Path, tmp_path: Path) -> None:
    started = cli(node_home, "node", "start", "--port", "0", "--json")
    assert started.exit_code == 0, started.stderr
    info = json.loads(started.stdout)
    assert info["started"] is True
    assert info["managed"] is True
    assert Path(info["manifest"]).exists()

    # a second start finds the running node instead of starting another
    again = json.loads(cli(node_home, "node", "start", "--json").stdout)
    assert again["started"] is False
    assert again["rpc"] == info["rpc"]

    create_key("pat")
    create_key("doc")
    ok(["fund", "pat"])
    ok(["fund", "doc"])
    ok(["register", "provider", "doc", "--name", "Dr. Persistent", "--as", "dev:0"])
    pid = ok(["register", "patient", "--as", "pat"])["patient_id"]  # type: ignore[index]
    granted = ok(
        [
            "grant",
            "doc",
            "--as",
            "pat",
            "-c",
            "labs",
            "-p",
            "treatment",
            "-a",
            "read,write",
            "--for",
            "30d",
        ]
    )
    content = '{"resourceType": "Observation", "id": "persisted"}'
    rec = ok(
        ["record", "add", "-", "--as", "doc", "--patient", str(pid), "-c", "labs"], input=content
    )
    assert invoke(["record", "get", rec["record_id"], "--as", "doc"]).stdout == content  # type: ignore[index]
    trail_before = ok(["audit", "--as", "pat"])

    stopped = cli(node_home, "node", "stop", "--json")
    assert json.loads(stopped.stdout)["stopped"] is True
    assert (node_home / "node" / "state.json").stat().st_size > 0
    status = json.loads(cli(node_home, "node", "status", "--json").stdout)
    assert status["running"] is False
    down = invoke(["record", "list", "--as", "pat"])
    assert down.exit_code == 4
    assert "medledger node" in down.stderr  # the hint says how to fix it

    restarted = cli(node_home, "node", "start", "--json")
    assert restarted.exit_code == 0, restarted.stderr
    info2 = json.loads(restarted.stdout)
    assert info2["rpc"] == info["rpc"]  # same port again, so the profile stays valid
    assert info2["contracts"] == info["contracts"]  # no second deployment

    # everything is still there: the record, the consent (the read is allowed), the log
    listed = ok(["record", "list", "--as", "pat"])
    assert [r["record_id"] for r in listed] == [rec["record_id"]]  # type: ignore[index, union-attr]
    assert invoke(["record", "get", rec["record_id"], "--as", "doc"]).stdout == content  # type: ignore[index]
    trail_after = ok(["audit", "--as", "pat"])
    assert trail_after["verified"] is True  # type: ignore[index]
    assert trail_after["entries"][: len(trail_before["entries"])] == trail_before["entries"]  # type: ignore[index]
    assert len(trail_after["entries"]) == len(trail_before["entries"]) + 1  # type: ignore[index]
    status = json.loads(cli(node_home, "node", "status", "--json").stdout)
    assert status["running"] is True
    assert status["block"] > 0
    assert granted["valid_until"] > 0  # type: ignore[index]

    assert json.loads(cli(node_home, "node", "stop", "--json").stdout)["stopped"] is True
    assert json.loads(cli(node_home, "node", "stop", "--json").stdout)["stopped"] is False


def test_port_in_use_is_reported(node_home: Path, anvil_url: str) -> None:
    port = anvil_url.rsplit(":", 1)[1]
    run = cli(node_home, "node", "start", "--port", port)
    assert run.exit_code == 1
    assert "already in use" in run.stderr
    assert "--attach" in run.stderr
    assert not (node_home / "node" / "anvil.pid").exists()


def test_status_without_a_node(node_home: Path) -> None:
    run = invoke(["node", "status", "--json"])
    assert run.exit_code == 0
    data = run.json()
    assert data["running"] is False
    assert data["profile"] is None


def test_a_killed_node_keeps_every_transaction_a_command_reported(node_home: Path) -> None:
    """13.3: SIGKILL the managed Anvil right after commands returned (no exit dump, no time for
    a periodic one): on restart the patient registration and the record are still there."""
    started = cli(node_home, "node", "start", "--port", "0", "--json")
    assert started.exit_code == 0, started.stderr
    patient_and_clinic("1d")
    (node_home / "r.txt").write_text("result\n")
    added = ok(["record", "add", "--as", "clinic", "--patient", "1", "-c", "labs",
                str(node_home / "r.txt")])  # fmt: skip
    pid = int((node_home / "node" / "anvil.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
    assert oct((node_home / "node" / "state.json").stat().st_mode & 0o777) == oct(0o600)
    restarted = cli(node_home, "node", "start", "--port", "0", "--json")
    assert restarted.exit_code == 0, restarted.stderr
    listed = ok(["record", "list", "--as", "alice"])
    assert [r["record_id"] for r in listed] == [added["record_id"]]
