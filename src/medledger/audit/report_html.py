"""Self-contained HTML rendering of an accounting of disclosures.

One file, no scripts, no external resources: inline CSS, and an inline SVG timeline with one lane
per recipient and one mark per access (circle = allowed, diamond = break-glass, cross = denied),
the disclosures table, and a separate table of consent and record events (not disclosures).
Each mark carries an SVG ``<title>``, which browsers show as a tooltip without any JavaScript.
All text from the chain (provider names are free text set by the consortium) is HTML-escaped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

from medledger.audit.accounting import DISCLOSURE_OUTCOMES, AccountingReport, Disclosure
from medledger.audit.verify import VerificationReport
from medledger.codes import Outcome

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem;color:#1d2433}
h1{font-size:1.5rem;margin:0 0 .25rem} .meta{color:#5a6478;margin:0 0 1rem}
.cards{display:flex;gap:1rem;flex-wrap:wrap;margin:1rem 0}
.card{border:1px solid #d8dde6;border-radius:8px;padding:.6rem 1rem;min-width:7rem}
.card b{display:block;font-size:1.4rem}
.ok{color:#1b7f3b} .bad{color:#b42318}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border-bottom:1px solid #e4e7ec;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f6f9} tr.denied td{background:#fdf0ef} tr.bg td{background:#fff6e5}
code{font-size:.8rem;word-break:break-all}
svg text{font-family:inherit;font-size:12px;fill:#344054}
.verify{padding:.6rem 1rem;border-radius:8px;margin:1rem 0;border:1px solid #d8dde6}
"""

_COLORS = {
    "allowed": "#2e6fd8",
    "emergency": "#e07b00",
    "opened": "#e07b00",
    "other": "#98a2b3",
    "denied": "#c4320a",
}
#: Drawing order: context marks first, disclosures last (on top), so an emergency read at the
#: moment break-glass opened is never hidden under the opening's marker.
_LAYER = {"opened": 0, "other": 1, "denied": 2, "allowed": 3, "emergency": 3}

# Timeline geometry (px).
_LABEL_W = 220
_PLOT_W = 760
_LANE_H = 28
_TOP = 34
_BOTTOM = 40


def _kind(r: Disclosure) -> str:
    if r.denied:
        return "denied"
    if r.outcome == Outcome.BREAK_GLASS_OPENED:
        return "opened"
    if r.break_glass:
        return "emergency"
    return "allowed" if r.outcome in DISCLOSURE_OUTCOMES else "other"


def _mark(kind: str, x: float, y: float, tip: str, cls: str = "mark") -> str:
    c = _COLORS[kind]
    title = f"<title>{escape(tip)}</title>"
    if kind == "denied":
        d = 5
        return (
            f'<g class="{cls} denied" stroke="{c}" stroke-width="2.5">{title}'
            f'<line x1="{x - d:.1f}" y1="{y - d:.1f}" x2="{x + d:.1f}" y2="{y + d:.1f}"/>'
            f'<line x1="{x - d:.1f}" y1="{y + d:.1f}" x2="{x + d:.1f}" y2="{y - d:.1f}"/></g>'
        )
    if kind == "opened":  # hollow, larger: a read at the same moment shows inside it
        d = 9
        pts = f"{x:.1f},{y - d:.1f} {x + d:.1f},{y:.1f} {x:.1f},{y + d:.1f} {x - d:.1f},{y:.1f}"
        return (
            f'<g class="{cls} opened"><polygon points="{pts}" fill="none" stroke="{c}" '
            f'stroke-width="2"/>{title}</g>'
        )
    return (
        f'<g class="{cls} {kind}"><circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{c}" '
        f'fill-opacity="0.85"/>{title}</g>'
    )


#: Tick steps (seconds) the axis may use, and how each is labelled: the step is the smallest
#: that gives at most _MAX_TICKS ticks, and its format shows every tick differently.
_STEPS = (
    (1, "%H:%M:%S"), (5, "%H:%M:%S"), (15, "%H:%M:%S"), (30, "%H:%M:%S"),
    (60, "%H:%M"), (300, "%H:%M"), (900, "%H:%M"), (1800, "%H:%M"),
    (3600, "%m-%d %H:%M"), (3 * 3600, "%m-%d %H:%M"), (6 * 3600, "%m-%d %H:%M"),
    (12 * 3600, "%m-%d %H:%M"), (86400, "%Y-%m-%d"), (2 * 86400, "%Y-%m-%d"),
    (7 * 86400, "%Y-%m-%d"), (14 * 86400, "%Y-%m-%d"), (30 * 86400, "%Y-%m-%d"),
    (91 * 86400, "%Y-%m-%d"), (182 * 86400, "%Y-%m-%d"), (365 * 86400, "%Y-%m-%d"),
)  # fmt: skip
_MAX_TICKS = 6


def axis_ticks(t0: float, t1: float) -> list[tuple[float, str]]:
    """Ticks of the time axis from ``t0`` to ``t1``: round times at an even step, each with a
    label that differs from its neighbours (at any spread: seconds apart or years)."""
    span = max(t1 - t0, 1.0)
    step: float
    step, fmt = _STEPS[-1]
    for candidate, candidate_fmt in _STEPS:
        if span / candidate <= _MAX_TICKS:
            step, fmt = candidate, candidate_fmt
            break
    else:
        step = span / _MAX_TICKS  # longer than the table: even steps, dates
    first = (int(t0 // step) + 1) * step
    ticks: list[tuple[float, str]] = []
    t = float(first)
    while t < t1:
        label = datetime.fromtimestamp(t, UTC).strftime(fmt)
        if not ticks or ticks[-1][1] != label:
            ticks.append((t, label))
        t += step
    return ticks


def timeline_svg(report: AccountingReport) -> str:
    """The SVG timeline: accesses by recipient over time (empty-state text if no rows)."""
    rows = report.rows
    lanes = report.recipients  # address -> label
    height = _TOP + max(len(lanes), 1) * _LANE_H + _BOTTOM
    width = _LABEL_W + _PLOT_W + 70  # room for the last tick label
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" style="max-width:100%;height:auto" '
        f'role="img" '
        f'aria-label="Accesses by recipient over time">'
    ]
    if not rows:
        parts.append(f'<text x="{_LABEL_W}" y="{_TOP + 14}">No disclosures in this period.</text>')
        parts.append("</svg>")
        return "".join(parts)
    times = [r.time.timestamp() for r in rows]
    t0, t1 = min(times), max(times)
    pad = max((t1 - t0) * 0.03, 60.0)  # keep marks off the frame
    t0, t1 = t0 - pad, t1 + pad
    span = t1 - t0

    def x_of(t: float) -> float:
        return _LABEL_W + (t - t0) / span * _PLOT_W

    bottom = _TOP + len(lanes) * _LANE_H
    for i, label in enumerate(lanes.values()):
        y = _TOP + i * _LANE_H + _LANE_H / 2
        fill = "#f8f9fb" if i % 2 == 0 else "#ffffff"
        parts.append(
            f'<rect x="{_LABEL_W}" y="{_TOP + i * _LANE_H}" width="{_PLOT_W}" '
            f'height="{_LANE_H}" fill="{fill}"/>'
        )
        short = label if len(label) <= 30 else label[:29] + "…"
        parts.append(
            f'<text class="lane" x="{_LABEL_W - 8}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(short)}<title>{escape(label)}</title></text>"
        )
    for t, tick_label in axis_ticks(t0, t1):
        x = x_of(t)
        parts.append(
            f'<line x1="{x:.1f}" y1="{_TOP}" x2="{x:.1f}" y2="{bottom}" stroke="#d0d5dd" '
            f'stroke-dasharray="3,3"/>'
            f'<text class="tick" x="{x:.1f}" y="{bottom + 16}" text-anchor="middle">'
            f"{escape(tick_label)}</text>"
        )
    lane_of = {address: i for i, address in enumerate(lanes)}
    for r in sorted(rows, key=lambda r: _LAYER[_kind(r)]):
        label = r.recipient_name or r.recipient
        y = _TOP + lane_of[r.recipient] * _LANE_H + _LANE_H / 2
        tip = (
            f"{r.time.isoformat()} — {label}: {r.description}; purpose {r.purpose}; "
            f"{r.outcome_text}"
        )
        parts.append(_mark(_kind(r), x_of(r.time.timestamp()), y, tip))
    # legend
    lx, ly = _LABEL_W, 16
    for kind, text in (
        ("allowed", "disclosure"),
        ("emergency", "emergency read"),
        ("opened", "break-glass opened"),
        ("other", "patient's own read"),
        ("denied", "denied"),
    ):
        parts.append(_mark(kind, lx + 6, ly - 4, text, "legend"))
        parts.append(f'<text x="{lx + 16}" y="{ly}">{text}</text>')
        lx += 8 * len(text) + 30
    parts.append("</svg>")
    return "".join(parts)


def _data_cell(r: Disclosure) -> str:
    return f"{escape(r.category or 'unknown')}<br><code>{escape(r.record_id)}</code>"


def _verification_html(v: VerificationReport | None) -> str:
    if v is None:
        return ""
    if v.ok:
        return (
            f'<div class="verify ok">Archive verified against the on-chain hash chain: '
            f"{v.count_onchain} entries, head <code>{escape(v.head_onchain)}</code>"
            f"{f' at block {v.checked_at_block}' if v.checked_at_block is not None else ''}.</div>"
        )
    return (
        f'<div class="verify bad">Archive verification FAILED: {escape(v.problem or "")} '
        f"(on chain {v.count_onchain} entries, archived {v.count_archived}).</div>"
    )


def to_html(report: AccountingReport, verification: VerificationReport | None = None) -> str:
    """The full report as one self-contained HTML document."""
    s = report.summary()
    cards = "".join(
        f'<div class="card"><b>{s[key]}</b>{label}</div>'
        for key, label in (
            ("disclosures", "disclosures"),
            ("recipients", "recipients"),
            ("break_glass", "break-glass"),
            ("denied", "denied attempts"),
            ("consent_and_record_events", "consent and record events"),
        )
    )
    body_rows = []
    for r in report.rows:
        cls = "denied" if r.denied else ("bg" if r.break_glass else "")
        flags = ", ".join(
            f for f, on in (("break-glass", r.break_glass), ("denied", r.denied)) if on
        )
        body_rows.append(
            f'<tr class="{cls}"><td>{escape(r.time.strftime("%Y-%m-%d %H:%M:%S"))} UTC</td>'
            f"<td>{escape(r.recipient_name or 'unregistered')}<br>"
            f"<code>{escape(r.recipient)}</code></td>"
            f"<td>{_data_cell(r)}</td>"
            f"<td>{escape(r.purpose)}</td><td>{escape(r.outcome_text)}</td>"
            f"<td>{escape(flags)}</td></tr>"
        )
    table = (
        "<table><thead><tr><th>Date</th><th>Recipient</th><th>Data</th><th>Purpose</th>"
        "<th>Outcome</th><th>Flags</th></tr></thead><tbody>"
        + ("".join(body_rows) or '<tr><td colspan="6">No disclosures in this period.</td></tr>')
        + "</tbody></table>"
    )
    event_rows = "".join(
        f'<tr class="event"><td>{escape(e.time.strftime("%Y-%m-%d %H:%M:%S"))} UTC</td>'
        f"<td>{escape(e.actor_name or 'unregistered')}<br><code>{escape(e.actor)}</code></td>"
        f"<td>{escape(e.outcome_text)}</td><td>{escape(e.description)}</td></tr>"
        for e in report.events
    )
    events_table = (
        "<table><thead><tr><th>Date</th><th>By / for</th><th>Event</th><th>Details</th></tr>"
        "</thead><tbody>"
        + (
            event_rows
            or '<tr><td colspan="4">No consent or record events in this period.</td></tr>'
        )
        + "</tbody></table>"
    )
    where = ""
    if report.chain_id is not None and report.contract:
        where = f" · chain {report.chain_id}, contract <code>{escape(report.contract)}</code>"
    title = f"Accounting of disclosures — patient {report.patient_id}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{escape(title)}</h1>"
        f'<p class="meta">Period {report.period_start:%Y-%m-%d} to {report.period_end:%Y-%m-%d} '
        f"(UTC) · generated {report.generated_at:%Y-%m-%d %H:%M} UTC{where} · "
        "45 CFR 164.528</p>"
        f'<div class="cards">{cards}</div>'
        f"{_verification_html(verification)}"
        "<h2>Accesses over time</h2>"
        f"{timeline_svg(report)}"
        "<h2>All disclosures</h2>"
        f"{table}"
        "<h2>Consent and record events</h2>"
        '<p class="meta">Grants, revocations, records added and erased, break-glass openings '
        "and closings, key changes: entries of the same verified hash chain, not disclosures."
        "</p>"
        f"{events_table}"
        "</body></html>\n"
    )
