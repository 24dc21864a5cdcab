"""Pure CID computation: Kubo's reference vectors, chunk boundaries, streaming, tree layout."""

from __future__ import annotations

import io
import os
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import aleph_cid
import pytest

from helpers.storage import payload
from medledger.errors import InvalidInput
from medledger.storage import CHUNK_SIZE, MAX_LINKS, cid_of_bytes, cid_of_file, cid_of_stream
from medledger.storage.cid import CID
from medledger.storage.unixfs import (
    UNIXFS_FILE,
    FileDagBuilder,
    decode_pb_node,
    decode_unixfs,
    leaf_digest,
)

# IPFS.md: identical in Kubo 0.22 (v0) and js-ipfs
VECTORS = [
    ("1k", 1_024, "QmbcxkK5cyd6f2FxCVgibHVq9kK5upbLDJFDUibZZeFt5M",
     "bafkreigrzdg472msovmvqksmazdhwyrmhmclwjzxnx7hrb24uyq4whpxhe"),
    ("300k", 307_200, "QmQxMyZJjNUbCwAiduH9ZwPm4k9yXPZWfVDRnEanzPneKA",
     "bafybeihieba2mkads4ovfxehrvjwmunde4fouajidpjmesyroen64ntih4"),
    ("5m", 5_242_880, "Qmbgmwzh4VZJmRtkPefWoH2rRgGuhwibFFuyQMkrQ9EpRs",
     "bafybeihbvsk3a3mnebqkydoj5gv2oltbhfnmtivyffw4nhyxd2amezvd3u"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "size", "v0", "v1"), VECTORS)
def test_reference_vectors(name: str, size: int, v0: str, v1: str) -> None:
    data = payload(name, size)
    assert str(cid_of_bytes(data, version=0)) == v0
    assert str(cid_of_bytes(data, version=1)) == v1
    assert str(cid_of_bytes(data)) == v1  # v1 is medledger's default


def test_empty_file_is_one_empty_leaf() -> None:
    assert str(cid_of_bytes(b"", 0)) == "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"
    empty_v1 = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
    assert str(cid_of_bytes(b"", 1)) == empty_v1


@pytest.mark.parametrize(
    "size",
    [1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE, 3 * CHUNK_SIZE + 7],
)
def test_chunk_boundaries_match_an_independent_implementation(size: int) -> None:
    # aleph-cid (Rust) is an independent Kubo-compatible implementation installed for benchmarks.
    data = payload(f"boundary-{size}", size)
    assert str(cid_of_bytes(data, 0)) == aleph_cid.compute_cid(data)
    hasher = aleph_cid.CidHasher.for_ipfs_v1_raw_leaves()
    hasher.update(data)
    assert cid_of_bytes(data, 1) == CID.parse(hasher.finalize())


class ShortReads(io.RawIOBase):
    """A pipe-like stream that returns at most 1000 bytes per read."""

    def __init__(self, data: bytes) -> None:
        self._data, self._pos = data, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), 1000, len(self._data) - self._pos)
        buffer[:n] = self._data[self._pos : self._pos + n]
        self._pos += n
        return n


def test_stream_forms_agree_with_bytes(tmp_path: Path) -> None:
    data = payload("streams", 3 * CHUNK_SIZE + 12_345)
    expected = cid_of_bytes(data)

    def odd_pieces() -> Iterator[bytes]:
        for start in range(0, len(data), 100_003):
            yield data[start : start + 100_003]

    path = tmp_path / "f.bin"
    path.write_bytes(data)
    assert cid_of_stream(io.BytesIO(data)) == expected
    assert cid_of_stream(ShortReads(data)) == expected
    assert cid_of_stream(odd_pieces()) == expected
    assert cid_of_stream(bytearray(data)) == expected
    assert cid_of_file(path) == expected
    assert cid_of_file(path, version=0) == cid_of_bytes(data, 0)


def test_mutable_pieces_reused_by_the_producer_are_safe() -> None:
    data = payload("reuse", 5 * CHUNK_SIZE)

    def reusing_producer() -> Iterator[bytearray]:
        buf = bytearray(CHUNK_SIZE)
        for start in range(0, len(data), CHUNK_SIZE):
            buf[:] = data[start : start + CHUNK_SIZE]
            yield buf  # overwritten on the next iteration

    assert cid_of_stream(reusing_producer()) == cid_of_bytes(data)


def test_streaming_memory_stays_bounded() -> None:
    total = 64 * 1024 * 1024

    def pieces() -> Iterator[bytes]:
        for i in range(total // (1024 * 1024)):
            yield i.to_bytes(4, "big") * (256 * 1024)

    tracemalloc.start()
    try:
        cid_of_stream(pieces())
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 12 * 1024 * 1024, f"peak {peak} bytes while streaming {total} bytes"


def test_bad_arguments_raise_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        cid_of_bytes("text")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        cid_of_bytes(b"x", version=2)
    with pytest.raises(InvalidInput):
        cid_of_stream(io.StringIO("text"))  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        cid_of_stream(["a", "b"])  # type: ignore[list-item]
    with pytest.raises(InvalidInput):
        cid_of_file(tmp_path / "missing")
    with pytest.raises(InvalidInput):
        cid_of_file(tmp_path)


def test_builder_refuses_short_chunk_before_the_end() -> None:
    builder = FileDagBuilder(1)
    builder.add_chunk(b"short")
    with pytest.raises(InvalidInput):
        builder.add_chunk(b"x" * CHUNK_SIZE)


def test_balanced_layout_depth_three_keeps_partial_right_edge() -> None:
    """174*174 + 1 leaves: root -> [full 174x174 subtree, node -> node -> one leaf] (go-unixfs)."""
    blocks: dict[CID, bytes] = {}
    builder = FileDagBuilder(1, sink=lambda cid, parts: blocks.__setitem__(cid, b"".join(parts)))
    chunk = memoryview(bytes(CHUNK_SIZE))
    digest = leaf_digest(chunk, 1)  # identical leaves: hash once, the layout is what matters
    leaves = MAX_LINKS * MAX_LINKS + 1
    for _ in range(leaves):
        builder.add_leaf(chunk, digest)
    root = builder.finish()

    def node(cid: CID) -> tuple[list[CID], int, tuple[int, ...]]:
        pb = decode_pb_node(blocks[cid])
        fs = decode_unixfs(pb.data)
        assert fs.type == UNIXFS_FILE
        assert fs.filesize == sum(fs.blocksizes)
        return [c for c, _ in pb.links], fs.filesize, fs.blocksizes

    children, size, _ = node(root)
    assert size == leaves * CHUNK_SIZE
    assert len(children) == 2
    full, partial = children
    full_children, full_size, _ = node(full)
    assert len(full_children) == MAX_LINKS
    assert full_size == MAX_LINKS * MAX_LINKS * CHUNK_SIZE
    assert all(len(node(c)[0]) == MAX_LINKS for c in full_children)
    (middle,) = node(partial)[0]
    (leaf,) = node(middle)[0]
    assert leaf.codec == 0x55
    assert len(blocks[leaf]) == CHUNK_SIZE


def test_cid_of_file_prints_like_ipfs_add_only_hash(tmp_path: Path) -> None:
    path = tmp_path / "note.txt"
    path.write_bytes(os.urandom(10))
    assert str(cid_of_file(path, 0)).startswith("Qm")
    assert str(cid_of_file(path, 1)).startswith("bafk")
