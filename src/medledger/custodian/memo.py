"""A bounded, thread-safe memo: the custodian keeps what is costly to recompute and never goes
stale by itself (opened and verified key fragments, record categories), the least recently used
dropped first."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedMemo(Generic[K, V]):
    """At most ``size`` entries; a read or a write makes an entry the most recently used."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def drop(self, where: Callable[[K], bool]) -> None:
        """Forget every entry whose key ``where`` selects."""
        with self._lock:
            for key in [k for k in self._entries if where(k)]:
                del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)
