"""Issue 14 point 6: bounded fetches, against both backends (the js-ipfs daemon included).

The attack: a writer registers a tiny, heavily deduplicated UnixFS DAG -- one 256 KiB leaf
linked 1,024 times through two small dag-pb nodes, about 260 KB of blocks -- that is a perfectly
valid medledger CID of 256 MiB of content. Old code (verified on js-ipfs and the embedded store):
``store.get(root)`` read all 256 MiB into memory and returned it; a key document fetch did the
same. Now the size the verified root declares is checked against the caller's ``max_size``
before anything else is read (``ContentTooLarge``), documents are capped at 16 MiB, and a root
that under-declares its size is stopped as soon as the bytes exceed what it declared.
"""

from __future__ import annotations

import io
import os
import random
import stat
from collections.abc import Iterator

import pytest

from medledger.errors import ContentTooLarge, IntegrityError
from medledger.storage import CHUNK_SIZE, CID, BlockStore
from medledger.storage.base import MAX_DOCUMENT_SIZE
from medledger.storage.car import write_car
from medledger.storage.cid import DAG_PB
from medledger.storage.unixfs import (
    FileDagBuilder,
    _Link,
    block_digest,
    decode_pb_node,
    encode_file_node,
)

BOMB_LEAVES = 1024  # 1,024 x 256 KiB = 256 MiB


def _bomb() -> tuple[CID, dict[CID, bytes]]:
    """The deduplicated DAG of 256 MiB of one repeated chunk, built exactly as ``ipfs add``
    builds it; the sink keeps each distinct block once."""
    chunk = random.Random("medledger-bomb").randbytes(CHUNK_SIZE)
    blocks: dict[CID, bytes] = {}

    def sink(cid: CID, parts: tuple[bytes | bytearray | memoryview, ...]) -> None:
        blocks.setdefault(cid, b"".join(bytes(p) for p in parts))

    builder = FileDagBuilder(1, sink=sink)
    for _ in range(BOMB_LEAVES):
        builder.add_chunk(chunk)
    return builder.finish(), blocks


def _import(store: BlockStore, root: CID, blocks: dict[CID, bytes], imported: list[CID]) -> None:
    car = io.BytesIO()
    write_car(car, [root], blocks.items())
    car.seek(0)
    imported.append(root)
    store.import_car(car)


@pytest.fixture(scope="module")
def bomb() -> tuple[CID, dict[CID, bytes]]:
    return _bomb()


@pytest.fixture
def imported(store: BlockStore) -> Iterator[list[CID]]:
    """Roots a test imported, unpinned afterwards: js-ipfs's GC walks pinned DAGs link by link,
    so a bomb left pinned on the shared daemon would make every later garbage collection crawl."""
    roots: list[CID] = []
    yield roots
    for root in roots:
        store.unpin(root)


def test_a_deduplicated_dag_bomb_is_refused_before_reading(
    store: BlockStore, bomb: tuple[CID, dict[CID, bytes]], imported: list[CID]
) -> None:
    root, blocks = bomb
    assert sum(len(b) for b in blocks.values()) < 300_000  # a few hundred KB of blocks...
    _import(store, root, blocks, imported)
    assert store.stat(root).size == BOMB_LEAVES * CHUNK_SIZE  # ...that expand to 256 MiB
    cap = 16 << 20
    with pytest.raises(ContentTooLarge, match="refused before reading") as caught:
        store.get(root, max_size=cap)
    assert str(BOMB_LEAVES * CHUNK_SIZE) in str(caught.value)
    with pytest.raises(ContentTooLarge):
        store.get_stream(root, max_size=cap)  # refused at the call, before any piece
    with pytest.raises(ContentTooLarge):
        store.get_temp(root, max_size=cap)
    with pytest.raises(ContentTooLarge):  # a document named on-chain by this digest
        store.get_document(root.digest)
    assert MAX_DOCUMENT_SIZE == 16 << 20


def test_a_root_that_under_declares_its_size_is_stopped_early(
    store: BlockStore, bomb: tuple[CID, dict[CID, bytes]], imported: list[CID]
) -> None:
    """A hand-made root that declares 1,000 bytes but links to 43.5 MiB: reading stops as soon
    as the bytes exceed the declaration (old code's embedded store read everything). js-ipfs
    itself stops ``cat`` at the declared size; the CID check then refuses the bytes."""
    root, blocks = bomb
    big = decode_pb_node(blocks[root]).links[0]  # 174 leaves: 43.5 MiB
    liar_block = encode_file_node([_Link(big[0].to_bytes(), big[1], 1_000)])
    liar = CID(1, DAG_PB, block_digest([liar_block]))
    _import(store, liar, {**blocks, liar: liar_block}, imported)
    assert store.stat(liar).size == 1_000
    with pytest.raises(IntegrityError, match=r"more than the 1000 bytes its root|hashes to"):
        store.get(liar, max_size=1 << 20)


def test_large_content_streams_to_a_private_temp_file(store: BlockStore) -> None:
    data = os.urandom(3 * CHUNK_SIZE + 5)
    cid = store.put(data)
    with store.get_temp(cid, max_size=len(data)) as tmp:
        assert stat.S_IMODE(os.fstat(tmp.fileno()).st_mode) == 0o600
        assert tmp.read() == data
    with pytest.raises(ContentTooLarge):
        store.get(cid, max_size=len(data) - 1)
    assert store.get(cid, max_size=len(data)) == data
    small = store.put(b"MLKB small document")
    assert store.get_document(small.digest) == b"MLKB small document"
