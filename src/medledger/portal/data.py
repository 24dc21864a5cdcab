"""What each page shows, gathered through the SDK facade of the unlocked patient's session.

These functions run on a worker thread under the portal's SDK lock (``Portal.call``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from medledger.codes import Outcome
from medledger.portal import pages
from medledger.portal.chart import Point, access_chart

if TYPE_CHECKING:
    from medledger.client import AuditEntry, Medledger, Session

ZERO_ADDRESS = "0x" + "00" * 20


def name_of(ml: Medledger, address: str, own: str) -> str:
    if address.lower() == own.lower():
        return "you"
    return ml.provider_name(address) or address


def short(address: str) -> str:
    return address[:8] + "…" + address[-4:]


def records(ml: Medledger, s: Session) -> list[pages.RecordRow]:
    return [
        pages.RecordRow(
            "0x" + r.record_id.hex(),
            r.category,
            name_of(ml, r.author, s.address),
            r.created_at,
            r.erased,
        )
        for r in s.records.timeline()
    ]


def grants(ml: Medledger, s: Session) -> list[pages.GrantRow]:
    now = ml.now()
    return [
        pages.GrantRow(
            g.grantee,
            g.grantee_name or g.grantee,
            tuple(pages.words(c.name) for c in g.categories),
            tuple(pages.words(p.name) for p in g.purposes),
            g.action_names,
            g.valid_until,
            g.valid_until - now,
        )
        for g in s.consent.active()
    ]


def providers(ml: Medledger) -> list[tuple[str, str]]:
    return [(addr, p.name) for addr, p in ml.providers.all()]


def describe_entry(e: AuditEntry) -> str:
    rid = "0x" + e.record_id.hex()
    o = e.outcome
    if o.is_access:
        return f"read record {rid[:10]}…"
    text = {
        Outcome.BREAK_GLASS_OPENED: "opened break-glass",
        Outcome.BREAK_GLASS_CLOSED: "break-glass closed",
        Outcome.CONSENT_GRANTED: "was granted consent",
        Outcome.CONSENT_REPLACED: "consent changed",
        Outcome.CONSENT_REVOKED: "consent revoked",
        Outcome.RECORD_ADDED: f"added record {rid[:10]}…",
        Outcome.RECORD_ERASED: f"record {rid[:10]}… erased",
        Outcome.CONTROLLER_CHANGED: "control of the record moved",
        Outcome.PATIENT_REGISTERED: "registered",
    }.get(o)
    return text or pages.words(o.name)


def log_rows(ml: Medledger, s: Session, entries: tuple[AuditEntry, ...]) -> list[pages.LogRow]:
    rows = []
    for e in entries:
        who = "you" if e.accessor_name == "patient" else e.accessor_name or e.accessor
        if e.accessor.lower() == s.address.lower():
            who = "you"
        rows.append(
            pages.LogRow(
                e.seq,
                e.timestamp,
                who,
                e.accessor,
                describe_entry(e),
                pages.words(e.purpose.name),
                pages.words(e.outcome.name),
                e.allowed,
                e.outcome.is_access,
            )
        )
    return rows


def keep(row: pages.LogRow, outcome: str, who: str) -> bool:
    if who and row.who != who:
        return False
    if outcome == "access":
        return row.access
    if outcome == "allowed":
        return row.access and row.allowed
    if outcome == "denied":
        return not row.allowed
    return True


def chart(rows: list[pages.LogRow], entries: tuple[AuditEntry, ...]) -> str:
    outcome = {e.seq: e.outcome for e in entries}
    points = [
        Point(
            r.who,
            r.time,
            r.allowed,
            "denied"
            if not r.allowed
            else "emergency"
            if outcome[r.seq] is Outcome.ALLOWED_EMERGENCY
            else "read",
            f"{r.who}: {r.what} ({r.outcome}, {r.purpose})",
        )
        for r in rows
        if r.access
    ]
    return access_chart(points)


@dataclass(frozen=True)
class Opening:
    seq: int
    who: str
    time: int


def openings(s: Session, entries: tuple[AuditEntry, ...]) -> list[Opening]:
    return [
        Opening(e.seq, e.accessor_name or e.accessor, e.timestamp)
        for e in entries
        if e.outcome is Outcome.BREAK_GLASS_OPENED
    ]


def alert_text(new: list[Opening], *, link: bool = True) -> str:
    from html import escape

    items = ", ".join(
        f"{escape(o.who)} at {datetime.fromtimestamp(o.time, UTC):%Y-%m-%d %H:%M} UTC" for o in new
    )
    n = len(new)
    return (
        f"<strong>{n} new break-glass opening{'' if n == 1 else 's'} since your last visit</strong>"
        f": {items}." + (' <a href="/emergency">See emergency access</a>' if link else "")
    )
