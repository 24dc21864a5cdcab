"""13.18: the HTML accounting of disclosures counts what 45 CFR 164.528 counts, and its time
axis is readable at any spread of times (label positions checked in the generated SVG)."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta

import pytest

from helpers.accounting import ER, NOSY, PATIENT, SPEC, T0, report, row
from medledger.audit.accounting import Disclosure
from medledger.audit.report_html import timeline_svg, to_html
from medledger.codes import Outcome


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
