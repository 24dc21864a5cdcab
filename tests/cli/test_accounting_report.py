"""13.18: the HTML accounting of disclosures counts what 45 CFR 164.528 counts, and its time
axis is readable at any spread of times (label positions checked in the generated SVG)."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta

import pytest

from medledger.audit.accounting import AccountingReport, Disclosure, outcome_text
from medledger.audit.report_html import timeline_svg, to_html
from medledger.codes import Outcome

T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
PATIENT, SPEC, ER, NOSY = "0x" + "aa" * 20, "0x" + "bb" * 20, "0x" + "cc" * 20, "0x" + "dd" * 20


def row(seq: int, when: datetime, who: str, name: str, outcome: Outcome) -> Disclosure:
    return Disclosure(
        seq=seq,
        time=when,
        recipient=who,
        recipient_name=name,
        record_id="0x" + "11" * 32,
        category="labs",
        purpose="treatment",
        outcome=int(outcome),
        outcome_text=outcome_text(int(outcome)),
        break_glass=outcome == Outcome.ALLOWED_EMERGENCY,
        denied=int(outcome) >= 16,
        description="read",
        tx_hash="0x" + "00" * 32,
        block_number=seq,
    )


def report(rows: list[Disclosure]) -> AccountingReport:
    return AccountingReport(
        patient_id=1,
        period_start=T0 - timedelta(days=1),
        period_end=T0 + timedelta(days=1),
        generated_at=T0,
        chain_id=31337,
        contract=None,
        rows=tuple(rows),
    )


def the_issue_rows() -> list[Disclosure]:
    """The issue's scene: the patient's own read, a denied attempt, a break-glass opening and the
    ER read in the same second, and one consented read."""
    return [
        row(1, T0, PATIENT, "", Outcome.ALLOWED_PATIENT),
        row(2, T0 + timedelta(seconds=5), NOSY, "Nosy Co", Outcome.DENIED_NO_CONSENT),
        row(3, T0 + timedelta(seconds=9), ER, "City ER", Outcome.BREAK_GLASS_OPENED),
        row(4, T0 + timedelta(seconds=9), ER, "City ER", Outcome.ALLOWED_EMERGENCY),
        row(5, T0 + timedelta(seconds=20), SPEC, "Dr. Okafor", Outcome.ALLOWED_CONSENT),
    ]


def test_counts_follow_164_528() -> None:
    rep = report(the_issue_rows())
    summary = rep.summary()
    assert summary["disclosures"] == 2  # the ER read and the consented read
    assert summary["recipients"] == 2  # City ER and Dr. Okafor; not the patient, not Nosy Co
    assert summary["denied"] == 1
    html = to_html(rep)
    assert "<b>2</b>disclosures" in html
    assert "<b>2</b>recipients" in html


def test_an_er_read_is_drawn_above_the_break_glass_marker() -> None:
    svg = timeline_svg(report(the_issue_rows()))
    opened = svg.index('<g class="mark opened"')
    er_read = svg.index('<g class="mark emergency"')
    assert opened < er_read  # later in the SVG = painted on top
    assert 'fill="none"' in svg[opened : svg.index("</g>", opened)]  # hollow: the read shows


TICK = re.compile(r'<text class="tick" x="([0-9.]+)"[^>]*>([^<]*)</text>')


@pytest.mark.parametrize(
    "spread",
    [
        timedelta(seconds=2),
        timedelta(seconds=40),
        timedelta(minutes=7),
        timedelta(hours=5),
        timedelta(days=3),
        timedelta(days=40),
        timedelta(days=400),
        timedelta(days=365 * 12),
    ],
    ids=lambda d: f"{int(d.total_seconds())}s",
)
def test_time_axis_labels_are_distinct_and_do_not_overlap(spread: timedelta) -> None:
    rows = [
        row(1, T0, SPEC, "Dr. Okafor", Outcome.ALLOWED_CONSENT),
        row(2, T0 + spread / 3, SPEC, "Dr. Okafor", Outcome.ALLOWED_CONSENT),
        row(3, T0 + spread, ER, "City ER", Outcome.ALLOWED_EMERGENCY),
    ]
    ticks = [(float(x), label) for x, label in TICK.findall(timeline_svg(report(rows)))]
    assert len(ticks) >= 2, ticks
    labels = [label for _x, label in ticks]
    assert len(set(labels)) == len(labels), labels
    for (x1, l1), (x2, l2) in itertools.pairwise(ticks):
        # 12 px font: about 7 px per character; half of each label on either side of x
        assert x2 - x1 >= (len(l1) + len(l2)) * 7 / 2 + 4, ticks
