"""13.9: a frozen node or store never hangs a command: bounded wait, exit 4, endpoint named.

A "frozen" endpoint is a listening socket that accepts connections and never answers (what a
SIGSTOPped node looks like from the client).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.cli import create_key, ok, run_subprocess


@pytest.fixture
def frozen_url() -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)  # the kernel completes handshakes; nobody ever reads or answers
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


def test_frozen_chain_node_times_out_with_exit_4(home: Path, frozen_url: str) -> None:
    create_key("alice")
    run = run_subprocess(
        ["record", "list", "--as", "alice", "--rpc", frozen_url],
        env={"MEDLEDGER_TIMEOUT": "2"},
        timeout=90,  # a hang guard, not a speed assertion
    )
    assert run.exit_code == 4, run.stderr
    assert frozen_url in run.stderr
    assert run.stderr.startswith("error: ")
    assert run.stderr.strip().count("\n") == 0


@pytest.mark.anvil
def test_frozen_store_times_out_with_exit_4(home: Path, frozen_url: str, anvil_url: str) -> None:
    ok(["node", "start", "--attach", anvil_url])
    create_key("alice")
    run = run_subprocess(
        ["record", "list", "--as", "alice", "--store", frozen_url],
        env={"MEDLEDGER_TIMEOUT": "2"},
        timeout=90,
    )
    assert run.exit_code == 4, run.stderr
    assert frozen_url in run.stderr


def test_bad_timeout_setting_is_invalid_input(home: Path) -> None:
    create_key("alice")
    run = run_subprocess(
        ["record", "list", "--as", "alice", "--rpc", "http://127.0.0.1:9"],
        env={"MEDLEDGER_TIMEOUT": "forever"},
    )
    assert run.exit_code == 2, run.stderr
    assert "MEDLEDGER_TIMEOUT" in run.stderr
