"""HIPAA accounting of disclosures (45 CFR 164.528) from the audit archive.

For one patient and a period (default: the six years before now), every access of the patient's
records by someone else: when, by whom (the provider's registered name at the time), what (record
category and id) and why (purpose), with break-glass accesses and denied attempts flagged. The
patient's own reads (outcome 1) are not disclosures and are left out unless asked for.

Only reads are disclosures: allowed reads by others (outcomes 0 and 2) are counted; denied reads
and denied writes (16..30) are listed and flagged, never counted. The operation entries of the v2
hash chain (registration, grants, revocations, records added and erased, break-glass opened and
closed, controller changes: outcomes 3..11) are not disclosures either: they are listed
separately as "consent and record events" (:attr:`AccountingReport.events`).

The rule itself exempts disclosures for treatment, payment and operations from the accounting; we
list them anyway, because on this system they are recorded just as reliably and patients ask for
them. Renderers: rows (dataclasses) for a CLI table, CSV, JSON; HTML lives in ``report_html``.
"""

from __future__ import annotations

import bisect
import csv
import io
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from eth_utils.address import to_checksum_address

from medledger.audit.archive import Archive, ChainEntry, ProviderEvent
from medledger.codes import (
    OUTCOME_FIRST_DENIAL,
    OUTCOME_WRITE_DENIAL_OFFSET,
    BreakGlassReason,
    Category,
    Outcome,
    Purpose,
)
from medledger.errors import InvalidInput

#: Retention the rule asks for: six years.
RETENTION_YEARS = 6

OUTCOME_TEXT: dict[int, str] = {
    0: "allowed by consent",
    1: "allowed: the patient",
    2: "allowed: break-glass emergency access",
    3: "break-glass emergency access opened",
    4: "break-glass emergency access closed",
    5: "consent granted",
    6: "consent replaced",
    7: "consent revoked",
    8: "record added",
    9: "record erased",
    10: "controller changed",
    11: "patient registered",
    16: "denied: no consent",
    17: "denied: consent expired",
    18: "denied: consent not yet valid",
    19: "denied: category not granted",
    20: "denied: purpose not granted",
    21: "denied: action not granted",
    22: "denied: provider suspended",
    23: "denied: record erased",
    24: "write denied: no consent",
    25: "write denied: consent expired",
    26: "write denied: consent not yet valid",
    27: "write denied: category not granted",
    29: "write denied: action not granted",
    30: "write denied: provider suspended",
}
#: Outcomes that are disclosures: reads allowed by consent or by break-glass.
DISCLOSURE_OUTCOMES = frozenset({Outcome.ALLOWED_CONSENT.value, Outcome.ALLOWED_EMERGENCY.value})


def outcome_text(code: int) -> str:
    """Human description of an access outcome code."""
    return OUTCOME_TEXT.get(code, f"{'allowed' if code < 16 else 'denied'} (code {code})")


def _name(enum: type[Category] | type[Purpose] | type[BreakGlassReason], code: int) -> str:
    try:
        return enum(code).name.lower()
    except ValueError:
        return f"unknown({code})"


@dataclass(frozen=True)
class Disclosure:
    """One row of the accounting: an access (or attempt) by someone other than the patient."""

    seq: int
    time: datetime
    recipient: str
    recipient_name: str
    record_id: str
    category: str | None
    purpose: str
    outcome: int
    outcome_text: str
    break_glass: bool
    denied: bool
    description: str
    tx_hash: str
    block_number: int


@dataclass(frozen=True)
class ChainEvent:
    """A consent or record event of the patient's chain (an operation, not a disclosure)."""

    seq: int
    time: datetime
    actor: str
    actor_name: str
    kind: str
    outcome: int
    outcome_text: str
    description: str
    tx_hash: str
    block_number: int


@dataclass(frozen=True)
class AccountingReport:
    """The accounting of disclosures for one patient and period.

    ``rows``: reads by others (allowed ones are disclosures; denied reads and denied writes are
    flagged); ``events``: the consent and record events of the same period, not disclosures.
    """

    patient_id: int
    period_start: datetime
    period_end: datetime
    generated_at: datetime
    chain_id: int | None
    contract: str | None
    rows: tuple[Disclosure, ...]
    events: tuple[ChainEvent, ...] = ()

    @property
    def recipients(self) -> dict[str, str]:
        """Distinct recipient addresses in order of first disclosure, each with its most recent
        name (a provider renamed during the period keeps one lane in the timeline)."""
        out: dict[str, str] = {}
        for r in self.rows:
            out.setdefault(r.recipient, r.recipient)
            out[r.recipient] = r.recipient_name or r.recipient
        return out

    def summary(self) -> dict[str, int]:
        """Counts for the report header."""
        return {
            "disclosures": sum(r.outcome in DISCLOSURE_OUTCOMES for r in self.rows),
            "allowed": sum(not r.denied for r in self.rows),
            "denied": sum(r.denied for r in self.rows),
            "break_glass": sum(r.break_glass for r in self.rows),
            # 45 CFR 164.528: recipients of disclosures only (not the patient's own reads, not
            # the break-glass opening, not denied attempts)
            "recipients": len({r.recipient for r in self.rows if r.outcome in DISCLOSURE_OUTCOMES}),
            "consent_and_record_events": len(self.events),
        }


def six_years_before(moment: datetime) -> datetime:
    """``moment`` minus six calendar years (29 February maps to 28 February)."""
    try:
        return moment.replace(year=moment.year - RETENTION_YEARS)
    except ValueError:
        return moment.replace(year=moment.year - RETENTION_YEARS, day=28)


class _Names:
    """Provider names as registered at a given block (names can change with ``updateProvider``)."""

    def __init__(self, events: list[ProviderEvent]) -> None:
        self._hist: dict[str, tuple[list[int], list[str]]] = {}
        for ev in events:
            if ev.name is None:
                continue
            blocks, names = self._hist.setdefault(ev.provider, ([], []))
            blocks.append(ev.block_number)
            names.append(ev.name)

    def at(self, provider: str, block: int) -> str:
        hist = self._hist.get(provider)
        if hist is None:
            return ""
        blocks, names = hist
        i = bisect.bisect_right(blocks, block) - 1
        return names[max(i, 0)]  # before registration: the first known name


def _utc(value: datetime | None, what: str) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise InvalidInput(f"{what} must be timezone-aware (e.g. datetime.now(UTC))")
    return value.astimezone(UTC)


def accounting_of_disclosures(
    archive: Archive,
    patient_id: int,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    include_patient_accesses: bool = False,
    now: datetime | None = None,
) -> AccountingReport:
    """Build the accounting for ``patient_id`` over ``[start, end]`` (UTC, aware datetimes).

    Defaults: ``end`` = ``now`` (default: current time; the last synced block's time if that is
    later), ``start`` = six years before ``end``.
    """
    if patient_id < 1:
        raise InvalidInput(f"patient id must be >= 1, got {patient_id}")
    generated = _utc(now, "now") or datetime.now(UTC)
    chain_time = archive.last_block_time
    # A dev chain's clock can run ahead of the wall clock (time travel): never cut off events
    # the archive already holds when no end was asked for.
    default_end = generated
    if chain_time is not None and chain_time > generated.timestamp():
        default_end = datetime.fromtimestamp(chain_time, UTC)
    period_end = _utc(end, "end") or default_end
    period_start = _utc(start, "start") or six_years_before(period_end)
    if period_start > period_end:
        raise InvalidInput("the period starts after it ends")
    lo, hi = int(period_start.timestamp()), int(period_end.timestamp())

    names = _Names(archive.provider_events())
    categories = {r.record_id: r.category for r in archive.records(patient_id)}
    describe = _Describer(archive, patient_id, categories)
    rows: list[Disclosure] = []
    events: list[ChainEvent] = []
    for e in archive.chain_entries(patient_id):
        describe.track(e)
        if not lo <= e.timestamp <= hi:
            continue
        if e.event != "AccessRecorded":
            name = names.at(e.actor, e.block_number) or describe.party(e.actor)
            events.append(
                ChainEvent(
                    seq=e.seq,
                    time=datetime.fromtimestamp(e.timestamp, UTC),
                    actor=e.actor,
                    actor_name=name,
                    kind=e.event,
                    outcome=e.outcome,
                    outcome_text=outcome_text(e.outcome),
                    description=describe.operation(e),
                    tx_hash=e.tx_hash,
                    block_number=e.block_number,
                )
            )
            continue
        if e.outcome == Outcome.ALLOWED_PATIENT and not include_patient_accesses:
            continue
        cat_code = categories.get(e.subject)
        category = _name(Category, cat_code) if cat_code is not None else None
        recipient_name = names.at(e.actor, e.block_number)
        if e.outcome == Outcome.ALLOWED_PATIENT:
            description = f"the patient read {category or 'a'} record {e.subject}"
            recipient_name = recipient_name or "the patient"
        elif e.outcome >= OUTCOME_FIRST_DENIAL + OUTCOME_WRITE_DENIAL_OFFSET:
            description = f"attempt to add record {e.subject}"
        else:
            description = f"{category or 'unknown category'} record {e.subject}"
        rows.append(
            Disclosure(
                seq=e.seq,
                time=datetime.fromtimestamp(e.timestamp, UTC),
                recipient=e.actor,
                recipient_name=recipient_name,
                record_id=e.subject,
                category=category,
                purpose=_name(Purpose, e.purpose),
                outcome=e.outcome,
                outcome_text=outcome_text(e.outcome),
                break_glass=e.outcome == Outcome.ALLOWED_EMERGENCY,
                denied=e.outcome >= OUTCOME_FIRST_DENIAL,
                description=description,
                tx_hash=e.tx_hash,
                block_number=e.block_number,
            )
        )
    return AccountingReport(
        patient_id=patient_id,
        period_start=period_start,
        period_end=period_end,
        generated_at=generated,
        chain_id=archive.chain_id,
        contract=archive.medledger_address,
        rows=tuple(rows),
        events=tuple(events),
    )


def _masked(bits: int, enum: type[Category] | type[Purpose]) -> str:
    return ", ".join(m.name.lower() for m in enum if bits & (1 << m.value)) or "none"


class _Describer:
    """Words for operation entries; follows the controller through the chain (entry 0 and
    controller changes) to tell the patient from others."""

    def __init__(self, archive: Archive, patient_id: int, categories: dict[str, int]) -> None:
        self.categories = categories
        self.controllers: set[str] = set()
        self.controller: str | None = None
        self.reasons = {
            (bg.responder, bg.block_number): bg for bg in archive.break_glass_events(patient_id)
        }

    def track(self, e: ChainEntry) -> None:
        if e.event in ("PatientRegistered", "ControllerChanged"):
            self.controller = e.actor
            self.controllers.add(e.actor)

    def party(self, address: str) -> str:
        return "the patient" if address in self.controllers else ""

    def operation(self, e: ChainEntry) -> str:
        word = int(e.subject, 16)
        other = to_checksum_address("0x" + e.subject[-40:])
        if e.outcome == Outcome.BREAK_GLASS_OPENED:
            bg = self.reasons.get((e.actor, e.block_number))
            if bg is None:
                return "emergency access to the patient's emergency categories opened"
            return (
                f"emergency access opened (reason: {_name(BreakGlassReason, bg.reason)}; "
                f"categories: {_masked(bg.categories, Category)})"
            )
        if e.outcome == Outcome.BREAK_GLASS_CLOSED:
            by = "the responder" if other == e.actor else (self.party(other) or other)
            return f"emergency access closed by {by}"
        if e.outcome in (Outcome.CONSENT_GRANTED, Outcome.CONSENT_REPLACED):
            verb = "granted" if e.outcome == Outcome.CONSENT_GRANTED else "replaced"
            actions = " and ".join(a for a, bit in (("read", 1), ("write", 2)) if word >> 16 & bit)
            until = datetime.fromtimestamp((word >> 80) & (2**40 - 1), UTC)
            return (
                f"consent {verb}: {actions or 'no action'} of "
                f"{_masked(word & 0xFFFF, Category)} for {_masked(word >> 24 & 0xFFFF, Purpose)}, "
                f"until {until:%Y-%m-%d %H:%M} UTC"
            )
        if e.outcome == Outcome.CONSENT_REVOKED:
            return "consent revoked"
        if e.outcome == Outcome.RECORD_ADDED:
            cat = self.categories.get(e.subject)
            return f"{_name(Category, cat) if cat is not None else 'a'} record {e.subject} added"
        if e.outcome == Outcome.RECORD_ERASED:
            return f"record {e.subject} erased"
        if e.outcome == Outcome.CONTROLLER_CHANGED:
            return f"patient's key (controller) changed from {other}"
        if e.outcome == Outcome.PATIENT_REGISTERED:
            return "patient registered"
        return outcome_text(e.outcome)


CSV_COLUMNS: tuple[str, ...] = (
    "date",
    "recipient",
    "recipient_address",
    "category",
    "record_id",
    "purpose",
    "outcome",
    "outcome_code",
    "break_glass",
    "denied",
    "description",
    "seq",
    "tx_hash",
)


#: First characters that make a spreadsheet treat a cell as a formula (OWASP CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A CSV cell that a spreadsheet shows as text: a string that could start a formula (a
    provider name like ``=HYPERLINK(...)`` comes from the chain) gets a leading ``'``."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def to_csv(report: AccountingReport) -> str:
    """One CSV line per disclosure, with a header line (columns: :data:`CSV_COLUMNS`).

    Text cells go through :func:`csv_cell`: chain data is never a spreadsheet formula.
    """
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in report.rows:
        w.writerow(
            csv_cell(v)
            for v in [
                r.time.isoformat(),
                r.recipient_name,
                r.recipient,
                r.category or "",
                r.record_id,
                r.purpose,
                r.outcome_text,
                r.outcome,
                "yes" if r.break_glass else "no",
                "yes" if r.denied else "no",
                r.description,
                r.seq,
                r.tx_hash,
            ]
        )
    return buf.getvalue()


def to_dict(report: AccountingReport) -> dict[str, Any]:
    """JSON-able form of the report."""

    def row(r: Disclosure | ChainEvent) -> dict[str, Any]:
        d = asdict(r)
        d["time"] = r.time.isoformat()
        return d

    return {
        "standard": "45 CFR 164.528 accounting of disclosures",
        "patient_id": report.patient_id,
        "chain_id": report.chain_id,
        "contract": report.contract,
        "period": {"start": report.period_start.isoformat(), "end": report.period_end.isoformat()},
        "generated_at": report.generated_at.isoformat(),
        "summary": report.summary(),
        "disclosures": [row(r) for r in report.rows],
        "consent_and_record_events": [row(e) for e in report.events],
    }


def to_json(report: AccountingReport, *, indent: int | None = 2) -> str:
    """The report as JSON text (see :func:`to_dict`)."""
    return json.dumps(to_dict(report), indent=indent)


def table_rows(report: AccountingReport) -> list[tuple[str, ...]]:
    """Short string rows for a terminal table: date, recipient, data, purpose, outcome, flags."""
    out: list[tuple[str, ...]] = []
    for r in report.rows:
        flags = " ".join(
            f for f, on in (("BREAK-GLASS", r.break_glass), ("DENIED", r.denied)) if on
        )
        out.append(
            (
                r.time.strftime("%Y-%m-%d %H:%M:%S"),
                r.recipient_name or r.recipient,
                f"{r.category} {r.record_id[:10]}…" if r.category else f"{r.record_id[:10]}…",
                r.purpose,
                r.outcome_text,
                flags,
            )
        )
    return out
