"""``medledger audit`` (the patient's access log) and ``medledger export fhir``."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from medledger.cli.output import emit, table, to_jsonable, when
from medledger.cli.state import connection_options, get_state, sdk_options


def entry_row(entry: Any) -> dict[str, Any]:
    """One audit entry as plain data (names for codes, so scripts need no code table)."""
    from medledger.codes import Outcome, Purpose

    outcome = Outcome(int(entry.outcome))
    rid = bytes(entry.record_id)
    return {
        "seq": int(entry.seq),
        "time": int(entry.timestamp),
        "accessor": str(entry.accessor),
        "accessor_name": getattr(entry, "accessor_name", None),
        "record_id": None if not any(rid) else "0x" + rid.hex(),
        "purpose": Purpose(int(entry.purpose)).name.lower(),
        "outcome": outcome.name.lower(),
        "allowed": outcome.allowed,
        "tx_hash": str(entry.tx_hash),
    }


def trail_view(trail: Any) -> dict[str, Any]:
    return {
        "patient_id": trail.patient_id,
        "verified": bool(trail.verified),
        "verification": to_jsonable(trail.verification),
        "entries": [entry_row(e) for e in trail.entries],
    }


def synced_archive(ml: Any) -> Any:
    """An in-memory audit archive synced from the deployment's events (start: deploy block)."""
    from medledger.audit.archive import Archive
    from medledger.audit.indexer import AuditIndexer

    manifest = ml.manifest
    anchors = manifest.contracts.get("AnchorRegistry")
    archive = Archive.open(":memory:")
    AuditIndexer(
        ml.chain.w3,
        archive,
        manifest.contracts["MedLedger"].address,
        anchors.address if anchors else None,
        start_block=manifest.deploy_block,
    ).sync()
    return archive


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@click.command(
    epilog="""\b
Examples:
  medledger audit --as alice                     # your own trail, as a table
  medledger audit --as alice --json | jq '.entries[] | select(.allowed | not)'
  medledger audit --as alice --csv trail.csv --html trail.html"""
)
@click.option(
    "--patient",
    "patient_id",
    type=int,
    default=None,
    help="Patient id (default: the --as account's own).",
)
@click.option(
    "--csv",
    "csv_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the accounting of disclosures (HIPAA) as CSV.",
)
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the accounting as an HTML report (with timeline).",
)
@sdk_options
def audit(patient_id: int | None, csv_file: Path | None, html_file: Path | None) -> None:
    """Every access and denial of a patient's records, in order, with hash-chain verification.

    Exits with code 1 if the hash chain does not match the on-chain head. --csv and --html
    write the accounting of disclosures (45 CFR 164.528) built from the chain's events.
    """
    state = get_state()
    session = state.session()
    trail = session.audit_trail(patient_id)
    view = trail_view(trail)
    if csv_file is not None or html_file is not None:
        from medledger.audit import accounting, report_html

        report = accounting.accounting_of_disclosures(
            synced_archive(state.medledger()),
            trail.patient_id,
            include_patient_accesses=True,
            now=datetime.fromtimestamp(state.medledger().now(), UTC),  # chain time, not wall
        )
        if csv_file is not None:
            _atomic_write(csv_file, accounting.to_csv(report))
        if html_file is not None:
            _atomic_write(html_file, report_html.to_html(report, trail.verification))

    def human(con: Any) -> None:
        rows = [
            (
                r["seq"],
                when(r["time"]),
                r["accessor_name"] or "-",
                r["accessor"],
                r["record_id"] or "-",
                r["purpose"],
                ("[green]" if r["allowed"] else "[red]") + r["outcome"] + "[/]",
            )
            for r in view["entries"]
        ]
        con.print(
            table(
                ["#", "time", "who", "accessor", "record", "purpose", "outcome"],
                rows,
                title=f"access log of patient {view['patient_id']}",
            )
        )
        if view["verified"]:
            con.print(f"[green]hash chain verified[/]: {len(rows)} entries match the on-chain head")
        else:
            problem = view["verification"].get("problem")
            con.print(f"[red]hash chain NOT verified[/]: {problem}", markup=True)

    emit(state.json, view, human)
    if not view["verified"]:
        from medledger.errors import IntegrityError

        raise IntegrityError(
            "the audit trail does not match the on-chain log head",
            hint="the archive or the node is inconsistent; resync the archive",
        )


@click.group()
def export() -> None:
    """Export records in standard formats."""


@export.command(
    epilog="""\b
Example:
  medledger export fhir --patient 1 --out bundle.json"""
)
@click.option("--patient", "patient_id", type=int, required=True, help="Patient id.")
@click.option(
    "-o",
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the FHIR R4B Bundle (JSON).",
)
@connection_options
def fhir(patient_id: int, out: Path) -> None:
    """Export a patient's consents, access log and record provenance as a FHIR Bundle.

    Built from on-chain events only (Consent, AuditEvent, Provenance resources): nothing is
    decrypted, so no key is needed. The bundle is validated before it is written.
    """
    from medledger.audit.fhir import export_fhir_bundle

    state = get_state()
    ml = state.medledger()
    bundle = export_fhir_bundle(
        synced_archive(ml),
        patient_id,
        ml.chain.chain_id,
        ml.manifest.contracts["MedLedger"].address,
        as_of=ml.now(),
    )
    _atomic_write(out, json.dumps(bundle, indent=2) + "\n")
    kinds: dict[str, int] = {}
    for entry in bundle.get("entry", []):
        kind = entry["resource"]["resourceType"]
        kinds[kind] = kinds.get(kind, 0) + 1
    data = {"patient_id": patient_id, "out": str(out), "resources": kinds}
    emit(
        state.json,
        data,
        lambda con: con.print(
            f"wrote FHIR bundle to {out}: " + ", ".join(f"{n} {k}" for k, n in kinds.items())
        ),
    )
