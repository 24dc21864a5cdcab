"""Atomic file writes: the one copy every layer uses (keystores, manifests, records, blocks).

A write goes to a temporary file in the target's directory (created ``O_EXCL | O_NOFOLLOW``, so
it can neither reuse nor follow anything planted there), is flushed to disk, then renamed over
the target: a reader sees the old file or the new one, never a partial one, and a failure at
any point removes the temporary file.

The target must be a regular file or absent. Renaming over anything else replaces it: as root,
writing "atomically" to ``/dev/null`` would swap the device node for a regular file, and a
symlink would be replaced instead of the file it names. Such targets raise
:class:`~medledger.errors.NotARegularFile` before anything is written.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, TypedDict, Unpack

from medledger.errors import InvalidInput, NotARegularFile

#: bytes-like objects accepted as data
Buffer = bytes | bytearray | memoryview

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def check_regular_target(path: str | os.PathLike[str]) -> Path:
    """``path`` as a Path if it is absent or a regular file; :class:`NotARegularFile` otherwise."""
    target = Path(path)
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        return target
    if not stat.S_ISREG(st.st_mode):
        raise NotARegularFile(
            f"refusing to replace {target}: it exists and is not a regular file",
            hint="write to a regular file path (devices, symlinks and directories are not)",
        )
    return target


def check_output_target(path: str | os.PathLike[str]) -> Path:
    """Refuse an output path that cannot be written, before any work that costs something.

    Commands call this before their first transaction (a logged read must not be logged when
    the decrypted record then has nowhere to go). The directory must exist and be writable, and
    the target must be absent or a regular file (:func:`check_regular_target`).
    """
    target = check_regular_target(path)
    parent = target.parent
    if not parent.is_dir():
        raise InvalidInput(
            f"cannot write {target}: directory {parent} does not exist",
            hint="create the directory first, or choose another path",
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InvalidInput(
            f"cannot write {target}: directory {parent} is not writable",
            hint="choose a directory you can write to",
        )
    return target


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make the directory entries of ``path`` (a directory) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data: Buffer) -> None:
    """Write every byte of ``data`` to ``fd`` (``os.write`` may write less than asked)."""
    view = memoryview(data).cast("B")
    while view:
        written = os.write(fd, view)
        view = view[written:]


@contextmanager
def atomic_fd(
    path: str | os.PathLike[str],
    *,
    mode: int = 0o600,
    overwrite: bool = True,
    durable: bool = True,
    sync_dir: bool | None = None,
    tmp_prefix: str | None = None,
    make_parents: bool = False,
) -> Iterator[int]:
    """A raw file descriptor whose content replaces ``path`` when the block exits cleanly.

    ``mode``: permissions of the new file (exactly, whatever the umask). ``overwrite=False``
    links instead of renaming, so an existing target raises :class:`FileExistsError`.
    ``durable``: fdatasync the file before the rename; ``sync_dir`` (default: ``durable``)
    also fsyncs the directory after it, so the rename itself survives a power loss.
    ``tmp_prefix``: name prefix of the temporary file (default ``.<name>.``).
    ``make_parents``: create missing parent directories.
    """
    target = check_regular_target(path)
    prefix = tmp_prefix if tmp_prefix is not None else f".{target.name}."
    tmp = target.parent / f"{prefix}{secrets.token_hex(8)}.tmp"
    try:
        fd = os.open(tmp, _FLAGS, mode)
    except FileNotFoundError:
        if not make_parents:
            check_output_target(target)  # names the missing directory (InvalidInput)
            raise
        target.parent.mkdir(parents=True, exist_ok=True)  # lazily: the common case pays nothing
        fd = os.open(tmp, _FLAGS, mode)
    try:
        try:
            os.fchmod(fd, mode)  # the umask must not loosen or tighten what the caller asked
            yield fd
            if durable:
                os.fdatasync(fd)
        finally:
            os.close(fd)
        check_regular_target(target)  # it may have appeared while we wrote
        if overwrite:
            os.replace(tmp, target)
        else:
            os.link(tmp, target)  # atomic, and fails if the target exists
            tmp.unlink()
        if durable if sync_dir is None else sync_dir:
            fsync_dir(target.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class WriteOptions(TypedDict, total=False):
    """Keyword options of :func:`atomic_open`, :func:`atomic_write`, :func:`atomic_write_stream`
    (meanings as in :func:`atomic_fd`)."""

    mode: int
    overwrite: bool
    durable: bool
    sync_dir: bool | None
    tmp_prefix: str | None
    make_parents: bool


@contextmanager
def atomic_open(
    path: str | os.PathLike[str], **options: Unpack[WriteOptions]
) -> Iterator[BinaryIO]:
    """Like :func:`atomic_fd`, as a binary file object (for code that writes to streams)."""
    with atomic_fd(path, **options) as fd, os.fdopen(os.dup(fd), "wb") as fh:
        yield fh


def atomic_write(
    path: str | os.PathLike[str], data: Buffer | str, **options: Unpack[WriteOptions]
) -> Path:
    """Replace ``path`` with ``data`` (str is written as UTF-8) atomically; returns the path."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_fd(path, **options) as fd:
        write_all(fd, payload)
    return Path(path)


def atomic_write_stream(
    path: str | os.PathLike[str], chunks: Iterable[Buffer], **options: Unpack[WriteOptions]
) -> int:
    """Replace ``path`` with the concatenated ``chunks`` atomically; returns the bytes written.

    If the iterator raises, ``path`` is left as it was (nothing partial becomes visible).
    """
    size = 0
    with atomic_fd(path, **options) as fd:
        for chunk in chunks:
            write_all(fd, chunk)
            size += len(memoryview(chunk).cast("B"))
    return size
