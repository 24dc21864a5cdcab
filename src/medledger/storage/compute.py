"""CID computation entry points: ``cid_of_bytes``, ``cid_of_stream``, ``cid_of_file``.

``cid_of_file(path, version)`` prints exactly what ``ipfs add --only-hash -Q
[--cid-version=1] FILE`` prints (``str(cid)``: base58btc ``Qm...`` for v0, base32 for v1).

Leaf hashing is spread over a small thread pool: ``hashlib`` releases the GIL on large buffers,
so on a multi-core machine the leaves of one file hash in parallel while the calling thread
reads the next chunks. The DAG itself is still assembled in order by one
:class:`~medledger.storage.unixfs.FileDagBuilder`, so the result is identical to a serial run.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from medledger.errors import InvalidInput, StorageError
from medledger.storage.cid import CID
from medledger.storage.unixfs import (
    BlockSink,
    Buffer,
    FileDagBuilder,
    Source,
    iter_chunks,
    leaf_digest,
)

#: leaves hashed ahead of the builder; bounds memory at WINDOW chunks (256 KiB each)
_WINDOW = 8
_WORKERS = max(1, min(4, os.cpu_count() or 1))


def build_dag(chunks: Iterable[Buffer], version: int = 1, sink: BlockSink | None = None) -> CID:
    """Build the UnixFS DAG of ``chunks`` (full chunks, last may be short); return the root.

    ``sink`` receives every block in DAG order. Chunks must not be mutated after being yielded
    (the pool may still be hashing them).
    """
    builder = FileDagBuilder(version, sink)
    iterator = iter(chunks)
    first = next(iterator, None)
    if first is None:
        return builder.finish()
    second = next(iterator, None)
    if second is None or _WORKERS == 1:
        # Small input (or one core): no pool, no thread start-up cost.
        builder.add_chunk(first)
        if second is not None:
            builder.add_chunk(second)
            for chunk in iterator:
                builder.add_chunk(chunk)
        return builder.finish()
    pending: deque[tuple[Buffer, Future[bytes]]] = deque()
    with ThreadPoolExecutor(_WORKERS, thread_name_prefix="medledger-cid") as pool:
        for chunk in _chain(first, second, iterator):
            pending.append((chunk, pool.submit(leaf_digest, chunk, version)))
            if len(pending) >= _WINDOW:
                done_chunk, digest = pending.popleft()
                builder.add_leaf(done_chunk, digest.result())
        while pending:
            done_chunk, digest = pending.popleft()
            builder.add_leaf(done_chunk, digest.result())
    return builder.finish()


def _chain(first: Buffer, second: Buffer, rest: Iterable[Buffer]) -> Iterable[Buffer]:
    yield first
    yield second
    yield from rest


def cid_of_stream(source: Source, version: int = 1) -> CID:
    """CID of everything read from a binary stream (or an iterable of byte pieces).

    Reads one chunk at a time: memory stays constant whatever the stream's length.
    """
    return build_dag(iter_chunks(source), version)


def cid_of_bytes(data: Buffer, version: int = 1) -> CID:
    """CID of ``data``, as ``ipfs add --only-hash [--cid-version=1]`` computes it."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidInput(f"cid_of_bytes takes bytes, not {type(data).__name__}")
    return build_dag(iter_chunks(data), version)


def cid_of_file(path: str | os.PathLike[str], version: int = 1) -> CID:
    """CID of a file's content, streamed from disk (a 1 GiB file is never held in memory)."""
    p = Path(path)
    try:
        # Unbuffered: each read lands directly in a fresh chunk-sized bytes object.
        with p.open("rb", buffering=0) as stream:
            return build_dag(iter_chunks(stream), version)
    except IsADirectoryError:
        raise InvalidInput(f"{p} is a directory, not a file") from None
    except FileNotFoundError:
        raise InvalidInput(f"no such file: {p}") from None
    except OSError as exc:
        raise StorageError(f"cannot read {p}: {exc.strerror or exc}") from exc
