"""``medledger audit`` (the patient's access log) and ``medledger export fhir``."""

from __future__ import annotations

import csv
import html
import io
import os
from pathlib import Path
from typing import Any

import click

from medledger.cli.output import emit, table, to_jsonable, when
from medledger.cli.state import get_state, sdk_options

COLUMNS = ("seq", "time", "accessor", "record_id", "purpose", "outcome", "allowed")


def entry_row(entry: Any) -> dict[str, Any]:
    """One audit entry as plain data (names for codes, so CSV readers need no code table)."""
    from medledger.codes import Outcome, Purpose

    outcome = Outcome(int(entry.outcome))
    rid = to_jsonable(entry.record_id)
    return {
        "seq": int(entry.seq),
        "time": int(entry.timestamp),
        "accessor": str(entry.accessor),
        "record_id": None if rid is None or int(str(rid), 16) == 0 else rid,
        "purpose": Purpose(int(entry.purpose)).name.lower(),
        "outcome": outcome.name.lower(),
        "allowed": outcome.allowed,
    }


def trail_view(trail: Any, patient_id: int | None) -> dict[str, Any]:
    return {
        "patient_id": patient_id if patient_id is not None else getattr(trail, "patient_id", None),
        "verified": bool(trail.verified),
        "entries": [entry_row(e) for e in trail.entries],
    }


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def to_csv(view: dict[str, Any]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in view["entries"]:
        writer.writerow({**row, "time": when(row["time"]), "record_id": row["record_id"] or ""})
    return buf.getvalue()


def to_html(view: dict[str, Any]) -> str:
    head = "".join(f"<th>{c}</th>" for c in COLUMNS)
    rows = []
    for row in view["entries"]:
        cells = {**row, "time": when(row["time"]), "record_id": row["record_id"] or "-"}
        css = "" if row["allowed"] else ' class="denied"'
        rows.append(f"<tr{css}>" + "".join(
            f"<td>{html.escape(str(cells[c]))}</td>" for c in COLUMNS) + "</tr>")
    status = "verified against the on-chain head" if view["verified"] else "NOT VERIFIED"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Access log, patient {view['patient_id']}</title>
<style>body{{font-family:sans-serif}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;font-family:monospace}}.denied{{background:#fde2e2}}
</style></head><body>
<h1>Access log of patient {view['patient_id']}</h1>
<p>{len(view['entries'])} entries; hash chain {status}.</p>
<table><thead><tr>{head}</tr></thead><tbody>
{chr(10).join(rows)}
</tbody></table></body></html>
"""


@click.command(epilog="""\b
Examples:
  medledger audit --as alice                     # your own trail, as a table
  medledger audit --as alice --json | jq '.entries[] | select(.allowed | not)'
  medledger audit --as alice --csv trail.csv --html trail.html""")
@click.option("--patient", "patient_id", type=int, default=None,
              help="Patient id (default: the --as account's own).")
@click.option("--csv", "csv_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the trail as CSV.")
@click.option("--html", "html_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Also write the trail as an HTML report.")
@sdk_options
def audit(patient_id: int | None, csv_file: Path | None, html_file: Path | None) -> None:
    """Every access and denial of a patient's records, in order, with hash-chain verification.

    Exits with code 1 if the hash chain does not match the on-chain head.
    """
    state = get_state()
    trail = state.session().audit_trail(patient_id)
    view = trail_view(trail, patient_id)
    if csv_file is not None:
        _atomic_write(csv_file, to_csv(view))
    if html_file is not None:
        _atomic_write(html_file, to_html(view))

    def human(con: Any) -> None:
        rows = [
            (r["seq"], when(r["time"]), r["accessor"], r["record_id"] or "-", r["purpose"],
             ("[green]" if r["allowed"] else "[red]") + r["outcome"] + "[/]")
            for r in view["entries"]
        ]
        con.print(table(["#", "time", "accessor", "record", "purpose", "outcome"], rows,
                        title=f"access log of patient {view['patient_id']}"))
        if view["verified"]:
            con.print(f"[green]hash chain verified[/]: {len(rows)} entries match the on-chain head")
        else:
            con.print("[red]hash chain NOT verified[/]: the log does not match the on-chain head")

    emit(state.json, view, human)
    if not view["verified"]:
        from medledger.errors import IntegrityError

        raise IntegrityError("the audit trail does not match the on-chain log head",
                             hint="the archive or the node is inconsistent; resync the archive")


@click.group()
def export() -> None:
    """Export records in standard formats."""


@export.command(epilog="""\b
Example:
  medledger export fhir --as alice --patient 1 --out bundle.json""")
@click.option("--patient", "patient_id", type=int, required=True, help="Patient id.")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the FHIR R4 Bundle (JSON).")
@click.option("-p", "--purpose", default="patient_request", show_default=True,
              help="Purpose logged for each read.")
@sdk_options
def fhir(patient_id: int, out: Path, purpose: str) -> None:
    """Decrypt every readable record of a patient into one FHIR Bundle (each read is logged)."""
    from medledger.audit.fhir import export_fhir_bundle

    state = get_state()
    bundle = export_fhir_bundle(state.session(), patient_id, purpose=purpose)
    text = bundle if isinstance(bundle, str) else bundle.json() if hasattr(bundle, "json") \
        else __import__("json").dumps(bundle, indent=2)
    _atomic_write(out, text)
    entries = len(getattr(bundle, "entry", None) or [])
    data = {"patient_id": patient_id, "out": str(out), "entries": entries}
    emit(state.json, data, lambda con: con.print(f"wrote FHIR bundle to {out}"))
