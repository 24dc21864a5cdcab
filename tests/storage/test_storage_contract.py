"""The BlockStore contract, run against every backend (embedded store and a real js-ipfs node)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.storage import payload
from medledger.errors import BlockNotFound, InvalidInput
from medledger.storage import CHUNK_SIZE, BlockStore, EmbeddedStore, cid_of_bytes

SIZES = [0, 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 5]


@pytest.mark.parametrize("version", [0, 1])
def test_put_returns_the_kubo_cid_and_get_returns_the_bytes(
    store: BlockStore, version: int
) -> None:
    for size in SIZES:
        data = payload(f"contract-{size}", size)
        cid = store.put(data, version=version)
        assert cid == cid_of_bytes(data, version)
        assert cid.version == version
        assert store.get(cid) == data
        assert store.get(str(cid)) == data  # any CID form is accepted
        assert b"".join(store.get_stream(cid)) == data


def test_put_stream_accepts_files_and_generators(store: BlockStore, tmp_path: Path) -> None:
    data = payload("contract-stream", 2 * CHUNK_SIZE + 99)

    def pieces() -> Iterator[bytes]:
        for start in range(0, len(data), 70_000):
            yield data[start : start + 70_000]

    expected = cid_of_bytes(data)
    assert store.put_stream(io.BytesIO(data)) == expected
    assert store.put_stream(pieces()) == expected
    path = tmp_path / "record.bin"
    path.write_bytes(data)
    assert store.put_file(path) == expected
    out = tmp_path / "out.bin"
    assert store.get_file(expected, out) == len(data)
    assert out.read_bytes() == data


def test_has_and_stat(store: BlockStore) -> None:
    data = payload("contract-stat", CHUNK_SIZE * 2 + 3)
    cid = store.put(data)
    assert store.has(cid)
    stat = store.stat(cid)
    assert (stat.cid, stat.size, stat.pinned) == (cid, len(data), True)
    unpinned = store.put(payload("contract-stat-unpinned", 10), pin=False)
    assert store.stat(unpinned).pinned is False
    assert store.stat(unpinned).size == 10
    assert not store.has(cid_of_bytes(b"contract: never stored anywhere"))


def test_missing_content_raises_block_not_found(store: BlockStore) -> None:
    missing = cid_of_bytes(b"contract: this content was never stored")
    with pytest.raises(BlockNotFound) as caught:
        store.get(missing)
    assert str(missing) in str(caught.value)
    with pytest.raises(BlockNotFound):
        list(store.get_stream(missing))
    with pytest.raises(BlockNotFound):
        store.stat(missing)


def test_pin_unpin_and_garbage_collection(store: BlockStore) -> None:
    kept_data = payload("contract-gc-kept", 2 * CHUNK_SIZE + 1)
    gone_data = payload("contract-gc-gone", 2 * CHUNK_SIZE + 2)
    kept = store.put(kept_data)
    gone = store.put(gone_data)
    assert {kept, gone} <= store.pins()
    assert store.unpin(gone) is True
    assert store.unpin(gone) is False  # already unpinned
    assert gone not in store.pins()

    result = store.gc()
    assert result.removed_blocks >= 3  # root + two leaves of `gone`, at least
    assert store.get(kept) == kept_data
    assert not store.has(gone)
    with pytest.raises(BlockNotFound):
        store.get(gone)

    # Re-adding unpinned, then pinning, protects the content from the next collection.
    again = store.put(gone_data, pin=False)
    store.pin(again)
    store.gc()
    assert store.get(again) == gone_data


def test_pin_of_absent_content_fails(store: BlockStore) -> None:
    with pytest.raises(BlockNotFound):
        store.pin(cid_of_bytes(b"contract: not here to pin"))


def test_car_export_import_between_stores(store: BlockStore, tmp_path: Path) -> None:
    data = payload("contract-car", 3 * CHUNK_SIZE + 17)
    cid = store.put(data)
    car = io.BytesIO()
    assert store.export_car(cid, car) == len(car.getvalue()) > len(data)
    other = EmbeddedStore(tmp_path / "other")
    car.seek(0)
    assert other.import_car(car) == (cid,)
    assert other.get(cid) == data
    assert cid in other.pins()

    # ... and back into this store after it forgot the content.
    store.unpin(cid)
    store.gc()
    back = io.BytesIO()
    other.export_car(cid, back)
    back.seek(0)
    assert store.import_car(back) == (cid,)
    assert store.get(cid) == data


def test_bad_input_is_rejected_before_anything_is_stored(store: BlockStore) -> None:
    with pytest.raises(InvalidInput):
        store.get("not-a-cid")
    with pytest.raises(InvalidInput):
        store.put("text")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        store.put(b"data", version=2)
    with pytest.raises(InvalidInput):
        store.has("bafkqaaa")  # identity hash: unverifiable
