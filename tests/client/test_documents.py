"""Shared internals: the document store and ``pinned`` (pin rollback on failure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.client import World
from medledger import InvalidInput, Party, TransactionFailed
from medledger.client.documents import DocumentStore, pinned
from medledger.storage import CID, EmbeddedStore, cid_of_bytes


def _fail_after_setkeyring(store: EmbeddedStore) -> tuple[CID, CID]:
    with pinned(store) as pins:
        keyring = pins.put(b"keyring document")
        bundle = pins.put(b"key bundle")
        pins.referenced(keyring)  # e.g. setKeyring went through
        raise TransactionFailed(f"grantBatch reverted ({keyring}, {bundle})")


def test_rollback_spares_what_the_chain_references(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path)
    with pytest.raises(TransactionFailed, match="were unpinned"):
        _fail_after_setkeyring(store)
    pinned_now = store.pins()
    assert cid_of_bytes(b"keyring document") in pinned_now
    assert cid_of_bytes(b"key bundle") not in pinned_now


def test_documents_by_digest(tmp_path: Path) -> None:
    docs = DocumentStore(EmbeddedStore(tmp_path))
    cid = docs.put(b"a key document")
    assert docs.get(cid.digest) == b"a key document"
    with pytest.raises(InvalidInput):
        docs.get(b"\x00" * 32)


def test_failed_flow_leaves_no_pinned_orphan(world: World) -> None:
    lab = Party.generate("mlkem768-x25519")  # a post-quantum key is stored as a key document
    world.consortium.providers.register(lab, name="PQ Lab")
    before = world.ml.store.pins()
    # registering the address again reverts after its new key document was stored and pinned
    # (v2: the provider signs its key; here the same account with another identity key)
    relabelled = Party(lab.account, Party.generate("mlkem768-x25519").identity)
    with pytest.raises(TransactionFailed, match="unpinned"):
        world.consortium.providers.register(relabelled, name="PQ Lab")
    assert world.ml.store.pins() == before
    # the same key document again: already pinned and referenced on-chain, so it stays pinned
    with pytest.raises(TransactionFailed):
        world.consortium.providers.register(lab, name="PQ Lab")
    assert world.ml.store.pins() == before
    assert world.ml.public_key_of_provider(world.consortium.providers.get(lab.address))
