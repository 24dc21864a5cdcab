"""Erasure reports: who may hold keys (nobody is notified), and honest rendering of what cannot
be undone."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from helpers.audit import Scenario
from medledger.audit import Archive, ErasureReport, past_grantees
from medledger.audit.erasure import CANNOT_UNDO, KeyHolder, render_json, render_text
from medledger.codes import Category


def test_past_grantees_include_revoked_and_superseded(scenario: Scenario, archive: Archive) -> None:
    labs = {g.address: g.name for g in past_grantees(archive, scenario.alice_id, Category.LABS)}
    # hospital (active), City Labs (revoked) and Research (labs only in its first grant)
    assert labs == {
        scenario.hospital: "General Hospital (North)",
        scenario.labs: "City Labs",
        scenario.research: "Research Institute",
    }
    imaging = past_grantees(archive, scenario.alice_id, Category.IMAGING)
    assert [g.address for g in imaging] == [scenario.research]
    assert past_grantees(archive, scenario.alice_id, Category.GENOMICS) == []
    assert past_grantees(archive, scenario.bob_id, Category.LABS) == []


def make_report(**kw: object) -> ErasureReport:
    base: dict[str, object] = {
        "patient_id": 1,
        "record_id": "0x" + "ab" * 32,
        "category": Category.IMAGING,
        "tombstone_tx": "0x" + "cd" * 32,
        "erased_at": datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
        "keys_destroyed": ("record data key (local keyring copy)",),
        "blocks_unpinned": ("bafkreiaaa", "bafkreibbb"),
        "key_holders": (
            KeyHolder("0x" + "11" * 20, "City Labs", 1_700_000_000),
            KeyHolder("0x" + "22" * 20, "City ER", 1_700_000_000, role="responder"),
        ),
    }
    base.update(kw)
    return ErasureReport(**base)  # type: ignore[arg-type]


def test_text_rendering_states_done_and_not_undoable() -> None:
    text = render_text(make_report())
    assert "Erasure of record 0x" + "ab" * 32 + " (imaging, patient 1)" in text
    assert "on-chain tombstone: 0x" + "cd" * 32 + " (at 2026-03-01 12:00:00 UTC)" in text
    assert "blocks unpinned: 2" in text
    assert "bafkreibbb" in text
    assert "City Labs 0x" + "11" * 20 in text
    assert "emergency responders whose kit held it (1):" in text
    assert "City ER 0x" + "22" * 20 in text
    assert "(notified)" not in text
    assert "medledger sent no notification" in text
    assert "Cannot be undone:" in text
    assert "Copies already decrypted by authorised parties" in text
    assert text.rstrip().endswith("Status: complete")


def test_incomplete_erasure_is_said_so() -> None:
    rep = make_report(tombstone_tx=None, unpin_failures=("bafkreiccc",), key_holders=())
    text = render_text(rep)
    assert not rep.complete
    assert "on-chain tombstone: NOT SENT" in text
    assert "blocks NOT unpinned (1), retry needed" in text
    assert "past grantees of this category: none" in text
    assert text.rstrip().endswith("Status: INCOMPLETE")


def test_json_rendering() -> None:
    data = json.loads(render_json(make_report()))
    assert data["category"] == "imaging"
    assert data["erased_at"] == "2026-03-01T12:00:00+00:00"
    assert data["complete"] is True
    assert data["cannot_undo"] == list(CANNOT_UNDO)
    assert data["key_holders"][0]["name"] == "City Labs"
    assert data["key_holders"][0]["notified"] is False
