"""AnchorRegistry v2: streams namespaced by submitter; item-level inclusion proofs only."""

from __future__ import annotations

from typing import Any

import ape
import pytest
from merkle import build, leaf_of

from conftest import ZERO32, b32, logs_of

STREAM = b32("vitals/patient-1")


def test_anchor_records_submitter_and_count(anchors: Any, stranger: Any) -> None:
    receipt = anchors.anchor(STREAM, b32("root"), 1000, sender=stranger)
    event = logs_of(receipt, anchors, "BatchAnchored")[0]
    assert (event.submitter, event.streamId, event.root, event["count"]) == (
        stranger.address,
        STREAM,
        b32("root"),
        1000,
    )
    assert tuple(anchors.getAnchor(stranger, STREAM, b32("root"))) == (1000, receipt.timestamp)
    assert tuple(anchors.getAnchor(stranger, STREAM, b32("other"))) == (0, 0)
    # The same root may be anchored in another stream.
    anchors.anchor(b32("trial-7"), b32("root"), 3, sender=stranger)


def test_anchor_rejections(anchors: Any, stranger: Any, owner: Any) -> None:
    anchors.anchor(STREAM, b32("root"), 1, sender=stranger)
    with ape.reverts(
        anchors.AnchorRegistryAlreadyAnchored,
        submitter=stranger.address,
        streamId=STREAM,
        root=b32("root"),
    ):
        anchors.anchor(STREAM, b32("root"), 1, sender=stranger)
    with ape.reverts(anchors.AnchorRegistryInvalidRoot):
        anchors.anchor(STREAM, ZERO32, 1, sender=owner)
    with ape.reverts(anchors.AnchorRegistryEmptyBatch):
        anchors.anchor(STREAM, b32("r2"), 0, sender=owner)


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64])
def test_inclusion_proofs(anchors: Any, owner: Any, stranger: Any, size: int) -> None:
    items = [b32(f"item-{i}") for i in range(size)]
    leaves = [leaf_of(d) for d in items]
    root, proofs = build(leaves)
    assert not anchors.verifyItem(owner, STREAM, root, items[0], proofs[0])  # not anchored yet
    anchors.anchor(STREAM, root, size, sender=owner)
    for i in {0, size // 2, size - 1}:
        assert anchors.verifyItem(owner, STREAM, root, items[i], proofs[i])
        assert not anchors.verifyItem(owner, STREAM, root, b32("forged"), proofs[i])
        assert not anchors.verifyItem(owner, b32("other-stream"), root, items[i], proofs[i])
        assert not anchors.verifyItem(stranger, STREAM, root, items[i], proofs[i])


def test_inner_node_is_not_an_item(anchors: Any, owner: Any) -> None:
    items = [b32(f"item-{i}") for i in range(4)]
    leaves = [leaf_of(d) for d in items]
    root, proofs = build(leaves)
    anchors.anchor(STREAM, root, 4, sender=owner)
    inner_node = proofs[0][1]  # the node over leaves 2 and 3; its proof is [node over 0 and 1]
    assert not anchors.verifyItem(owner, STREAM, root, inner_node, proofs[2][1:])
    # v2 removed the leaf-level verify() that accepted this inner node (issue 12 point 6).
    assert not hasattr(anchors, "verify")


def test_proof_length_is_bounded(anchors: Any, owner: Any) -> None:
    anchors.anchor(STREAM, b32("root"), 1, sender=owner)
    assert anchors.MAX_PROOF_LENGTH() == 64
    with ape.reverts(anchors.AnchorRegistryProofTooLong, length=65):
        anchors.verifyItem(owner, STREAM, b32("root"), b32("leaf"), [b32("p")] * 65)
