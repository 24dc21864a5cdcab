"""``put_many``: several records stored at once, pinned all or nothing (issue 17, import speed).

The contract part runs against every backend; the crash and disk-error parts against the
embedded store, whose batch writes every block first and then updates its pin set once.
"""

from __future__ import annotations

import errno
import multiprocessing
import os
import signal
from pathlib import Path

import pytest

import medledger.storage.embedded as embedded_module
from helpers.storage import payload
from medledger.errors import InvalidInput, StorageError
from medledger.storage import CHUNK_SIZE, BlockStore, EmbeddedStore, cid_of_bytes

_mp = multiprocessing.get_context("fork")

#: a batch with an empty, a small, a one-chunk and a multi-chunk record
BLOBS = [payload(f"many-{n}", n) for n in (0, 1000, CHUNK_SIZE, 2 * CHUNK_SIZE + 7)]


def test_put_many_returns_each_cid_in_order_pinned_and_readable(store: BlockStore) -> None:
    cids = store.put_many(BLOBS)
    assert cids == [cid_of_bytes(b) for b in BLOBS]
    assert set(cids) <= store.pins()
    for cid, data in zip(cids, BLOBS, strict=True):
        assert store.get(cid) == data
    assert store.put_many([]) == []


def test_put_many_without_pin_pins_nothing(store: BlockStore) -> None:
    blobs = [payload("unpinned-a", 300), payload("unpinned-b", CHUNK_SIZE + 1)]
    cids = store.put_many(blobs, pin=False)
    assert cids == [cid_of_bytes(b) for b in blobs]
    assert not set(cids) & store.pins()
    assert [store.get(c) for c in cids] == blobs


def test_put_many_refuses_what_is_not_bytes_before_storing_anything(store: BlockStore) -> None:
    first = payload("refused-first", 500)
    with pytest.raises(InvalidInput):
        store.put_many([first, "text is not bytes"])  # type: ignore[list-item]
    assert not store.has(cid_of_bytes(first))


def test_put_many_pins_persist_and_the_pin_set_is_written_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = EmbeddedStore(tmp_path)
    earlier = store.put(payload("earlier", 10))
    writes: list[Path] = []
    real = embedded_module.atomic_write

    def counting(path: Path, *args: object, **kwargs: object) -> None:
        writes.append(Path(path))
        real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(embedded_module, "atomic_write", counting)
    cids = store.put_many([payload(f"persist-{i}", 200 + i) for i in range(40)])
    assert writes == [tmp_path / "pins"]  # one pin-set update for the whole batch
    reopened = EmbeddedStore(tmp_path)
    assert reopened.pins() == {earlier, *cids}


def _crashing_put_many(root: Path, blobs: list[bytes]) -> None:
    """Child process: put_many ``blobs``, SIGKILL itself during the fifth block write."""
    calls = {"write": 0}
    real_write_all = embedded_module._write_all

    def write_all(fd: int, part: object) -> None:
        calls["write"] += 1
        if calls["write"] == 5:
            os.kill(os.getpid(), signal.SIGKILL)
        real_write_all(fd, part)  # type: ignore[arg-type]

    store = EmbeddedStore(root)
    embedded_module._write_all = write_all  # type: ignore[assignment]
    embedded_module._WRITERS = 1  # type: ignore[misc]  # deterministic order of writes
    store.put_many(blobs)


def test_a_kill_mid_batch_pins_none_of_it(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path)
    kept = store.put(payload("kept", 99))
    blobs = [payload(f"killed-{i}", 100 + i) for i in range(8)]
    child = _mp.Process(target=_crashing_put_many, args=(tmp_path, blobs))
    child.start()
    child.join(60)
    assert child.exitcode == -signal.SIGKILL

    store = EmbeddedStore(tmp_path)
    cids = [cid_of_bytes(b) for b in blobs]
    assert store.pins() == {kept}  # four blocks were written, none of them pinned
    assert any(store.has(c) for c in cids)
    store.gc()
    assert not any(store.has(c) for c in cids)
    assert store.get(kept) == payload("kept", 99)
    assert store.put_many(blobs) == cids  # the batch, retried, lands whole
    assert store.pins() == {kept, *cids}


def test_a_disk_error_mid_batch_raises_typed_and_pins_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = EmbeddedStore(tmp_path)
    calls = {"write": 0}
    real_write_all = embedded_module._write_all

    def write_all(fd: int, part: object) -> None:
        calls["write"] += 1
        if calls["write"] == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write_all(fd, part)  # type: ignore[arg-type]

    monkeypatch.setattr(embedded_module, "_write_all", write_all)
    monkeypatch.setattr(embedded_module, "_WRITERS", 1)
    blobs = [payload(f"full-{i}", 50 + i) for i in range(6)]
    with pytest.raises(StorageError, match="disk is full"):
        store.put_many(blobs)
    assert store.pins() == set()
