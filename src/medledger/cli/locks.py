"""One command at a time per account: an advisory lock file in ``$MEDLEDGER_HOME/locks``.

A patient's flows are several steps (plan a keyring change, store sealed bundles, send the
transaction, unpin what lost); two processes of the same patient interleaving them lose key
epochs (issue 13.1). Every command that signs as an account takes an exclusive ``flock`` on
``locks/<address>.lock`` before its first step and holds it until the process exits, so a second
command of the same account on this machine waits for the first. Writers on other machines are
the contracts' compare-and-swap's job (the keyring update names the keyring it replaces).

The lock is released by the kernel when the process dies, so a crash never leaves it stuck.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from medledger.errors import MedledgerError

#: Seconds a command waits for another command of the same account before giving up.
DEFAULT_WAIT = 600.0
_POLL = 0.1


class AccountBusy(MedledgerError):
    """Another medledger command acting as the same account held the lock for too long."""


def lock_path(root: Path, address: str) -> Path:
    return root / "locks" / f"{address.lower()}.lock"


def acquire(root: Path, address: str, *, wait: float | None = None, on_wait: object = None) -> int:
    """Take the account's lock (blocking up to ``wait`` seconds); returns the open descriptor.

    The caller keeps the descriptor open for as long as it needs the lock (the CLI: until the
    process exits). ``on_wait`` (a callable taking the holder's description) is called once if
    the lock is busy.
    """
    if wait is None:
        wait = float(os.environ.get("MEDLEDGER_LOCK_WAIT", DEFAULT_WAIT))
    path = lock_path(root, address)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        deadline = time.monotonic() + wait
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not told and callable(on_wait):
                    holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "?"
                    on_wait(holder)
                    told = True
                if time.monotonic() >= deadline:
                    raise AccountBusy(
                        f"another medledger command acting as {address} is still running "
                        f"(lock {path})",
                        hint="wait for it to finish, or raise MEDLEDGER_LOCK_WAIT (seconds)",
                    ) from None
                time.sleep(_POLL)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}\n".encode(), 0)
        return fd
    except BaseException:
        os.close(fd)
        raise
