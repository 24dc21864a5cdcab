"""``records.add_batch`` stores its batch with one ``put_many`` inside ``pinned(...)``: what the
chain registers stays pinned (and survives a reopened store), what it refuses is unpinned."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from helpers.client import World
from medledger.errors import AccessDenied
from medledger.storage import CID, EmbeddedStore


def _reopened_pins(world: World) -> frozenset[CID]:
    store = world.ml.store
    assert isinstance(store, EmbeddedStore)
    return EmbeddedStore(store.root).pins()


def test_a_registered_batch_stays_pinned_and_opens(world: World) -> None:
    items = [(b"allergy %d" % i, "allergies") for i in range(5)] + [(b"lab", "labs")]
    announced: list[CID] = []
    added = world.clinic.records.add_batch(world.pid, items, before_store=announced.extend)
    assert [r.cid for r in added] == announced
    assert set(announced) <= _reopened_pins(world)
    for info, (data, _) in zip(added, items, strict=True):
        assert world.patient.access.open_own(info.cid) == data


def test_a_refused_batch_leaves_nothing_pinned(world: World) -> None:
    announced: list[CID] = []

    def journal(cids: Sequence[CID]) -> None:
        announced.extend(cids)

    before = _reopened_pins(world)
    with pytest.raises(AccessDenied, match="refused and logged"):
        world.specialist.records.add_batch(
            world.pid, [(b"a", "allergies"), (b"b", "labs")], before_store=journal
        )
    assert len(announced) == 2
    assert _reopened_pins(world) == before


def test_a_partly_refused_batch_keeps_only_what_the_chain_registered(world: World) -> None:
    announced: list[CID] = []
    before = _reopened_pins(world)
    with pytest.raises(AccessDenied, match="1 of 3 writes"):
        world.clinic.records.add_batch(
            world.pid,
            [(b"v1", "vitals"), (b"m", "medications"), (b"v2", "vitals")],
            before_store=announced.extend,
        )
    registered = {
        c
        for c in announced
        if world.clinic.contract.get_record(world.pid, c.digest).patient_id == world.pid
    }
    assert registered == {announced[0], announced[2]}
    assert _reopened_pins(world) == before | registered
