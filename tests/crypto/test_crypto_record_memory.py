"""Large records: streaming uses constant memory, in-memory sealing holds no extra copies.

Memory is measured with tracemalloc (allocations, not time), on 24 MiB of data.
"""

from __future__ import annotations

import hashlib
import tracemalloc
from collections.abc import Callable

from helpers.crypto import AUTHOR, LABS
from medledger.crypto import Keyring, open_record, open_stream, seal_record, seal_stream

MIB = 1 << 20
SIZE = 24 * MIB


class _Zeros:
    """A source of ``size`` bytes that never holds them all (like a large file being read)."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readinto(self, buffer: memoryview, /) -> int:
        n = min(len(buffer), self.left, 256 * 1024)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


class _Digest:
    """A sink that keeps only a hash of what it is given."""

    def __init__(self) -> None:
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: memoryview, /) -> int:
        self.hash.update(data)
        self.size += len(data)
        return len(data)


class _Replay:
    """A source replaying bytes through a small window (the sealed record 'on disk')."""

    def __init__(self, data: bytes) -> None:
        self.view = memoryview(data)
        self.pos = 0

    def readinto(self, buffer: memoryview, /) -> int:
        n = min(len(buffer), len(self.view) - self.pos)
        buffer[:n] = self.view[self.pos : self.pos + n]
        self.pos += n
        return n


def _peak(fn: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_streaming_uses_a_few_segments_of_memory_whatever_the_size() -> None:
    keyring = Keyring.create(1, categories=[LABS])
    directory = keyring.directory()
    sealed = _Digest()
    peak = _peak(
        lambda: seal_stream(
            _Zeros(SIZE), sealed, directory, category=LABS, author=AUTHOR, created_at=1
        )
    )
    assert sealed.size == SIZE + 24 * 16 + 200  # 24 tags, 200-byte X25519 header (format v2)
    assert peak < 3 * MIB  # one input and one output buffer of a 1 MiB segment

    blob = seal_record(bytes(SIZE), directory, category=LABS, author=AUTHOR, created_at=1)
    plain = _Digest()
    peak = _peak(lambda: open_stream(_Replay(blob), plain, keyring))
    assert plain.size == SIZE
    assert plain.hash.digest() == hashlib.sha256(bytes(SIZE)).digest()
    assert peak < 3 * MIB


def test_in_memory_forms_allocate_only_their_output() -> None:
    keyring = Keyring.create(1, categories=[LABS])
    data = bytes(SIZE)
    results: list[bytes] = []

    def seal() -> None:
        results.append(
            seal_record(data, keyring.directory(), category=LABS, author=AUTHOR, created_at=1)
        )

    peak = _peak(seal)
    assert SIZE < peak < SIZE + 2 * MIB  # the output, no second copy
    blob = results.pop()
    peak = _peak(lambda: results.append(open_record(blob, keyring).plaintext))
    assert SIZE <= peak < SIZE + 2 * MIB
    assert results[0] == data
