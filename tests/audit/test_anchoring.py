"""Merkle batches: Python proofs and the contract's OpenZeppelin MerkleProof agree."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

import pytest
from web3 import Web3
from web3.contract import Contract

from helpers.audit import deploy, send
from medledger import Medledger, Session
from medledger.anchoring import Batch, hash_pair, item_digest, leaf_hash, verify_proof
from medledger.errors import IntegrityError, InvalidInput, TransactionFailed

STREAM = Web3.keccak(text="vitals:patient-1")
SIZES = (1, 2, 3, 7, 8, 1000)


@pytest.fixture(scope="module")
def anchorer() -> Iterator[Session]:
    """A party on a fresh embedded deployment: the SDK's own AnchorRegistry binding."""
    with Medledger.embedded() as ml:
        yield ml.session(ml.dev_party(1))


def batch_of(n: int, seed: int) -> Batch:
    rng = random.Random(seed)
    return Batch.from_digests(STREAM, [rng.randbytes(32) for _ in range(n)])


def test_leaf_is_openzeppelin_double_hash() -> None:
    d = b"\x42" * 32
    assert leaf_hash(d) == Web3.keccak(Web3.keccak(d))
    a, b = b"\x01" * 32, b"\x02" * 32
    assert hash_pair(a, b) == hash_pair(b, a) == Web3.keccak(a + b)
    single = Batch.from_digests(STREAM, [d])
    assert single.root == leaf_hash(d)
    assert single.proof(0) == []


@pytest.mark.parametrize("n", SIZES)
def test_python_proofs(n: int) -> None:
    batch = batch_of(n, n)
    assert len(batch) == n
    assert len(batch.tree) == 2 * n - 1
    for i in range(n):
        proof = batch.proof(i)
        assert verify_proof(batch.root, batch.digests[i], proof)
        assert len(proof) <= (n - 1).bit_length() + 1
    other = batch_of(n, n + 1000)
    p0 = batch.proof(0)
    assert not verify_proof(batch.root, b"\x99" * 32, p0)  # wrong item
    assert not verify_proof(other.root, batch.digests[0], p0)  # wrong root
    if n > 1:
        assert not verify_proof(batch.root, batch.digests[1], p0)  # someone else's proof
        # an inner node is never accepted as an item (the double-hashed leaf prevents it)
        assert not verify_proof(batch.root, batch.tree[1], [batch.tree[2]])


@pytest.fixture(scope="module")
def registry(w3: Web3) -> Contract:
    """A fresh AnchorRegistry on the audit tests' Anvil, driven with raw web3 (v2 ABI)."""
    return deploy(w3, "AnchorRegistry")


@pytest.mark.parametrize("n", SIZES)
def test_onchain_verification_equals_python(w3: Web3, registry: Contract, n: int) -> None:
    submitter, other = w3.eth.accounts[8], w3.eth.accounts[9]
    batch = batch_of(n, 10 + n)
    receipt = send(
        w3, registry.functions.anchor(batch.stream_id, batch.root, len(batch)), submitter
    )
    event = registry.events.BatchAnchored().process_receipt(receipt)[0]["args"]
    assert (bytes(event["root"]), int(event["count"])) == (batch.root, n)
    assert event["submitter"] == submitter
    count, anchored_at = registry.functions.getAnchor(submitter, STREAM, batch.root).call()
    assert (count, anchored_at != 0) == (n, True)
    # streams are namespaced by submitter: nothing under another address
    assert registry.functions.getAnchor(other, STREAM, batch.root).call() == [0, 0]
    rng = random.Random(n)
    indexes = range(n) if n <= 8 else rng.sample(range(n), 16)
    wrong_root = batch_of(n, 99 + n).root
    verify_item = registry.functions.verifyItem
    for i in indexes:
        item, proof = batch.digests[i], batch.proof(i)
        cases = [
            (batch.root, item, proof),
            (batch.root, rng.randbytes(32), proof),
            (wrong_root, item, proof),
            (batch.root, item, proof[:-1]),
        ]
        for root, it, pr in cases:
            py = verify_proof(root, it, pr)
            # the contract's own leaf hashing (verifyItem) agrees with Python
            assert verify_item(submitter, STREAM, root, it, pr).call() == py
            assert verify_item(other, STREAM, root, it, pr).call() is False
        assert verify_proof(batch.root, item, proof)
    if n > 1:  # an inner node posing as an item is rejected on chain too
        assert verify_item(
            submitter, STREAM, batch.root, batch.tree[1], [batch.tree[2]]
        ).call() is (False)


def test_sdk_anchors_a_batch_once(anchorer: Session) -> None:
    pid = anchorer.identity.register().patient_id
    items = [b"hr=61", b"hr=64", b"spo2=97"]
    anchored = anchorer.anchors.anchor_batch(pid, STREAM, items)
    assert anchored.root == Batch.from_items(STREAM, items).root
    info = anchorer.anchors.get_anchor(STREAM, anchored.root)
    assert info.submitter == anchorer.address
    with pytest.raises(TransactionFailed):  # already anchored: the contract reverts
        anchorer.anchor_registry.anchor(STREAM, anchored.root, len(items))


def test_unanchored_root_fails_onchain_even_with_valid_proof(w3: Web3, registry: Contract) -> None:
    batch = batch_of(5, 777)
    item, proof = batch.digests[2], batch.proof(2)
    assert verify_proof(batch.root, item, proof)
    submitter = w3.eth.accounts[8]
    assert not registry.functions.verifyItem(submitter, STREAM, batch.root, item, proof).call()
    assert registry.functions.getAnchor(submitter, STREAM, batch.root).call() == [0, 0]


def test_manifest_round_trip_and_tamper() -> None:
    batch = Batch.from_items(STREAM, [f"reading {i}".encode() for i in range(13)])
    again = Batch.from_manifest(batch.to_json())
    assert again == batch
    assert Batch.from_manifest(batch.manifest()).proof(7) == batch.proof(7)
    assert batch.index_of(item_digest(b"reading 4")) == 4
    doc = json.loads(batch.to_json())
    doc["items"][3] = "0x" + "00" * 32
    with pytest.raises(IntegrityError):
        Batch.from_manifest(doc)
    with pytest.raises(InvalidInput):
        Batch.from_manifest(b"not json")
    with pytest.raises(InvalidInput):
        Batch.from_manifest({**json.loads(batch.to_json()), "version": 99})


def test_bad_input() -> None:
    with pytest.raises(InvalidInput):
        Batch.from_digests(STREAM, [])
    with pytest.raises(InvalidInput):
        Batch.from_digests(STREAM, [b"short"])
    with pytest.raises(InvalidInput):
        Batch.from_digests(b"\0" * 31, [b"\0" * 32])
    batch = batch_of(3, 1)
    with pytest.raises(InvalidInput):
        batch.proof(3)
    with pytest.raises(InvalidInput):
        verify_proof("0xzz", batch.digests[0], [])
    with pytest.raises(InvalidInput):
        batch.index_of(b"\x01" * 32)
