"""The access chart: accesses over time, one row per recipient, readable at any spread of times.

The x axis is *ranked*: every distinct moment gets its own slot, in order, so accesses one second
apart and accesses years apart are drawn equally far apart and never on top of each other. What
a linear axis would show as distance is written instead: a gap marker ("+3 d") between slots far
apart in time. Tick labels are thinned greedily so that no two overlap, and say the date where it
changes and the time of day where it does not.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape

#: pixel geometry of the drawing (the SVG scrolls sideways on a phone rather than shrink)
LEFT = 190
RIGHT = 24
TOP = 16
ROW = 34
SLOT = 34
AXIS = 52
CHAR = 6.6  # average width of a 11 px label character
#: a gap between two consecutive moments longer than this gets a marker
GAP_MARK = 3600


@dataclass(frozen=True)
class Point:
    """One access: who, when, allowed or not, and a short description for the tooltip."""

    recipient: str
    time: int
    allowed: bool
    kind: str  # "read", "denied", "emergency"
    label: str


def human_gap(seconds: int) -> str:
    for unit, size in (("y", 365 * 86400), ("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"+{seconds // size} {unit}"
    return f"+{seconds} s"


def _tick_text(t: int, previous: int | None) -> str:
    moment = datetime.fromtimestamp(t, UTC)
    if previous is not None:
        prev = datetime.fromtimestamp(previous, UTC)
        if prev.date() == moment.date():
            return moment.strftime("%H:%M:%S") if t - previous < 60 else moment.strftime("%H:%M")
    return moment.strftime("%Y-%m-%d")


def access_chart(points: Sequence[Point], *, title: str = "Accesses over time") -> str:
    """An accessible inline SVG (role=img, title and description, one <title> per mark)."""
    if not points:
        return '<p class="muted">No accesses yet.</p>'
    recipients: list[str] = []
    for p in sorted(points, key=lambda p: p.time):
        if p.recipient not in recipients:
            recipients.append(p.recipient)
    moments = sorted({p.time for p in points})
    slot_of = {t: i for i, t in enumerate(moments)}
    width = LEFT + RIGHT + SLOT * max(len(moments), 2)
    height = TOP + ROW * len(recipients) + AXIS
    base = TOP + ROW * len(recipients)

    def x(t: int) -> float:
        return LEFT + SLOT / 2 + SLOT * slot_of[t]

    out = [
        f'<svg class="chart" role="img" aria-labelledby="chart-title chart-desc" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        f'<title id="chart-title">{escape(title)}</title>',
        f'<desc id="chart-desc">{len(points)} accesses by {len(recipients)} recipients between '
        f"{_tick_text(moments[0], None)} and {_tick_text(moments[-1], None)}; each moment has "
        "its own column, gaps in time are written between columns.</desc>",
    ]
    for row, name in enumerate(recipients):
        y = TOP + ROW * row + ROW / 2
        out.append(
            f'<line class="row" x1="{LEFT}" y1="{y}" x2="{width - RIGHT}" y2="{y}"/>'
            f'<text class="who" x="{LEFT - 8}" y="{y + 4}" text-anchor="end">'
            f"{escape(_short(name))}</text>"
        )
    out.append(f'<line class="axis" x1="{LEFT}" y1="{base}" x2="{width - RIGHT}" y2="{base}"/>')
    # gap markers between consecutive columns far apart in time; labels thinned like ticks
    gap_end = -1e9
    for a, b in itertools.pairwise(moments):
        if b - a >= GAP_MARK:
            gx = (x(a) + x(b)) / 2
            out.append(f'<line class="gap" x1="{gx}" y1="{TOP}" x2="{gx}" y2="{base}"/>')
            text = human_gap(b - a)
            half = len(text) * CHAR / 2
            if gx - half >= gap_end + 4:
                gap_end = gx + half
                out.append(
                    f'<text class="gap-label" x="{gx}" y="{base + 16}" text-anchor="middle">'
                    f"{text}</text>"
                )
    # tick labels, horizontal, thinned greedily so that none overlaps the one before
    tick_end = -1e9
    previous: int | None = None
    for t in moments:
        text = _tick_text(t, previous)
        half = len(text) * CHAR / 2
        if x(t) - half < tick_end + 6:
            continue
        previous = t  # the next label is relative to the last one shown
        tick_end = x(t) + half
        out.append(
            f'<text class="tick-label" x="{x(t)}" y="{base + 38}" text-anchor="middle">'
            f"{text}</text>"
        )
    for p in points:
        cx, cy = x(p.time), TOP + ROW * recipients.index(p.recipient) + ROW / 2
        tip = escape(f"{p.label} — {_tick_text(p.time, None)} {_clock(p.time)} UTC")
        out.append(_mark(p.kind, cx, cy, tip))
    out.append("</svg>")
    return "".join(out)


def _clock(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%H:%M:%S")


def _short(name: str, limit: int = 26) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _mark(kind: str, x: float, y: float, tip: str) -> str:
    if kind == "denied":
        d = 6
        return (
            f'<g class="mark denied" tabindex="0"><title>{tip}</title>'
            f'<path d="M{x - d} {y - d}L{x + d} {y + d}M{x - d} {y + d}L{x + d} {y - d}"/></g>'
        )
    if kind == "emergency":
        return (
            f'<g class="mark emergency" tabindex="0"><title>{tip}</title>'
            f'<path d="M{x} {y - 8}L{x + 8} {y}L{x} {y + 8}L{x - 8} {y}Z"/></g>'
        )
    return (
        f'<g class="mark read" tabindex="0"><title>{tip}</title>'
        f'<circle cx="{x}" cy="{y}" r="6"/></g>'
    )
