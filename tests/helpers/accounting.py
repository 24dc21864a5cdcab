"""Hand-made accounting rows and reports, for the report's tests in the terminal (SVG checked as
text) and in the browser (labels measured on screen)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from medledger.audit.accounting import AccountingReport, Disclosure, outcome_text
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
    """A report whose period runs from a day before the first row to a day after the last."""
    times = [r.time for r in rows]
    return AccountingReport(
        patient_id=1,
        period_start=min(times) - timedelta(days=1),
        period_end=max(times) + timedelta(days=1),
        generated_at=max(times),
        chain_id=31337,
        contract=None,
        rows=tuple(rows),
    )
