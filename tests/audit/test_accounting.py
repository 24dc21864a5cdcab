"""HIPAA accounting of disclosures from a synced archive: rows, CSV, JSON and the HTML report."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from helpers.audit import Scenario
from medledger.audit import (
    Archive,
    accounting_of_disclosures,
    table_rows,
    to_csv,
    to_html,
    to_json,
    verify_patient,
)
from medledger.audit.accounting import CSV_COLUMNS, six_years_before
from medledger.errors import InvalidInput

SVG = "{http://www.w3.org/2000/svg}"


def test_rows_name_who_what_why_and_flag_emergencies_and_denials(
    scenario: Scenario, archive: Archive
) -> None:
    rep = accounting_of_disclosures(archive, scenario.alice_id)
    # reads and denied writes by others; the patient's own read and every operation left out
    expected = [(a, o) for n, a, o in scenario.chain[scenario.alice_id]
                if n == "AccessRecorded" and a != scenario.alice]  # fmt: skip
    assert [(r.recipient, r.outcome) for r in rep.rows] == expected
    by_seq = {r.seq: r for r in rep.rows}
    assert sorted(by_seq) == [8, 9, 11, 12, 14, 17, 18]
    first = by_seq[8]
    assert (first.recipient_name, first.category, first.purpose, first.denied) == (
        "General Hospital", "labs", "treatment", False,
    )  # fmt: skip
    assert first.record_id == "0x" + scenario.records["labs-1"].hex()
    # the provider was renamed after seq 11: each row carries the name registered at the time
    assert by_seq[11].recipient_name == "General Hospital"
    assert by_seq[12].recipient_name == "General Hospital (North)"
    assert by_seq[9].denied
    assert by_seq[9].outcome_text == "denied: category not granted"
    assert by_seq[9].category == "imaging"
    emergency_read = by_seq[14]
    assert emergency_read.break_glass
    assert not emergency_read.denied
    assert emergency_read.purpose == "emergency"
    write = by_seq[18]
    assert (write.recipient_name, write.denied, write.outcome) == ("Research Institute", True, 27)
    assert write.outcome_text == "write denied: category not granted"
    # only allowed reads by others are disclosures: 8, 12 (consent) and 14 (break-glass)
    assert rep.summary() == {"disclosures": 3, "allowed": 3, "denied": 4, "break_glass": 1,
                             "recipients": 2, "consent_and_record_events": 12}  # fmt: skip
    with_patient = accounting_of_disclosures(
        archive, scenario.alice_id, include_patient_accesses=True
    )
    assert len(with_patient.rows) == len(rep.rows) + 1
    assert by_seq.keys() < {r.seq for r in with_patient.rows}
    assert with_patient.summary()["disclosures"] == 3  # the patient's read is not one


def test_operations_are_a_separate_section_never_disclosures(
    scenario: Scenario, archive: Archive
) -> None:
    rep = accounting_of_disclosures(archive, scenario.alice_id)
    assert all(not 3 <= r.outcome <= 11 for r in rep.rows)
    ops = [(n, a, o) for n, a, o in scenario.chain[scenario.alice_id] if n != "AccessRecorded"]
    assert [(e.kind, e.actor, e.outcome) for e in rep.events] == ops
    by_kind = {e.kind: e for e in rep.events}
    assert by_kind["PatientRegistered"].actor_name == "the patient"
    assert by_kind["ConsentRevoked"].actor_name == "City Labs"
    assert by_kind["ConsentRevoked"].description == "consent revoked"
    assert "reason: life_threatening" in by_kind["BreakGlassOpened"].description
    assert "allergies" in by_kind["BreakGlassOpened"].description
    assert by_kind["BreakGlassClosed"].description == "emergency access closed by the patient"
    replaced = [e for e in rep.events if e.outcome == 6]
    assert len(replaced) == 1
    assert replaced[0].description.startswith("consent replaced: read of imaging for research")
    assert by_kind["RecordErased"].description == (
        f"record 0x{scenario.records['imaging-1'].hex()} erased"
    )
    bob = accounting_of_disclosures(archive, scenario.bob_id)
    changed = [e for e in bob.events if e.kind == "ControllerChanged"]
    assert [e.actor for e in changed] == [scenario.bob_new]
    assert changed[0].description == f"patient's key (controller) changed from {scenario.bob}"


def test_period_filters_rows(scenario: Scenario, archive: Archive) -> None:
    rows = accounting_of_disclosures(archive, scenario.alice_id).rows
    cut = rows[3].time
    late = accounting_of_disclosures(archive, scenario.alice_id, start=cut)
    early = accounting_of_disclosures(archive, scenario.alice_id, end=cut - timedelta(seconds=1))
    assert [r.seq for r in early.rows] + [r.seq for r in late.rows] == [r.seq for r in rows]
    assert late.rows[0].time >= cut
    ten_years_on = accounting_of_disclosures(
        archive, scenario.alice_id, now=rows[-1].time + timedelta(days=3653)
    )
    assert ten_years_on.rows == ()  # older than the six-year default window
    with pytest.raises(InvalidInput):
        accounting_of_disclosures(archive, scenario.alice_id, start=datetime(2020, 1, 1))
    with pytest.raises(InvalidInput):
        accounting_of_disclosures(archive, scenario.alice_id, start=cut, end=cut - timedelta(1))


def test_six_years_before_handles_leap_day() -> None:
    assert six_years_before(datetime(2028, 2, 29, tzinfo=UTC)) == datetime(2022, 2, 28, tzinfo=UTC)
    assert six_years_before(datetime(2030, 7, 1, tzinfo=UTC)) == datetime(2024, 7, 1, tzinfo=UTC)


def test_csv_and_json_round_trip(scenario: Scenario, archive: Archive) -> None:
    rep = accounting_of_disclosures(archive, scenario.alice_id)
    parsed = list(csv.DictReader(io.StringIO(to_csv(rep))))
    assert tuple(parsed[0].keys()) == CSV_COLUMNS
    assert [int(p["seq"]) for p in parsed] == [r.seq for r in rep.rows]
    assert parsed[1]["denied"] == "yes"
    assert parsed[1]["outcome_code"] == "19"
    assert parsed[4]["recipient"] == "Ambulance <Service> & Co"
    data = json.loads(to_json(rep))
    assert data["patient_id"] == scenario.alice_id
    assert data["contract"] == scenario.medledger.address
    assert [d["recipient"] for d in data["disclosures"]] == [r.recipient for r in rep.rows]
    assert [d["seq"] for d in data["consent_and_record_events"]] == [e.seq for e in rep.events]
    assert datetime.fromisoformat(data["disclosures"][0]["time"]) == rep.rows[0].time
    assert [t[1] for t in table_rows(rep)][:2] == ["General Hospital", "City Labs"]


def test_html_report_is_self_contained_and_shows_every_access(
    scenario: Scenario, archive: Archive, tmp_path: Path
) -> None:
    rep = accounting_of_disclosures(archive, scenario.alice_id)
    verification = verify_patient(scenario.w3, archive, scenario.alice_id)
    out = tmp_path / "accounting.html"
    out.write_text(to_html(rep, verification), encoding="utf-8")
    html = out.read_text(encoding="utf-8")

    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html.lower()
    # nothing is fetched: the only URL is the SVG namespace
    assert re.findall(r"https?://[^\s\"'<>]+", html) == ["http://www.w3.org/2000/svg"]
    assert "Archive verified against the on-chain hash chain" in html
    # provider names are escaped, never interpreted as markup
    assert "Ambulance &lt;Service&gt; &amp; Co" in html
    assert "<Service>" not in html

    svg_text = re.search(r"<svg.*?</svg>", html, re.S)
    assert svg_text is not None
    svg = ET.fromstring(svg_text.group(0))  # noqa: S314 - our own output; must be well-formed XML
    marks = [g for g in svg.iter(f"{SVG}g") if g.get("class", "").startswith("mark ")]
    assert len(marks) == len(rep.rows)
    kinds = [g.get("class", "").split()[1] for g in marks]
    assert kinds.count("denied") == 4
    assert kinds.count("emergency") == 1  # the emergency read (a disclosure)
    lanes = [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "lane"]
    assert lanes == [
        "General Hospital (North)", "City Labs", "Ambulance <Service> & Co", "Research Institute",
    ]  # fmt: skip
    # marks move right with time (drawn per layer: context marks first, disclosures on top)
    xs = []
    marks = [g for g in marks if g.get("class", "").split()[1] in ("allowed", "emergency")]
    for g in marks:
        shape = next(el for el in g if el.tag != f"{SVG}title")
        if shape.tag == f"{SVG}line":
            xs.append((float(shape.get("x1", "")) + float(shape.get("x2", ""))) / 2)
        elif shape.tag == f"{SVG}circle":
            xs.append(float(shape.get("cx", "")))
        else:
            xs.append(float(shape.get("points", "").split(",")[0]))
    assert xs == sorted(xs)
    assert xs[0] < xs[-1]
    # the disclosures table lists every row; the operations are a separate section
    assert html.count('<tr class="event">') == len(rep.events) == 12
    assert html.count("<tr class=") == len(rep.rows) + len(rep.events)
    assert html.index("All disclosures") < html.index("Consent and record events")


def test_html_report_with_no_disclosures(scenario: Scenario, archive: Archive) -> None:
    rep = accounting_of_disclosures(archive, scenario.bob_id)  # bob only read his own record
    html = to_html(rep)
    assert rep.rows == ()
    assert "No disclosures in this period." in html
    assert 'class="mark ' not in html
