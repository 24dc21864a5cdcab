"""Per-account nonce allocation that is safe across threads.

Each account has a lock and a cached next nonce. :meth:`NonceManager.lease` holds the account's
lock from nonce allocation until the signed transaction has been handed to the node, so two
threads can never sign with the same nonce and no gap can appear between accepted transactions.
Waiting for receipts happens outside the lock, so many transactions are still in flight at once.

When a send fails the cached value is dropped and the next lease re-reads the node's
``pending`` transaction count: whether the node accepted the failed transaction (Hardhat executes
and mines it even when it reverts) or not, the next nonce is right.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from eth_utils.address import to_checksum_address
from web3 import Web3


class NonceManager:
    """Allocates contiguous nonces per sending address for one chain."""

    def __init__(self, w3: Web3) -> None:
        self._w3 = w3
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._next: dict[str, int] = {}

    def _lock_for(self, address: str) -> threading.Lock:
        with self._guard:
            lock = self._locks.get(address)
            if lock is None:
                lock = self._locks[address] = threading.Lock()
            return lock

    @contextmanager
    def lease(self, address: str) -> Iterator[int]:
        """Yield the next nonce for ``address``; commit it if the block exits normally.

        Use it around signing *and* sending. On an exception the nonce is not consumed and the
        cache is resynchronised from the node on the next lease.
        """
        addr = to_checksum_address(address)
        with self._lock_for(addr):
            nonce = self._next.get(addr)
            if nonce is None:
                nonce = self._w3.eth.get_transaction_count(addr, "pending")
            try:
                yield nonce
            except BaseException:
                self._next.pop(addr, None)
                raise
            self._next[addr] = nonce + 1

    def resync(self, address: str) -> None:
        """Forget the cached nonce of ``address`` (e.g. after it sent a transaction elsewhere)."""
        addr = to_checksum_address(address)
        with self._lock_for(addr):
            self._next.pop(addr, None)

    def peek(self, address: str) -> int | None:
        """The cached next nonce, or None when the next lease will ask the node."""
        return self._next.get(to_checksum_address(address))
