"""The store against the chain (issue 13.3): orphaned pins are listed and collected; nothing the
chain references is ever removed, however it is referenced."""

from __future__ import annotations

import pytest

from helpers.client import World
from medledger.client.reconcile import chain_words, collect, reconcile
from medledger.crypto import IdentityKey, Suite
from medledger.errors import ChainError
from medledger.storage import CID


def _everything_referenced(world: World) -> set[CID]:
    """Every pin of the store right after the flows below (none of them is orphaned)."""
    return set(world.ml.store.pins())


@pytest.fixture(scope="module")
def busy(world: World) -> World:
    """A patient with a record, a grant (key bundle), emergency settings (kit), guardians with
    sealed shares, and a post-quantum provider (key document)."""
    p = world.patient
    world.clinic.records.add(world.pid, b'{"resourceType":"Observation"}', category="labs")
    p.emergency.configure(["allergies"], max_duration=3600, responders=[world.er.address])
    g1, g2 = world.session(5), world.session(6)
    keys = {g.address: g.party.identity.public_key for g in (g1, g2)}
    p.recovery.setup([g1.address, g2.address], 2, 86_400, keys=keys)
    return world


def test_a_consistent_store_has_no_orphans(busy: World) -> None:
    found = reconcile(busy.ml)
    assert found.orphaned == ()
    assert found.pins == len(busy.ml.store.pins()) > 5


def test_an_orphan_is_listed_then_collected_and_nothing_referenced_goes(busy: World) -> None:
    """A command killed between its pin and its transaction leaves a pin nothing references."""
    store = busy.ml.store
    referenced = _everything_referenced(busy)
    orphan = store.put(b"MLKR a keyring whose setKeyring never landed")
    found = reconcile(busy.ml)
    assert [p.cid for p in found.orphaned] == [orphan]
    assert found.orphaned[0].size == len(b"MLKR a keyring whose setKeyring never landed")
    assert store.has(orphan)  # listing changes nothing
    done = collect(busy.ml, found)
    assert done.unpinned == (orphan,)
    assert not store.has(orphan)
    assert set(store.pins()) == referenced
    # the patient and the grantee still read everything (keyring, bundle, record all there)
    rec = busy.patient.records.timeline()[0]
    assert busy.patient.access.read(rec.record_id, purpose="treatment")
    assert busy.clinic.access.read(rec.record_id, purpose="treatment")


def test_referenced_content_without_a_pin_is_pinned_before_the_gc(busy: World) -> None:
    """A referenced document that lost its pin would be deleted by the store-wide gc: collect
    pins it first."""
    store = busy.ml.store
    keyring = busy.ml.patient(busy.pid).keyring
    cid = next(c for c in store.pins() if c.digest == keyring)
    store.unpin(cid)
    found = reconcile(busy.ml)
    assert cid in found.unpinned_referenced
    done = collect(busy.ml, found)
    assert cid in done.repinned
    assert store.has(cid)
    assert cid in store.pins()


def test_a_published_recovery_request_is_kept(busy: World) -> None:
    """Guardians read a recovery request by id before anything on-chain names it."""
    candidate = busy.session(7)
    req = candidate.recovery.request(busy.pid)
    digest = bytes.fromhex(req.request_id[2:])
    found = reconcile(busy.ml)
    assert [p.cid.digest for p in found.kept] == [digest]
    assert found.orphaned == ()
    collect(busy.ml, found)
    assert candidate.recovery.load_request(req.request_id).candidate == candidate.address


def test_calldata_a_timelock_holds_counts_as_a_reference(busy: World) -> None:
    """A scheduled provider registration names its key document only inside the calldata of
    the timelock's CallScheduled event: its words (after the 4-byte selector) are references."""
    from medledger.client import reconcile as module

    key = IdentityKey.generate(Suite.MLKEM768_X25519)
    key_doc = busy.ml.store.put(key.key_document())
    data = busy.ml.deployment.medledger.calldata(
        "registerProvider",
        busy.session(8).address,
        key.x25519_public_bytes(),
        key_doc.digest,
        False,
        "Scheduled",
        0,
        0,
        b"\x00" * 65,
    )
    # the event's ``data`` bytes hold the calldata at a word offset, the selector first
    event_data = bytes(32) + data + bytes(-len(data) % 32)
    assert key_doc.digest in set(module._words([event_data]))
    busy.ml.store.unpin(key_doc)


def test_an_unreadable_chain_removes_nothing(busy: World, monkeypatch: pytest.MonkeyPatch) -> None:
    store = busy.ml.store
    orphan = store.put(b"MLKB a bundle of a grant that never landed")
    before = set(store.pins())

    def fail(*_args: object, **_kwargs: object) -> None:
        raise ChainError("eth_getLogs failed: node went away")

    monkeypatch.setattr(type(busy.ml.deployment.medledger), "get_events", fail)
    with pytest.raises(ChainError):
        collect(busy.ml)
    assert set(store.pins()) == before
    assert store.has(orphan)
    monkeypatch.undo()
    head, words = chain_words(busy.ml)
    assert head > 0
    assert busy.ml.patient(busy.pid).keyring in words
    collect(busy.ml)
    assert not store.has(orphan)
