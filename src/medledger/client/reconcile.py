"""The record store against the chain: which pins nothing on-chain needs, and removing them.

A flow pins its documents before the transaction that references them, and unpins them when the
transaction fails; a process killed in between, or a chain reset under a persistent store
(a dev node restarted without its state), leaves pins that no chain-referenced document needs.
:func:`reconcile` lists them; :func:`collect` unpins them and deletes the unreachable blocks.

What the chain references is every 32-byte word of every event of the deployment's contracts
(MedLedger, AnchorRegistry and, with a consortium, its timelock), including the words of calldata
a timelock holds for later (a scheduled provider registration names its key document). That
covers records, keyrings (every one ever published, not just the current one), key bundles,
emergency kits, key documents, guardian share documents and re-sealed recovery shares, without
having to know each document's format: a pin whose digest is any such word stays. The
comparison is by digest, so the CID version or codec a pin was made with does not matter.

Two more rules keep :func:`collect` from ever removing what someone still needs:

* a signed recovery request is published before anything on-chain names it (guardians read it
  by id), so a pin that is a recovery request is kept, not listed as orphaned;
* if the chain cannot be read completely, the error propagates and nothing is removed.

Erased records are referenced by their ``RecordAdded`` event and so are never collected here:
``erase`` itself unpins them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from medledger.chain.artifacts import load_artifact
from medledger.chain.contracts import BoundContract
from medledger.errors import BlockNotFound, MedledgerError
from medledger.storage import CID, BlockStore, GcResult
from medledger.storage.cid import DAG_PB, RAW, cid_from_digest

if TYPE_CHECKING:
    from medledger.client.facade import Medledger

#: manifest key of a consortium's timelock (its scheduled calls can name documents)
_TIMELOCK = "ConsortiumTimelock"
#: the first bytes of a published recovery request (``RecoveryNamespace.request``; a test pins
#: this against a real request)
_REQUEST_PREFIX = b"medledger recovery request "
_WORD = 32


@dataclass(frozen=True, slots=True)
class Pin:
    """A pinned root of the store, with its content size (``None`` if the store cannot say)."""

    cid: CID
    size: int | None


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """The store's pins against what the chain references, at block ``block``."""

    block: int
    #: every pinned root of the store
    pins: int
    #: pins nothing on-chain references (what :func:`collect` removes)
    orphaned: tuple[Pin, ...]
    #: unreferenced pins kept on purpose (published recovery requests)
    kept: tuple[Pin, ...]
    #: chain-referenced content the store holds without a pin (pinned by :func:`collect`
    #: before anything is deleted, so a store-wide gc cannot take it)
    unpinned_referenced: tuple[CID, ...]

    @property
    def orphaned_bytes(self) -> int:
        return sum(p.size or 0 for p in self.orphaned)


@dataclass(frozen=True, slots=True)
class Collection:
    """What :func:`collect` did."""

    unpinned: tuple[CID, ...]
    repinned: tuple[CID, ...]
    gc: GcResult


def chain_words(ml: Medledger) -> tuple[int, frozenset[bytes]]:
    """``(head block, every 32-byte word in the events of the deployment's contracts)``.

    Raises (a :class:`~medledger.errors.MedledgerError`) when any page of logs cannot be read:
    a partial answer must never look like "nothing references this"."""
    head = ml.chain.block_number()
    words: set[bytes] = set()
    for contract in _contracts(ml):
        names = [e["name"] for e in contract.artifact.abi_entries("event")]
        for event in contract.get_events(names, to_block=head):
            words.update(_words(event.args.values()))
    return head, frozenset(words)


def reconcile(ml: Medledger) -> Reconciliation:
    """List the store's pins that no chain-referenced document needs (changes nothing)."""
    head, words = chain_words(ml)
    store = ml.store
    pinned = store.pins()
    pinned_digests = {c.digest for c in pinned}
    orphaned: list[Pin] = []
    kept: list[Pin] = []
    for cid in sorted(pinned, key=str):
        if cid.digest in words:
            continue
        pin = Pin(cid, _size(store, cid))
        (kept if _is_recovery_request(store, cid) else orphaned).append(pin)
    unpinned = tuple(
        cid for digest in sorted(words - pinned_digests) for cid in _held(store, digest)
    )
    return Reconciliation(head, len(pinned), tuple(orphaned), tuple(kept), unpinned)


def collect(ml: Medledger, plan: Reconciliation | None = None) -> Collection:
    """Pin referenced content the store holds unpinned, unpin the orphaned pins of ``plan``
    (default: a fresh :func:`reconcile`), then delete every block no pin reaches.

    The chain is read again right before anything is removed, and a pin it references by then
    (a transaction that landed since ``plan``) is kept."""
    store = ml.store
    fresh = reconcile(ml)
    still_orphaned = {p.cid for p in fresh.orphaned}
    chosen = fresh.orphaned if plan is None else plan.orphaned
    repinned: list[CID] = []
    for cid in fresh.unpinned_referenced:
        store.pin(cid)
        repinned.append(cid)
    unpinned = [p.cid for p in chosen if p.cid in still_orphaned and store.unpin(p.cid)]
    return Collection(tuple(unpinned), tuple(repinned), store.gc())


def _contracts(ml: Medledger) -> Iterator[BoundContract]:
    deployment = ml.deployment
    yield deployment.medledger
    yield deployment.anchors
    timelock = deployment.manifest.contracts.get(_TIMELOCK)
    if timelock is not None:
        yield BoundContract(
            ml.chain,
            timelock.address,
            load_artifact(_TIMELOCK),
            deploy_block=timelock.block,
        )


def _words(values: Iterable[Any]) -> Iterator[bytes]:
    """Every 32-byte word an event argument can carry: a ``bytes32`` itself, and the words of
    ``bytes`` (ABI data at word offsets, and calldata after its 4-byte selector)."""
    for value in values:
        if isinstance(value, (bytes, bytearray, memoryview)):
            data = bytes(value)
        elif isinstance(value, str) and value.startswith("0x") and len(value) % 2 == 0:
            try:
                data = bytes.fromhex(value[2:])
            except ValueError:
                continue
        elif isinstance(value, (list, tuple)):
            yield from _words(value)
            continue
        else:
            continue
        for start in (0, 4):
            for i in range(start, len(data) - _WORD + 1, _WORD):
                yield data[i : i + _WORD]


def _size(store: BlockStore, cid: CID) -> int | None:
    try:
        return store.stat(cid).size
    except MedledgerError:
        return None


def _is_recovery_request(store: BlockStore, cid: CID) -> bool:
    try:
        block = store.get_block(cid, max_size=64 << 10)
    except MedledgerError:
        return False
    return block.startswith(_REQUEST_PREFIX)


def _held(store: BlockStore, digest: bytes) -> Iterator[CID]:
    """The CID under which the store holds the content of ``digest``, if it does.

    Blocks are kept by multihash, so the codec is read from the block itself, as
    :meth:`BlockStore.get_document` does: a dag-pb node starts with 0x0a or 0x12, and no raw
    medledger document or sealed record does."""
    raw = cid_from_digest(digest, RAW)
    if not store.has(raw):
        return
    try:
        first = store.get_block(raw)[:1]
    except BlockNotFound:
        return
    yield cid_from_digest(digest, DAG_PB) if first in (b"\x0a", b"\x12") else raw
