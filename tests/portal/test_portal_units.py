"""The portal's pure parts: the chart's axis at any spread of times, FHIR summaries, the grant
form's durations, and the command's refusals before anything starts."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from helpers.cli import invoke, isolate_home
from medledger.errors import InvalidInput
from medledger.portal.chart import CHAR, Point, access_chart
from medledger.portal.summaries import parse_duration, resources_of, summarize

T0 = 1_780_000_000
TEXT = re.compile(r'<text class="(tick-label|gap-label)" x="([0-9.]+)"[^>]*>([^<]*)</text>')


@pytest.mark.parametrize(
    "times",
    [
        [T0 + i for i in range(30)],  # thirty accesses one second apart
        [T0 + i * 59 for i in range(30)],
        [T0, T0 + 1, T0 + 86400 * 365 * 9, T0 + 86400 * 365 * 9 + 2],  # seconds and years
        [T0 + i * 86400 * 400 for i in range(12)],
    ],
    ids=["1s", "59s", "mixed", "400d"],
)
def test_chart_labels_never_overlap(times: list[int]) -> None:
    points = [Point(f"p{i % 3}", t, i % 4 != 0, "read", "read") for i, t in enumerate(times)]
    svg = access_chart(points)
    for kind in ("tick-label", "gap-label"):
        spans = [
            (float(x) - len(t) * CHAR / 2, float(x) + len(t) * CHAR / 2)
            for k, x, t in TEXT.findall(svg)
            if k == kind
        ]
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert start > end, (kind, spans)
    assert svg.count('class="mark') == len(points)  # every access drawn, none merged
    assert len(TEXT.findall(svg)) >= 2


def test_chart_names_a_long_gap() -> None:
    svg = access_chart(
        [Point("a", T0, True, "read", "x"), Point("a", T0 + 3 * 86400, True, "read", "y")]
    )
    assert ">+3 d</text>" in svg


def test_fhir_summaries() -> None:
    allergy = summarize(
        {
            "resourceType": "AllergyIntolerance",
            "code": {"text": "Peanut allergy"},
            "criticality": "high",
        }
    )
    assert (allergy.kind, allergy.title) == ("Allergy", "Peanut allergy")
    assert "criticality: high" in allergy.details
    med = summarize(
        {
            "resourceType": "MedicationStatement",
            "medicationCodeableConcept": {"coding": [{"display": "Metformin 500 mg"}]},
            "status": "active",
            "dosage": [{"text": "twice daily"}],
        }
    )
    assert med.title == "Metformin 500 mg"
    assert "dosage: twice daily" in med.details
    cond = summarize({"resourceType": "Condition", "code": {"text": "Type 2 diabetes"}})
    assert (cond.kind, cond.title) == ("Condition", "Type 2 diabetes")
    assert resources_of(b"\x00binary") is None
    assert resources_of(b'{"not": "fhir"}') is None


@pytest.mark.parametrize(
    ("amount", "unit"), [("0", "days"), ("x", "days"), ("3", "fortnights"), ("101", "years")]
)
def test_bad_durations_are_typed_errors(amount: str, unit: str) -> None:
    with pytest.raises(InvalidInput):
        parse_duration(amount, unit)


def test_thirty_days() -> None:
    assert parse_duration("30", "days") == 30 * 86400


def test_portal_command_refuses_a_missing_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    isolate_home(monkeypatch, tmp_path / "home")
    run = invoke(["portal", "--as", "nobody", "--rpc", "embedded", "--no-browser"])
    assert run.exit_code != 0
    assert "no key named 'nobody'" in run.stderr


def test_idle_sessions_are_forgotten_without_a_request() -> None:
    from medledger.portal.auth import Sessions

    now = [100.0]
    sessions = Sessions(idle_timeout=60, clock=lambda: now[0])
    sid, _ = sessions.create(object(), 1)  # type: ignore[arg-type]
    now[0] += 30
    assert sessions.lookup(sid, touch=False)[0] is not None
    assert sessions.sweep() == 0
    now[0] += 31
    assert sessions.sweep() == 1  # the unlocked key is dropped although no request came
    assert len(sessions) == 0
    assert sessions.lookup(sid, touch=True) == (None, True)  # "locked for being idle", once
    assert sessions.lookup(sid, touch=True) == (None, False)
