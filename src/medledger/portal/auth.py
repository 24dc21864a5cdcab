"""Server-side unlocked sessions, the idle lock and CSRF tokens.

The browser holds only a random session id (an HttpOnly, SameSite=Strict cookie); the unlocked
party (signing key and identity key) lives in this process, in :class:`Unlocked`, and is dropped
when the session locks: on "Lock", after ``idle_timeout`` seconds without a page request, or when
the portal stops. Background polling (``/api/...``) does not count as activity, so a page left
open still locks.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from medledger.client import Session

COOKIE = "medledger_portal"
#: the unlock form's token lives in its own cookie (there is no session yet to hold it)
PRE_COOKIE = "medledger_portal_pre"


@dataclass
class Unlocked:
    """One unlocked browser session."""

    session: Session
    csrf: str
    last_seen: float
    patient_id: int = 0
    #: one-shot messages for the next page: (level, text)
    flash: list[tuple[str, str]] = field(default_factory=list)

    def check_csrf(self, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token.encode(), self.csrf.encode())


class Sessions:
    """The unlocked sessions of one portal, by session id."""

    def __init__(self, idle_timeout: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.idle_timeout = idle_timeout
        self._clock = clock
        self._items: dict[str, Unlocked] = {}
        #: ids of sessions the sweep locked (ids only, no keys), to say why on their next visit
        self._swept: dict[str, None] = {}
        self._lock = threading.Lock()

    def create(self, session: Session, patient_id: int) -> tuple[str, Unlocked]:
        sid = secrets.token_urlsafe(32)
        item = Unlocked(session, secrets.token_urlsafe(32), self._clock(), patient_id)
        with self._lock:
            self._items[sid] = item
        return sid, item

    def lookup(self, sid: str | None, *, touch: bool) -> tuple[Unlocked | None, bool]:
        """(the session or None, whether it just locked for being idle). ``touch``: this
        request counts as activity."""
        if not sid:
            return None, False
        now = self._clock()
        with self._lock:
            item = self._items.get(sid)
            if item is None:
                swept = sid in self._swept
                self._swept.pop(sid, None)
                return None, swept
            if now - item.last_seen > self.idle_timeout:
                del self._items[sid]  # drops the last reference to the unlocked keys
                return None, True
            if touch:
                item.last_seen = now
            return item, False

    def sweep(self) -> int:
        """Forget every idle session now (also those no request comes back for); returns how
        many were dropped."""
        now = self._clock()
        with self._lock:
            idle = [sid for sid, i in self._items.items() if now - i.last_seen > self.idle_timeout]
            for sid in idle:
                del self._items[sid]
                self._swept[sid] = None
            while len(self._swept) > 1000:  # bounded: the oldest ids go first
                del self._swept[next(iter(self._swept))]
        return len(idle)

    def __len__(self) -> int:
        return len(self._items)

    def drop(self, sid: str | None) -> None:
        with self._lock:
            self._items.pop(sid or "", None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def same_token(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a).encode(), str(b).encode())
