"""The document store (small documents by CID digest) and :func:`pinned`, the pin rollback."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from medledger.chain.types import ZERO32
from medledger.errors import InvalidInput, MedledgerError, StorageError
from medledger.storage import CID, BlockStore, cid_of_bytes


class DocumentStore:
    """Keyrings, key bundles, emergency kits and key documents, referenced on-chain by digest."""

    def __init__(self, store: BlockStore) -> None:
        self.store = store
        self._cache: dict[bytes, bytes] = {}

    def put(self, data: bytes) -> CID:
        """Store and pin a small reference document."""
        return self.store.put(data)

    def get(self, digest: bytes) -> bytes:
        """Fetch a document referenced on-chain by its 32-byte CID digest (verified, cached)."""
        if digest == ZERO32:
            raise InvalidInput("no document is referenced (zero digest)")
        cached = self._cache.get(digest)
        if cached is not None:
            return cached
        # codec derived from the verified block, never asked of the node; capped at 16 MiB
        data = self.store.get_document(digest)
        self._cache[digest] = data
        return data


#: given CIDs, the subset the chain references now (raises if the chain cannot be read)
OnChain = Callable[[Sequence[CID]], set[CID]]


class Pins:
    """What a flow pinned, and which of it the chain references by now."""

    def __init__(self, store: BlockStore, on_chain: OnChain | None = None) -> None:
        self._store = store
        self._pinned: list[CID] = []
        self._referenced: set[CID] = set()
        self._on_chain = on_chain

    def add(self, cid: CID) -> CID:
        self._pinned.append(cid)
        return cid

    def put(self, data: bytes) -> CID:
        """Store and pin ``data``, to be unpinned if the flow fails, unless it was pinned
        already: content addressing makes an identical document (a re-sent key document) the
        same CID, and that one may be referenced on-chain."""
        cid = cid_of_bytes(data)
        pinned_before = self._store.has(cid) and cid in self._store.pins()
        stored = self._store.put(data)
        return stored if pinned_before else self.add(stored)

    def referenced(self, *cids: CID) -> None:
        """The chain references ``cids`` now: never unpin them."""
        self._referenced.update(cids)

    @property
    def cids(self) -> tuple[CID, ...]:
        return tuple(self._pinned)

    def rollback(self, exc: MedledgerError) -> None:
        failures = []
        candidates = [cid for cid in self._pinned if cid not in self._referenced]
        if candidates and self._on_chain is not None:
            # A transaction can land although its sender saw an error (the node went away
            # after accepting it): ask the chain before unpinning anything.
            try:
                self._referenced |= self._on_chain(candidates)
            except MedledgerError:
                amend_message(
                    exc, "; the chain could not be checked, so stored documents stay pinned"
                )
                return
        for cid in self._pinned:
            if cid in self._referenced:
                continue
            try:
                self._store.unpin(cid)
            except StorageError as unpin_exc:
                failures.append(f"{cid}: {unpin_exc}")
        kept = len([c for c in self._pinned if c in self._referenced])
        note = (
            "; stored documents the chain does not reference were unpinned"
            if not failures
            else f"; could not unpin: {', '.join(failures)}"
        )
        if kept:
            note += f" ({kept} it references stay pinned)"
        amend_message(exc, note)


def amend_message(exc: MedledgerError, note: str) -> None:
    """Append ``note`` to ``exc``'s message in place (what landed, what did not, how to finish)
    before it is re-raised, keeping its type, hint and other arguments."""
    exc.args = ((str(exc.args[0]) if exc.args else str(exc)) + note, *exc.args[1:])


@contextmanager
def pinned(store: BlockStore, *cids: CID, on_chain: OnChain | None = None) -> Iterator[Pins]:
    """Track pins; if the block raises a :class:`MedledgerError`, unpin what the chain does not
    reference (marked with :meth:`Pins.referenced`, and checked with ``on_chain`` when given)
    and say so in the error. Any other exception (a kill) unpins nothing."""
    pins = Pins(store, on_chain)
    for cid in cids:
        pins.add(cid)
    try:
        yield pins
    except MedledgerError as exc:
        pins.rollback(exc)
        raise
