"""One command at a time per account: an advisory lock file in ``$MEDLEDGER_HOME/locks``.

A patient's flows are several steps (plan a keyring change, store sealed bundles, send the
transaction, unpin what lost); two processes of the same patient interleaving them lose key
epochs (issue 13.1). Every command that signs as an account takes an exclusive ``flock`` on
``locks/<address>.lock`` before its first step and holds it until the process exits, so a second
command of the same account on this machine waits for the first. Writers on other machines are
the contracts' compare-and-swap's job (the keyring update names the keyring it replaces).

One more lock, ``locks/store.lock``, guards the record store against ``medledger store gc``:
every command that opens the SDK holds it shared for its whole run (it may pin a document and
reference it on-chain a moment later), and ``store gc --yes`` takes it exclusively, so it never
removes a pin between a flow's pin and its transaction. Python programs using the SDK directly
on the same store are not covered: do not run ``store gc --yes`` while they write.

The lock is released by the kernel when the process dies, so a crash never leaves it stuck.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from medledger.errors import InvalidInput, MedledgerError

#: Seconds a command waits for another command of the same account before giving up.
DEFAULT_WAIT = 600.0
_POLL = 0.1


class AccountBusy(MedledgerError):
    """Another medledger command acting as the same account held the lock for too long."""


def lock_path(root: Path, address: str) -> Path:
    return root / "locks" / f"{address.lower()}.lock"


#: name of the store lock (held shared by every command, exclusively by ``store gc``)
STORE = "store"


def acquire(
    root: Path,
    address: str,
    *,
    wait: float | None = None,
    on_wait: object = None,
    shared: bool = False,
) -> int:
    """Take the lock of ``address`` (an account, or :data:`STORE`), blocking up to ``wait``
    seconds; returns the open descriptor.

    The caller keeps the descriptor open for as long as it needs the lock (the CLI: until the
    process exits). ``on_wait`` (a callable taking the holder's description) is called once if
    the lock is busy. ``shared`` locks coexist with each other, not with an exclusive one.
    """
    if wait is None:
        wait = float(os.environ.get("MEDLEDGER_LOCK_WAIT", DEFAULT_WAIT))
    path = lock_path(root, address)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:  # a MEDLEDGER_HOME that is a file, read-only, or a symlinked lock
        raise InvalidInput(
            f"cannot open the lock file {path}: {exc.strerror or exc}",
            hint="MEDLEDGER_HOME must be a writable directory",
        ) from None
    try:
        os.fchmod(fd, 0o600)
        deadline = time.monotonic() + wait
        told = False
        while True:
            try:
                fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not told and callable(on_wait):
                    holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "?"
                    on_wait(holder)
                    told = True
                if time.monotonic() >= deadline:
                    doing = "using the store" if address == STORE else f"acting as {address}"
                    raise AccountBusy(
                        f"another medledger command {doing} is still running (lock {path})",
                        hint="wait for it to finish, or raise MEDLEDGER_LOCK_WAIT (seconds)",
                    ) from None
                time.sleep(_POLL)
        if not shared:  # the exclusive holder says who it is (shared holders are many)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()}\n".encode(), 0)
        return fd
    except BaseException:
        os.close(fd)
        raise
