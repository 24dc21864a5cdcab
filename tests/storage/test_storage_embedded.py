"""Embedded store: crash safety, multi-process safety, tamper detection, layout, open_store."""

from __future__ import annotations

import hashlib
import io
import multiprocessing
import os
import signal
from pathlib import Path

import aleph_cid
import pytest

import medledger.storage.embedded as embedded_module
from helpers.storage import payload
from medledger.errors import BlockNotFound, IntegrityError, InvalidInput, StorageError
from medledger.storage import (
    CHUNK_SIZE,
    CID,
    EmbeddedStore,
    IpfsNodeStore,
    cid_of_bytes,
    default_store_path,
    open_store,
)
from medledger.storage.embedded import block_key

# fork: the children run store code only, and need no re-import of the test module.
_mp = multiprocessing.get_context("fork")


def _block_files(store: EmbeddedStore) -> list[Path]:
    return sorted((store.root / "blocks").rglob("*.data"))


def _temp_files(store: EmbeddedStore) -> list[Path]:
    return sorted(p for p in store.root.rglob(".tmp-*"))


def _assert_every_visible_block_is_whole(store: EmbeddedStore) -> None:
    for path in _block_files(store):
        multihash = hashlib.sha256(path.read_bytes()).digest()
        assert block_key(b"\x12\x20" + multihash) + ".data" == path.name, path


def test_blocks_are_files_named_by_multihash(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path)
    data = payload("layout", 2 * CHUNK_SIZE + 5)
    cid = store.put(data)
    files = _block_files(store)
    assert len(files) == 4  # three raw leaves and the root node
    path = store.block_path(cid)
    assert path in files
    assert path.name.startswith("CIQ")  # base32 of 0x12 0x20 ...: Kubo's flatfs keys
    assert path.parent.name == path.name[-8:-6]  # next-to-last/2 sharding
    _assert_every_visible_block_is_whole(store)


def _crashing_put(root: Path, data: bytes, mode: str) -> None:
    """Child process: put `data`, SIGKILL itself during the third block write."""
    calls = {"write": 0, "rename": 0}
    real_write_all, real_replace = embedded_module._write_all, os.replace

    def write_all(fd: int, part: object) -> None:
        calls["write"] += 1
        if mode == "mid-write" and calls["write"] == 3:
            view = memoryview(part).cast("B")  # type: ignore[arg-type]
            os.write(fd, view[: len(view) // 2])
            os.kill(os.getpid(), signal.SIGKILL)
        real_write_all(fd, part)  # type: ignore[arg-type]

    def replace(src: object, dst: object) -> None:
        calls["rename"] += 1
        if mode == "before-rename" and calls["rename"] == 3:
            os.kill(os.getpid(), signal.SIGKILL)
        real_replace(src, dst)  # type: ignore[arg-type]

    store = EmbeddedStore(root)  # (opening writes the layout marker: not counted)
    embedded_module._write_all = write_all  # type: ignore[assignment]
    os.replace = replace  # type: ignore[assignment]
    embedded_module._WRITERS = 1  # type: ignore[misc]  # deterministic order of writes
    store.put(data)


@pytest.mark.parametrize("mode", ["mid-write", "before-rename"])
def test_a_crash_mid_put_never_exposes_a_partial_block(tmp_path: Path, mode: str) -> None:
    data = payload("crash", 6 * CHUNK_SIZE)
    child = _mp.Process(target=_crashing_put, args=(tmp_path, data, mode))
    child.start()
    child.join(60)
    assert child.exitcode == -signal.SIGKILL

    store = EmbeddedStore(tmp_path)
    assert _temp_files(store), "the crash should have left a temporary file behind"
    _assert_every_visible_block_is_whole(store)
    cid = cid_of_bytes(data)
    assert not store.has(cid)
    assert cid not in store.pins()
    with pytest.raises(BlockNotFound):
        store.get(cid)

    store.gc()  # removes the leftovers of the crashed writer
    assert _temp_files(store) == []
    assert store.put(data) == cid
    assert store.get(cid) == data


def _put_many(root: Path, tag: str, count: int, barrier: object) -> None:
    barrier.wait()  # type: ignore[attr-defined]
    store = EmbeddedStore(root)
    for i in range(count):
        store.put(payload(f"{tag}-{i}", CHUNK_SIZE + i))


def _gc_loop(root: Path, stop: object) -> None:
    store = EmbeddedStore(root)
    while not stop.is_set():  # type: ignore[attr-defined]
        store.gc()


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    count = 8
    barrier = _mp.Barrier(2)
    writers = [
        _mp.Process(target=_put_many, args=(tmp_path, tag, count, barrier)) for tag in ("a", "b")
    ]
    for w in writers:
        w.start()
    for w in writers:
        w.join(120)
        assert w.exitcode == 0
    store = EmbeddedStore(tmp_path)
    expected = {
        cid_of_bytes(payload(f"{tag}-{i}", CHUNK_SIZE + i)): payload(f"{tag}-{i}", CHUNK_SIZE + i)
        for tag in ("a", "b")
        for i in range(count)
    }
    assert store.pins() == set(expected)  # no lost pin-set update
    for cid, data in expected.items():
        assert store.get(cid) == data


def test_garbage_collection_in_another_process_never_eats_new_content(tmp_path: Path) -> None:
    stop = _mp.Event()
    collector = _mp.Process(target=_gc_loop, args=(tmp_path, stop))
    collector.start()
    try:
        store = EmbeddedStore(tmp_path)
        written = {}
        for i in range(12):
            data = payload(f"race-{i}", 2 * CHUNK_SIZE + i)
            written[store.put(data)] = data
    finally:
        stop.set()
        collector.join(60)
    assert collector.exitcode == 0, f"collector exit code {collector.exitcode}"
    for cid, data in written.items():
        assert store.get(cid) == data


def _tamper(path: Path) -> None:
    path.chmod(0o644)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))


def test_a_tampered_block_is_detected_on_every_read(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "store")
    data = payload("tamper", 3 * CHUNK_SIZE)
    cid = store.put(data)
    second_leaf = CID(1, 0x55, hashlib.sha256(data[CHUNK_SIZE : 2 * CHUNK_SIZE]).digest())
    _tamper(store.block_path(second_leaf))

    with pytest.raises(IntegrityError):
        store.get(cid)
    pieces = store.get_stream(cid)
    assert next(pieces) == data[:CHUNK_SIZE]  # the intact first leaf is served...
    with pytest.raises(IntegrityError):
        next(pieces)  # ...the tampered one never is
    out = tmp_path / "out.bin"
    with pytest.raises(IntegrityError):
        store.get_file(cid, out)
    assert not out.exists()
    assert list(tmp_path.glob(".out.bin*")) == []
    with pytest.raises(IntegrityError):
        store.export_car(cid, io.BytesIO())

    _tamper(store.block_path(cid))
    with pytest.raises(IntegrityError):
        store.stat(cid)


def test_exported_car_header_is_readable_by_another_implementation(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "store")
    cid = store.put(payload("car-header", CHUNK_SIZE + 1), version=0)
    car = tmp_path / "x.car"
    with car.open("wb") as out:
        store.export_car(cid, out)
    assert CID.parse(aleph_cid.read_carv1_root(car)) == cid


def test_import_of_a_corrupt_car_stores_nothing_visible(tmp_path: Path) -> None:
    source = EmbeddedStore(tmp_path / "a")
    cid = source.put(payload("car-corrupt", 2 * CHUNK_SIZE))
    buf = io.BytesIO()
    source.export_car(cid, buf)
    raw = bytearray(buf.getvalue())
    raw[-100] ^= 0xFF  # inside the last block
    target = EmbeddedStore(tmp_path / "b")
    with pytest.raises(IntegrityError):
        target.import_car(io.BytesIO(bytes(raw)))
    assert cid not in target.pins()
    with pytest.raises(IntegrityError):
        target.import_car(io.BytesIO(b"\x05hello"))


def test_open_store_specs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDLEDGER_HOME", str(tmp_path / "home"))
    assert default_store_path() == tmp_path / "home" / "store"
    default = open_store(None)
    assert isinstance(default, EmbeddedStore)
    assert default.root == tmp_path / "home" / "store"
    assert isinstance(open_store("embedded"), EmbeddedStore)
    assert open_store(str(tmp_path / "s1")).root == tmp_path / "s1"  # type: ignore[attr-defined]
    assert open_store(f"embedded:{tmp_path / 's2'}").root == tmp_path / "s2"  # type: ignore[attr-defined]
    node = open_store("http://127.0.0.1:5001")
    assert isinstance(node, IpfsNodeStore)
    assert node.url == "http://127.0.0.1:5001"
    node = open_store("/ip4/127.0.0.1/tcp/5001/http", rpc_timeout=3)
    assert isinstance(node, IpfsNodeStore)
    assert node.url == "http://127.0.0.1:5001"
    with pytest.raises(InvalidInput):
        open_store("")
    with pytest.raises(InvalidInput):
        open_store(str(tmp_path / "s3"), timeout=3)
    with pytest.raises(InvalidInput):
        open_store("/ip4/127.0.0.1/udp/5001")


def _open_many(root: Path, barrier: object) -> None:
    barrier.wait()  # type: ignore[attr-defined]
    for i in range(300):  # the processes race on each fresh directory in turn
        EmbeddedStore(root / str(i))


def test_processes_opening_a_fresh_store_at_once_all_succeed(tmp_path: Path) -> None:
    barrier = _mp.Barrier(3)
    openers = [_mp.Process(target=_open_many, args=(tmp_path / "s", barrier)) for _ in range(3)]
    for p in openers:
        p.start()
    for p in openers:
        p.join(60)
    assert [p.exitcode for p in openers] == [0, 0, 0]


def test_a_directory_that_is_not_a_blockstore_is_refused(tmp_path: Path) -> None:
    (tmp_path / "layout").write_text("something else\n")
    with pytest.raises(StorageError):
        EmbeddedStore(tmp_path)
