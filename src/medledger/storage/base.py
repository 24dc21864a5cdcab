"""The ``BlockStore`` interface both backends implement (embedded blockstore, IPFS node).

Content goes in as bytes or a stream and comes back by CID. Every read is verified against the
CID it was asked for, whichever backend served it: a store that returns other bytes raises
:class:`~medledger.errors.IntegrityError`, never hands them out.

Errors callers can act on (all from :mod:`medledger.errors`):
``BlockNotFound`` (the store does not have it), ``IntegrityError`` (content does not match its
CID), ``StoreUnavailable`` (node unreachable), ``StoreTimeout`` (node did not answer in time),
``ContentTooLarge`` (content above the caller's ``max_size``), ``InvalidInput`` (malformed CID
or argument).

Reads are bounded: every read takes ``max_size`` (bytes; ``None`` = no cap). The size is taken
from the verified root block *before* any content is read (a UnixFS root states its file size),
and the bytes that arrive are counted as they come: more than the root declares is an
``IntegrityError``, more than ``max_size`` a ``ContentTooLarge``, both raised at once, so a
tiny deduplicated DAG that expands to gigabytes is refused before it is read.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from medledger.errors import (
    ContentTooLarge,
    IntegrityError,
    InvalidInput,
    MedledgerError,
    StorageError,
)
from medledger.fsutil import atomic_write_stream
from medledger.storage.cid import CID
from medledger.storage.unixfs import Buffer, Source

CidLike = CID | str | bytes

#: Cap for small reference documents (keyrings, key bundles, kits, key documents).
MAX_DOCUMENT_SIZE = 16 << 20


def check_size(cid: CID, declared: int, max_size: int | None) -> None:
    """Refuse content whose verified root declares more than ``max_size`` bytes."""
    if max_size is not None and declared > max_size:
        raise ContentTooLarge(
            f"{cid} holds {declared} bytes, more than the {max_size}-byte limit of this read "
            "(refused before reading)",
            hint="raise max_size if this content is expected to be that large",
        )


def bounded(
    cid: CID, pieces: Iterator[bytes], declared: int, max_size: int | None
) -> Iterator[bytes]:
    """Pass ``pieces`` through, failing as soon as they exceed the declared size or the cap."""
    total = 0
    for piece in pieces:
        total += len(piece)
        if total > declared:
            raise IntegrityError(
                f"{cid} yields more than the {declared} bytes its root declares (a malformed or "
                "malicious DAG); reading stopped"
            )
        if max_size is not None and total > max_size:  # pragma: no cover - declared <= max_size
            raise ContentTooLarge(f"{cid} exceeds the {max_size}-byte limit; reading stopped")
        yield piece
    if total != declared:
        raise IntegrityError(f"{cid} yields {total} bytes but its root declares {declared}")


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

    def put_many(self, blobs: Sequence[Buffer], *, version: int = 1, pin: bool = True) -> list[CID]:
        """Store several byte strings; their CIDs, in order.

        The default stores them one by one and, if one fails with a typed error, unpins the
        ones this call pinned before raising (a kill part-way leaves them pinned: callers that
        must not leak pins journal the CIDs first, as the FHIR importer does). A backend may do
        better: the embedded store writes every block first and then updates its pin set once,
        so a failure or a kill pins none.
        """
        for data in blobs:
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise InvalidInput(f"put_many takes bytes, not {type(data).__name__}")
        done: list[CID] = []
        try:
            for data in blobs:
                done.append(self.put_stream(data, version=version, pin=pin))
        except MedledgerError:
            for cid in done if pin else ():
                # best effort: the original error is the one to report
                with contextlib.suppress(MedledgerError):
                    self.unpin(cid)
            raise
        return done

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

    def get(self, cid: CidLike, *, max_size: int | None = None) -> bytes:
        """The verified content of ``cid`` (``ContentTooLarge`` above ``max_size`` bytes)."""
        return b"".join(self.get_stream(cid, max_size=max_size))

    def get_document(self, digest: bytes, *, max_size: int = MAX_DOCUMENT_SIZE) -> bytes:
        """A reference document named on-chain by its bare sha2-256 ``digest``.

        The codec is not on-chain, and asking the node which one it has would let a lying node
        choose. It is derived instead: the block under ``digest`` is fetched as raw (verified
        against the digest); medledger documents never start with a byte a dag-pb node can
        start with (0x0a or 0x12, checked by the writers' magic bytes and key suite bytes), so a
        block starting with one of those is a UnixFS root (a document above one 256 KiB
        chunk) and is read as the dag-pb file it is.
        """
        from medledger.storage.cid import DAG_PB, RAW, cid_from_digest

        raw = cid_from_digest(digest, RAW)
        block = self.get_block(raw, max_size=max_size)
        if block[:1] not in (b"\x0a", b"\x12"):
            return block
        return self.get(cid_from_digest(digest, DAG_PB), max_size=max_size)

    @abstractmethod
    def get_block(self, cid: CidLike, *, max_size: int | None = None) -> bytes:
        """One verified block (whatever its codec), at most ``max_size`` bytes."""

    @abstractmethod
    def get_stream(self, cid: CidLike, *, max_size: int | None = None) -> Iterator[bytes]:
        """The content of ``cid`` in pieces, for content too large to hold in memory.

        The declared size is checked against ``max_size`` before the iterator is returned.

        Backends verify as much as they can before yielding; an IPFS node's answer can only be
        checked once complete, so the iterator raises :class:`IntegrityError` at the end if it
        did not match: do not act on the pieces before the iterator is exhausted, or use
        :meth:`get_file`, which only makes verified content visible.
        """

    def get_file(
        self, cid: CidLike, path: str | os.PathLike[str], *, max_size: int | None = None
    ) -> int:
        """Write verified content to ``path`` (atomically: temp file, fsync, rename).

        Returns the number of bytes written. On any failure ``path`` is left untouched.
        """
        try:
            return atomic_write_stream(path, self.get_stream(cid, max_size=max_size))
        except OSError as exc:
            raise StorageError(f"cannot write {path}: {exc.strerror or exc}") from exc

    def get_temp(self, cid: CidLike, *, max_size: int | None = None) -> io.BufferedRandom:
        """Verified content streamed into an anonymous temporary file (mode 0600, already
        unlinked: it disappears when closed), positioned at its start. Memory stays constant
        whatever the size; the file is returned only once the content verified."""
        root = CID.parse(cid)
        tmp = tempfile.TemporaryFile(prefix="medledger-get-")  # noqa: SIM115 - returned open
        try:
            for piece in self.get_stream(root, max_size=max_size):
                tmp.write(piece)
            tmp.flush()
            tmp.seek(0)
        except OSError as exc:  # disk full: typed, and nothing left behind
            tmp.close()
            raise StorageError(f"cannot buffer {root}: {exc.strerror or exc}") from exc
        except BaseException:
            tmp.close()
            raise
        return tmp

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

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.location}>"
