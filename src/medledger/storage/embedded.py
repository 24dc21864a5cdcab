"""The embedded blockstore: IPFS blocks in a local directory, no daemon (medledger's default).

Layout (compatible in spirit with Kubo's flatfs, so blocks can be exported to any node)::

    <root>/blocks/<XY>/<KEY>.data   one file per block; KEY = base32 (RFC 4648, upper case, no
                                    padding) of the block's multihash, XY = KEY[-3:-1]
                                    ("next-to-last/2" sharding, as Kubo does)
    <root>/pins                     recursively pinned roots, one CID per line
    <root>/gc.lock                  flock: shared while writing blocks, exclusive while collecting
    <root>/pins.lock                flock: exclusive around read-modify-write of the pin set

Crash safety: a block is written to ``.tmp-*`` in its final directory, fsync'ed, then renamed;
readers only ever see complete blocks, and leftover temporaries are never listed as blocks (GC
removes them). The pin set is replaced the same way, and only after every block below the new
pin is durable (block files and their directories fsync'ed).

Multi-process safety: writers hold ``gc.lock`` shared for the whole write + pin, GC holds it
exclusive, so a collection never deletes blocks that a concurrent ``put`` is about to pin.
Pin-set updates serialise on ``pins.lock`` (no lost updates between processes). ``put_many``
writes all its blocks, then updates the pin set once for all its roots (none pinned before).

Every read verifies the block's sha2-256 against its CID; tampered files raise IntegrityError.
"""

from __future__ import annotations

import base64
import binascii
import errno
import fcntl
import os
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Final

from medledger.errors import BlockNotFound, IntegrityError, InvalidInput, StorageError
from medledger.fsutil import atomic_fd, atomic_write, fsync_dir, write_all
from medledger.storage import car
from medledger.storage.base import BlockStore, CidLike, ContentStat, GcResult, bounded, check_size
from medledger.storage.cid import CID, RAW
from medledger.storage.compute import build_dag
from medledger.storage.unixfs import (
    Buffer,
    Source,
    child_cids,
    file_size_of_root,
    iter_chunks,
    iter_file,
    verify_block,
)

_TMP_PREFIX: Final = ".tmp-"
_SUFFIX: Final = ".data"
_LAYOUT: Final = "medledger-blockstore 1\n"
#: block writes in flight per put (bounds memory to about this many chunks)
_MAX_IN_FLIGHT: Final = 16
#: fsync-bound writes overlap well on SSDs/virtio; measured best at 2-4 threads here
_WRITERS: Final = 4


def block_key(multihash: bytes) -> str:
    """Kubo flatfs key of a block: base32 upper case, no padding, of its multihash."""
    return base64.b32encode(multihash).decode("ascii").rstrip("=")


def _multihash_of_key(key: str) -> bytes | None:
    try:
        return base64.b32decode(key + "=" * (-len(key) % 8))
    except (binascii.Error, ValueError):
        return None


#: module-level names (not ``fsutil.write_all``) so crash tests can intercept block writes
_write_all = write_all
_fsync_dir = fsync_dir


class EmbeddedStore(BlockStore):
    """Blockstore in a local directory (created if missing).

    ``fsync=False`` skips the durability barriers (for throw-away caches only: a power loss can
    then lose recently written blocks, though never expose a partial one).
    """

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.root = Path(root).expanduser()
        self.location = f"embedded:{self.root}"
        self._fsync = fsync
        self._blocks = self.root / "blocks"
        self._pins_path = self.root / "pins"
        self._pin_cache: dict[str, CID] = {}
        self._ready_dirs: set[str] = set()
        try:
            self._blocks.mkdir(parents=True, exist_ok=True)
            layout = self.root / "layout"
            if not layout.exists():
                # Atomic, since several processes may open a fresh store at once: a reader must
                # never see a truncated marker (identical content, so replacing is harmless).
                atomic_write(layout, _LAYOUT, mode=0o644, tmp_prefix=f"{_TMP_PREFIX}layout-")
            elif layout.read_text() != _LAYOUT:
                raise StorageError(f"{self.root} is not a medledger blockstore (unknown layout)")
        except OSError as exc:
            reason = exc.strerror or exc
            raise StorageError(f"cannot open blockstore {self.root}: {reason}") from exc

    # --- paths and locks -----------------------------------------------------------------

    def block_path(self, cid: CID) -> Path:
        """Where the block of ``cid`` lives (whether or not it is stored)."""
        key = block_key(cid.multihash)
        return self._blocks / key[-3:-1] / (key + _SUFFIX)

    @contextmanager
    def _flock(self, name: str, mode: int) -> Iterator[None]:
        # flock (not fcntl record locks): held per open file description, so it also excludes
        # other threads of this process that open the lock file themselves.
        fd = os.open(self.root / name, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, mode)
            yield
        finally:
            os.close(fd)

    # --- writing -------------------------------------------------------------------------

    def put_stream(self, source: Source, *, version: int = 1, pin: bool = True) -> CID:
        """Store a stream as a UnixFS file DAG (see :class:`BlockStore`)."""
        if version not in (0, 1):
            raise InvalidInput(f"CID version must be 0 or 1, not {version!r}")
        with self._flock("gc.lock", fcntl.LOCK_SH):
            with _BlockWriter(self) as writer:
                root = build_dag(iter_chunks(source), version, sink=writer.write)
            if pin:
                self._change_pins(add=(root,))
        return root

    def put_many(self, blobs: Sequence[Buffer], *, version: int = 1, pin: bool = True) -> list[CID]:
        """Store several byte strings at once; their CIDs, in order.

        One writer for all their blocks (written in parallel, directories made durable once),
        then ONE pin-set update for all the roots: an import's batch of 128 records costs one
        rewrite and fsync of the pin set instead of 128. All or nothing for the pins: a failure
        or a kill before the update pins none of them (the blocks it wrote are unpinned and
        go at the next collection), after it pins all of them.
        """
        if version not in (0, 1):
            raise InvalidInput(f"CID version must be 0 or 1, not {version!r}")
        for data in blobs:
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise InvalidInput(f"put_many takes bytes, not {type(data).__name__}")
        with self._flock("gc.lock", fcntl.LOCK_SH):
            with _BlockWriter(self) as writer:
                roots = [build_dag(iter_chunks(data), version, sink=writer.write) for data in blobs]
            if pin and roots:
                self._change_pins(add=tuple(roots))
        return roots

    def _write_block(self, path: Path, parts: tuple[Buffer, ...]) -> None:
        """Write one block file atomically (temp file, fsync, rename)."""
        # Directories are made durable per put, all at once (see _BlockWriter), not per block.
        with atomic_fd(
            path,
            mode=0o444,
            durable=self._fsync,
            sync_dir=False,
            tmp_prefix=_TMP_PREFIX,
            make_parents=True,
        ) as fd:
            for part in parts:
                _write_all(fd, part)

    # --- reading -------------------------------------------------------------------------

    def read_block(self, cid: CID) -> bytes:
        """The verified bytes of one block; BlockNotFound / IntegrityError otherwise."""
        try:
            with open(self.block_path(cid), "rb", buffering=0) as f:
                block = f.read()
        except FileNotFoundError:
            raise BlockNotFound(f"block {cid} is not in the store {self.root}") from None
        except OSError as exc:
            raise StorageError(f"cannot read block {cid}: {exc.strerror or exc}") from exc
        verify_block(cid, block)
        return block

    def _has_block(self, cid: CID) -> bool:
        return self.block_path(cid).is_file()

    def get_block(self, cid: CidLike, *, max_size: int | None = None) -> bytes:
        """One verified block; ``ContentTooLarge`` above ``max_size`` (checked before reading)."""
        c = CID.parse(cid)
        if max_size is not None:
            try:
                size = self.block_path(c).stat().st_size
            except FileNotFoundError:
                raise BlockNotFound(f"block {c} is not in the store {self.root}") from None
            except OSError as exc:
                raise StorageError(f"cannot read block {c}: {exc.strerror or exc}") from exc
            check_size(c, size, max_size)
        return self.read_block(c)

    def get_stream(self, cid: CidLike, *, max_size: int | None = None) -> Iterator[bytes]:
        """Content in leaf-sized pieces; every block is verified before its piece is yielded,
        the root's declared size is checked against ``max_size`` before anything else is read
        and the pieces may not exceed it."""
        root = CID.parse(cid)
        # Resolve the root eagerly so a missing CID fails at the call, not at first iteration.
        root_block = self.get_block(root, max_size=None if root.codec != RAW else max_size)
        declared = file_size_of_root(root, root_block)
        check_size(root, declared, max_size)

        def load(c: CID) -> bytes:
            if c == root:
                return root_block
            try:
                return self.read_block(c)
            except BlockNotFound:
                raise BlockNotFound(f"content {root} is incomplete: block {c} missing") from None

        return bounded(root, iter_file(root, load), declared, max_size)

    def has(self, cid: CidLike) -> bool:
        """Whether the root block of ``cid`` is stored."""
        return self._has_block(CID.parse(cid))

    def stat(self, cid: CidLike) -> ContentStat:
        """File size (from the verified root block) and pin state."""
        root = CID.parse(cid)
        size = file_size_of_root(root, self.read_block(root))
        return ContentStat(root, size, root in self._read_pins())

    def _walk(self, root: CID, *, verify_leaves: bool) -> Iterator[tuple[CID, bytes | None]]:
        """Every block of a DAG, depth-first pre-order, each once.

        dag-pb nodes are always read and verified (their links are needed); raw leaves are
        only checked for presence unless ``verify_leaves``. Missing blocks raise BlockNotFound.
        """
        seen: set[bytes] = set()
        stack = [root]
        while stack:
            cid = stack.pop()
            if cid.multihash in seen:
                continue
            seen.add(cid.multihash)
            if cid.codec == RAW and not verify_leaves:
                if not self._has_block(cid):
                    raise BlockNotFound(f"content {root} is incomplete: block {cid} missing")
                yield cid, None
                continue
            block = self.read_block(cid)
            yield cid, block
            stack.extend(reversed(child_cids(cid, block)))

    # --- pins and GC ---------------------------------------------------------------------

    def _read_pins(self) -> set[CID]:
        try:
            text = self._pins_path.read_text(encoding="ascii")
        except FileNotFoundError:
            return set()
        except (OSError, UnicodeDecodeError) as exc:
            raise StorageError(f"cannot read the pin set of {self.root}: {exc}") from exc
        # Parsing a CID costs milliseconds; an import pins thousands one by one, each a
        # read-modify-write of the whole set. Lines already parsed are reused (same text, same
        # CID), so a put parses only what other writers added since.
        cache = self._pin_cache
        try:
            parsed = {line: cache.get(line) or CID.parse(line) for line in text.split() if line}
        except InvalidInput as exc:
            raise IntegrityError(f"the pin set of {self.root} is corrupt: {exc}") from None
        self._pin_cache = parsed
        return set(parsed.values())

    def _change_pins(self, add: tuple[CID, ...] = (), remove: tuple[CID, ...] = ()) -> set[CID]:
        """Read-modify-write the pin set under its lock; return the previous set."""
        with self._flock("pins.lock", fcntl.LOCK_EX):
            before = self._read_pins()
            after = (before | set(add)) - set(remove)
            if after != before:
                names = {c: t for t, c in self._pin_cache.items()}  # str(CID) is slow too
                text = "".join(f"{n}\n" for n in sorted(names.get(c) or str(c) for c in after))
                try:
                    atomic_write(
                        self._pins_path,
                        text,
                        mode=0o644,
                        durable=self._fsync,
                        tmp_prefix=f"{_TMP_PREFIX}pins-",
                    )
                except OSError as exc:
                    raise StorageError(f"cannot update the pin set: {exc.strerror or exc}") from exc
            return before

    def pin(self, cid: CidLike) -> None:
        """Pin recursively; every block of the DAG must be present."""
        root = CID.parse(cid)
        with self._flock("gc.lock", fcntl.LOCK_SH):
            for _ in self._walk(root, verify_leaves=False):
                pass
            self._change_pins(add=(root,))

    def unpin(self, cid: CidLike) -> bool:
        """Remove the pin; return whether it existed."""
        root = CID.parse(cid)
        return root in self._change_pins(remove=(root,))

    def pins(self) -> frozenset[CID]:
        """The recursively pinned roots."""
        return frozenset(self._read_pins())

    def gc(self) -> GcResult:
        """Delete unpinned blocks and leftover temporaries (waits for writers to finish)."""
        with self._flock("gc.lock", fcntl.LOCK_EX), self._flock("pins.lock", fcntl.LOCK_SH):
            keep: set[bytes] = set()
            for root in self._read_pins():
                try:
                    for cid, _block in self._walk(root, verify_leaves=False):
                        keep.add(cid.multihash)
                except BlockNotFound:
                    # A pinned DAG with holes: keep what is reachable, delete nothing it names.
                    continue
                # IntegrityError (a corrupt pinned node) propagates: its children are unknown,
                # so collecting now could delete blocks the pin still needs.
            removed = freed = 0
            for shard in self._iter_dir(self._blocks):
                for entry in self._iter_dir(shard):
                    name = entry.name
                    if name.startswith(_TMP_PREFIX):
                        # Only a crashed writer leaves these: live writers hold gc.lock shared.
                        entry.unlink(missing_ok=True)
                        continue
                    if not name.endswith(_SUFFIX):
                        continue
                    multihash = _multihash_of_key(name[: -len(_SUFFIX)])
                    if multihash is None or multihash in keep:
                        continue
                    try:
                        size = entry.stat().st_size
                        entry.unlink()
                    except FileNotFoundError:
                        continue
                    removed += 1
                    freed += size
            for entry in self._iter_dir(self.root):
                if entry.name.startswith(_TMP_PREFIX):
                    entry.unlink(missing_ok=True)
        return GcResult(removed, freed)

    @staticmethod
    def _iter_dir(path: Path) -> list[Path]:
        try:
            return [Path(e.path) for e in os.scandir(path)]
        except (FileNotFoundError, NotADirectoryError):
            return []

    # --- CAR -----------------------------------------------------------------------------

    def export_car(self, cid: CidLike, out: IO[bytes]) -> int:
        """Write the DAG of ``cid`` as CAR v1 (every block verified while exporting)."""
        root = CID.parse(cid)
        blocks = ((c, b) for c, b in self._walk(root, verify_leaves=True) if b is not None)
        try:
            return car.write_car(out, (root,), blocks)
        except OSError as exc:
            raise StorageError(f"cannot write the CAR stream: {exc.strerror or exc}") from exc

    def import_car(self, source: IO[bytes], *, pin: bool = True) -> tuple[CID, ...]:
        """Import a CAR v1 stream; blocks are verified before they are written."""
        with self._flock("gc.lock", fcntl.LOCK_SH):
            roots = car.read_header(source)
            with _BlockWriter(self) as writer:
                for cid, block in car.read_blocks(source):
                    writer.write(cid, (block,))
            if pin and roots:
                for root in roots:
                    for _ in self._walk(root, verify_leaves=False):
                        pass
                self._change_pins(add=roots)
        return roots


class _BlockWriter:
    """Writes the blocks of one put on a few threads; durable when the context exits cleanly.

    fsync dominates the cost of a block write and releases the GIL, so overlapping a few of
    them more than doubles throughput (see benchmarks/bench_storage.py).
    """

    def __init__(self, store: EmbeddedStore) -> None:
        self._store = store
        self._pool = ThreadPoolExecutor(_WRITERS, thread_name_prefix="medledger-blocks")
        self._pending: deque[Future[None]] = deque()
        self._seen: set[Path] = set()
        self._dirs: set[Path] = set()

    def write(self, cid: CID, parts: tuple[Buffer, ...]) -> None:
        path = self._store.block_path(cid)
        if path in self._seen or path.exists():
            return  # content-addressed: an existing block already holds these bytes
        self._seen.add(path)
        self._dirs.add(path.parent)
        self._pending.append(self._pool.submit(self._store._write_block, path, parts))
        if len(self._pending) >= _MAX_IN_FLIGHT:
            self._pending.popleft().result()

    def __enter__(self) -> _BlockWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            errors = []
            while self._pending:
                try:
                    self._pending.popleft().result()
                except BaseException as error:  # keep draining: no write may outlive the put
                    errors.append(error)
            if exc_type is None and errors:
                first = errors[0]
                if isinstance(first, OSError):
                    if first.errno == errno.ENOSPC:
                        raise StorageError("the blockstore's disk is full") from first
                    reason = first.strerror or first
                    raise StorageError(f"cannot write a block: {reason}") from first
                raise first
            if exc_type is None and self._store._fsync:
                # Renames are durable only once their directories are: before anything pins
                # these blocks, make every directory entry stick. In parallel, like the block
                # writes: concurrent fsyncs share journal commits (measured ~1.5x faster).
                try:
                    list(self._pool.map(_fsync_dir, self._dirs))
                    _fsync_dir(self._store._blocks)
                except OSError as error:
                    reason = error.strerror or error
                    raise StorageError(f"cannot make blocks durable: {reason}") from error
        finally:
            self._pool.shutdown(wait=True)
