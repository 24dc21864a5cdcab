"""The ``BlockStore`` interface both backends implement (embedded blockstore, IPFS node).

Content goes in as bytes or a stream and comes back by CID. Every read is verified against the
CID it was asked for, whichever backend served it: a store that returns other bytes raises
:class:`~medledger.errors.IntegrityError`, never hands them out.

Errors callers can act on (all from :mod:`medledger.errors`):
``BlockNotFound`` (the store does not have it), ``IntegrityError`` (content does not match its
CID), ``StoreUnavailable`` (node unreachable), ``StoreTimeout`` (node did not answer in time),
``InvalidInput`` (malformed CID or argument).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

from medledger.errors import InvalidInput, StorageError
from medledger.fsutil import atomic_write_stream
from medledger.storage.cid import CID
from medledger.storage.unixfs import Buffer, Source

CidLike = CID | str | bytes


@dataclass(frozen=True, slots=True)
class ContentStat:
    """What a store knows about stored content."""

    cid: CID
    #: file bytes (the content's length, not the encoded DAG's)
    size: int
    #: recursively pinned (kept by garbage collection)
    pinned: bool


@dataclass(frozen=True, slots=True)
class GcResult:
    """Outcome of a garbage collection."""

    removed_blocks: int
    #: bytes freed, when the backend reports it (an IPFS node does not)
    removed_bytes: int | None


class BlockStore(ABC):
    """Content-addressed record storage (see module docstring for the error contract).

    ``version`` selects the CID version content is added as: 1 (default; raw leaves, base32
    ``bafy...``/``bafk...``) or 0 (``Qm...``). New content is pinned unless ``pin=False``.
    """

    #: short human-readable description (``"embedded:/path"`` or ``"ipfs:http://..."``)
    location: str

    # --- writing ---------------------------------------------------------------------------

    def put(self, data: Buffer, *, version: int = 1, pin: bool = True) -> CID:
        """Store ``data``; return its CID (identical to ``ipfs add [--cid-version=1]``)."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise InvalidInput(f"put takes bytes, not {type(data).__name__}")
        return self.put_stream(data, version=version, pin=pin)

    @abstractmethod
    def put_stream(self, source: Source, *, version: int = 1, pin: bool = True) -> CID:
        """Store everything read from a binary stream / iterable of byte pieces, streaming."""

    def put_file(self, path: str | os.PathLike[str], *, version: int = 1, pin: bool = True) -> CID:
        """Store a file's content, streamed from disk."""
        p = Path(path)
        try:
            with p.open("rb", buffering=0) as stream:
                return self.put_stream(stream, version=version, pin=pin)
        except (FileNotFoundError, IsADirectoryError):
            raise InvalidInput(f"not a readable file: {p}") from None

    # --- reading ---------------------------------------------------------------------------

    @abstractmethod
    def get(self, cid: CidLike) -> bytes:
        """The verified content of ``cid``."""

    @abstractmethod
    def get_stream(self, cid: CidLike) -> Iterator[bytes]:
        """The content of ``cid`` in pieces, for content too large to hold in memory.

        Backends verify as much as they can before yielding; an IPFS node's answer can only be
        checked once complete, so the iterator raises :class:`IntegrityError` at the end if it
        did not match: do not act on the pieces before the iterator is exhausted, or use
        :meth:`get_file`, which only makes verified content visible.
        """

    def get_file(self, cid: CidLike, path: str | os.PathLike[str]) -> int:
        """Write verified content to ``path`` (atomically: temp file, fsync, rename).

        Returns the number of bytes written. On any failure ``path`` is left untouched.
        """
        try:
            return atomic_write_stream(path, self.get_stream(cid))
        except OSError as exc:
            raise StorageError(f"cannot write {path}: {exc.strerror or exc}") from exc

    @abstractmethod
    def has(self, cid: CidLike) -> bool:
        """Whether the store holds the root block of ``cid`` (no network search, no hang)."""

    @abstractmethod
    def stat(self, cid: CidLike) -> ContentStat:
        """Size and pin state of stored content (root block verified)."""

    # --- pinning and garbage collection ----------------------------------------------------

    @abstractmethod
    def pin(self, cid: CidLike) -> None:
        """Pin ``cid`` recursively (raises :class:`BlockNotFound` if content is missing)."""

    @abstractmethod
    def unpin(self, cid: CidLike) -> bool:
        """Remove the recursive pin; return whether ``cid`` was pinned."""

    @abstractmethod
    def pins(self) -> frozenset[CID]:
        """The recursively pinned roots."""

    @abstractmethod
    def gc(self) -> GcResult:
        """Delete every block not reachable from a pin."""

    # --- moving content between stores ------------------------------------------------------

    @abstractmethod
    def export_car(self, cid: CidLike, out: IO[bytes]) -> int:
        """Write the DAG of ``cid`` as a CAR v1 stream (blocks verified); return bytes written."""

    @abstractmethod
    def import_car(self, source: IO[bytes], *, pin: bool = True) -> tuple[CID, ...]:
        """Import a CAR v1 stream (every block verified); return its roots (pinned if ``pin``)."""

    # --- lifecycle --------------------------------------------------------------------------

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing open
        """Release resources (no-op by default)."""

    def __enter__(self) -> BlockStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.location}>"
