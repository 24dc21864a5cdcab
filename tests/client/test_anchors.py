"""session.anchors: a batch stored as one record, its Merkle root anchored and proven."""

from __future__ import annotations

import dataclasses

import pytest

from helpers.client import World
from medledger import InvalidInput
from medledger.client import InclusionProof, prove_item


def test_anchor_prove_verify_open(world: World) -> None:
    items = [f"hr={60 + i}".encode() for i in range(9)]
    anchored = world.clinic.anchors.anchor_batch(world.pid, "watch-1", items)
    proof = world.clinic.anchors.prove_item(anchored.batch, items[4])
    assert proof == prove_item(anchored.batch, items[4])
    assert InclusionProof.from_json(proof.to_json()) == proof
    assert world.specialist.anchors.verify_item(proof)
    forged = dataclasses.replace(proof, item_digest=b"\x01" * 32)
    assert not world.specialist.anchors.verify_item(forged)
    assert world.clinic.anchors.get_anchor("watch-1", anchored.root).count == 9
    assert world.clinic.anchors.open_batch(anchored.record.record_id, "treatment") == items
    with pytest.raises(InvalidInput):
        world.clinic.anchors.anchor_batch(world.pid, "watch-1", [])
