"""13.18 in a real browser: the HTML accounting report's time axis, rendered by Chromium at any
spread of times, has no two tick labels on top of each other, and the ER read is not hidden under
the break-glass marker (the element under the read's centre is the read). Screenshots of each
spread are written to the test's directory."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from helpers.accounting import ER, NOSY, SPEC, T0, report, row
from helpers.portal import overlapping
from medledger.audit.report_html import to_html
from medledger.codes import Outcome


@pytest.fixture(scope="module")
def page(browser: Any) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    p = context.new_page()
    yield p
    context.close()


@pytest.mark.parametrize(
    "spread",
    [timedelta(seconds=2), timedelta(minutes=7), timedelta(days=3), timedelta(days=365 * 12)],
    ids=lambda d: f"{int(d.total_seconds())}s",
)
def test_axis_labels_never_overlap_on_screen(page: Any, spread: timedelta, tmp_path: Path) -> None:
    rows = [
        row(1, T0, SPEC, "Dr. Okafor", Outcome.ALLOWED_CONSENT),
        row(2, T0 + spread / 3, SPEC, "Dr. Okafor", Outcome.ALLOWED_CONSENT),
        row(3, T0 + spread / 2, NOSY, "Nosy Co", Outcome.DENIED_NO_CONSENT),
        row(4, T0 + spread, ER, "City ER", Outcome.ALLOWED_EMERGENCY),
    ]
    page.set_content(to_html(report(rows)))
    ticks = page.locator("svg.timeline text.tick")
    assert ticks.count() >= 2
    labels = ticks.all_text_contents()
    assert len(set(labels)) == len(labels), labels
    assert overlapping(page, "svg.timeline text.tick") == []
    page.locator("svg.timeline").screenshot(path=str(tmp_path / "timeline.png"))
    assert (tmp_path / "timeline.png").stat().st_size > 1000


def test_er_read_is_visible_above_the_break_glass_marker(page: Any) -> None:
    rows = [
        row(1, T0, ER, "City ER", Outcome.BREAK_GLASS_OPENED),
        row(2, T0, ER, "City ER", Outcome.ALLOWED_EMERGENCY),
        row(3, T0 + timedelta(seconds=20), SPEC, "Dr. Okafor", Outcome.ALLOWED_CONSENT),
    ]
    page.set_content(to_html(report(rows)))
    box = page.locator("svg.timeline g.mark.emergency").first.bounding_box()
    top = page.evaluate(
        "([x, y]) => document.elementFromPoint(x, y).closest('g.mark').getAttribute('class')",
        [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
    )
    assert "emergency" in top
