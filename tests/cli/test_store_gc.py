"""Issue 13.3: the managed node reconciles the store against the chain on start, and
`medledger store gc` lists (then with --yes removes) the pins nothing on-chain references.

Before, a record whose transaction was lost stayed pinned forever (the 200 MB of the report) and
nothing could list or remove it. The orphan here is what a command killed between its pin and
its transaction leaves: content pinned in the store, referenced by nothing on-chain.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.cli import Run, invoke, ok, patient_and_clinic, run_subprocess
from medledger.cli import locks
from medledger.storage import EmbeddedStore

pytestmark = pytest.mark.anvil


@pytest.fixture
def stack(home: Path) -> Iterator[Path]:
    started = _cli(home, "node", "start", "--port", "0", "--json")
    assert started.exit_code == 0, started.stderr
    assert started.json()["orphaned_pins"] == 0
    patient_and_clinic()
    (home / "r.txt").write_text('{"resourceType": "Observation"}\n')
    ok(["record", "add", "--as", "clinic", "--patient", "1", "-c", "labs", str(home / "r.txt")])
    yield home
    pid_file = home / "node" / "anvil.pid"
    if pid_file.exists():
        _cli(home, "node", "stop")
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


def _cli(home: Path, *args: str) -> Run:
    return run_subprocess(list(args), {"MEDLEDGER_HOME": str(home)})


def test_orphaned_pins_are_listed_on_start_and_removed_by_store_gc(stack: Path) -> None:
    store = EmbeddedStore(stack / "store")
    referenced = set(store.pins())
    orphan = store.put(b"MLRC a sealed record whose addRecord never landed")

    # node start (again) reconciles: it names the orphan count and how to remove them
    again = _cli(stack, "node", "start", "--json")
    assert again.exit_code == 0, again.stderr
    assert again.json()["orphaned_pins"] == 1
    assert "`medledger store gc`" in again.stderr

    # dry run by default: lists exactly the orphan, removes nothing
    listed = ok(["store", "gc"])
    assert [p["cid"] for p in listed["orphaned"]] == [str(orphan)]
    assert listed["removed"] is False
    assert store.has(orphan)
    assert set(store.pins()) == referenced | {orphan}

    removed = ok(["store", "gc", "--yes"])
    assert removed["unpinned"] == [str(orphan)]
    assert not store.has(orphan)
    assert set(store.pins()) == referenced
    # everything the chain references is still there: both parties still read the record
    rid = ok(["record", "list", "--as", "alice"])[0]["record_id"]
    for who in ("alice", "clinic"):
        got = invoke(["record", "get", rid, "--as", who, "--out", str(stack / f"{who}.json")])
        assert got.exit_code == 0, got.stderr
        assert (stack / f"{who}.json").read_bytes() == (stack / "r.txt").read_bytes()
    assert ok(["store", "gc"])["orphaned"] == []


def test_store_gc_removes_nothing_when_the_chain_cannot_be_read(stack: Path) -> None:
    store = EmbeddedStore(stack / "store")
    orphan = store.put(b"MLKB a key bundle whose grant never landed")
    before = set(store.pins())
    assert _cli(stack, "node", "stop").exit_code == 0
    run = invoke(["store", "gc", "--yes"])
    assert run.exit_code == 4, run.stderr
    assert run.stderr.startswith("error:")
    assert set(store.pins()) == before
    assert store.has(orphan)


def test_store_gc_waits_for_running_commands(stack: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A command between its pin and its transaction holds the store lock shared: gc --yes
    waits for it (here: gives up after MEDLEDGER_LOCK_WAIT) and removes nothing meanwhile."""
    store = EmbeddedStore(stack / "store")
    in_flight = store.put(b"MLKR a keyring a running command is about to publish")
    fd = locks.acquire(stack, locks.STORE, wait=0, shared=True)
    try:
        monkeypatch.setenv("MEDLEDGER_LOCK_WAIT", "0.3")
        run = invoke(["store", "gc", "--yes"])
        assert run.exit_code != 0
        assert "still running" in run.stderr
        assert store.has(in_flight)
        # the dry run takes the lock shared: it does not wait
        assert [p["cid"] for p in ok(["store", "gc"])["orphaned"]] == [str(in_flight)]
    finally:
        os.close(fd)
