"""``medledger audit`` (the patient's access log, ``audit sync``, ``audit verify``) and
``medledger export fhir``.

``audit sync`` keeps a persistent SQLite archive of the deployment's events under
``$MEDLEDGER_HOME/audit/``; ``audit verify`` checks a patient's archived log against the
on-chain hash-chain head, so a deleted or edited entry is found and named.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from medledger.cli.exitcodes import ERROR
from medledger.cli.options import PATIENT_ID, path_option, patient_option
from medledger.cli.output import emit, error_payload, note, plain, table, to_jsonable, when
from medledger.cli.state import connection_options, get_state, sdk_options
from medledger.cli.views import entry_row
from medledger.errors import IntegrityError, InvalidInput, StorageError
from medledger.fsutil import atomic_write, check_output_target

if TYPE_CHECKING:
    from medledger.audit.archive import Archive
    from medledger.audit.indexer import SyncResult
    from medledger.audit.verify import VerificationReport
    from medledger.client import Medledger

#: What a verification failure advises (the archive is evidence: keep it before rebuilding).
REBUILD_HINT = (
    "the local archive differs from the chain; keep a copy for investigation, then rebuild it "
    "with `medledger audit sync --rebuild`"
)


def trail_view(trail: Any) -> dict[str, Any]:
    return {
        "patient_id": trail.patient_id,
        "verified": bool(trail.verified),
        "verification": to_jsonable(trail.verification),
        "entries": [entry_row(e) for e in trail.entries],
    }


# --- the archives -------------------------------------------------------------------------------


def synced_archive(ml: Any) -> Any:
    """An in-memory audit archive synced from the deployment's events (start: deploy block)."""
    from medledger.audit.archive import Archive

    archive = Archive.open(":memory:")
    sync_archive(ml, archive)
    return archive


def archive_path(ml: Medledger) -> Path:
    """``$MEDLEDGER_HOME/audit/<chainId>-<MedLedger address>.sqlite``: one file per deployment."""
    from medledger.cli.profiles import home

    address = ml.manifest.contracts["MedLedger"].address
    return home() / "audit" / f"{int(ml.chain.chain_id)}-{address}.sqlite"


@contextmanager
def open_archive(path: Path, *, create: bool = True) -> Iterator[Archive]:
    """The persistent archive at ``path`` (created if ``create``), closed on exit."""
    from medledger.audit.archive import Archive

    if not path.exists():
        if not create:
            raise InvalidInput(
                f"no audit archive yet at {path}",
                hint="run `medledger audit sync` (or drop --no-sync)",
            )
        # The archive lists who accessed which record when: metadata, but private.
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        archive = Archive.open(path)
    except StorageError as exc:
        raise StorageError(
            str(exc), hint="move the file away or run `medledger audit sync --rebuild`"
        ) from exc
    try:
        yield archive
    finally:
        archive.close()


def remove_archive(path: Path) -> bool:
    """Delete an archive file with its SQLite WAL side files; True if there was one."""
    existed = path.exists()
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return existed


def sync_archive(ml: Medledger, archive: Archive) -> SyncResult:
    """Bring ``archive`` up to the chain head (from the deploy block, or where it stopped)."""
    return ml.sync_archive(archive)


def sync_view(result: SyncResult, archive: Archive, path: Path) -> dict[str, Any]:
    """What a sync did, as plain data."""
    reorg = result.reorg
    return {
        "archive": str(path),
        "from_block": result.from_block,
        "to_block": result.to_block,
        "blocks": max(0, result.to_block - result.from_block + 1),
        "events": result.events,
        "last_block": archive.last_block,
        "total_events": archive.count_events(),
        "reorg": None
        if reorg is None
        else {
            "common_ancestor": reorg.common_ancestor,
            "previous_last_block": reorg.previous_last_block,
            "events_removed": reorg.events_removed,
        },
    }


def sync_line(view: dict[str, Any]) -> str:
    """One line for people: what the sync added."""
    if view["blocks"] == 0:
        line = f"audit archive up to date at block {view['last_block']} (no new blocks)"
    else:
        line = (
            f"synced blocks {view['from_block']}..{view['to_block']} "
            f"({_n(view['blocks'], 'block')}, {_n(view['events'], 'event')}; "
            f"{_n(view['total_events'], 'event')} archived) into {view['archive']}"
        )
    reorg = view["reorg"]
    if reorg is not None:
        line += (
            f"; chain reorganised: rolled back to block {reorg['common_ancestor']} "
            f"({_n(reorg['events_removed'], 'event')} removed)"
        )
    return line


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def report_view(report: VerificationReport) -> dict[str, Any]:
    """A VerificationReport as plain data."""
    data: dict[str, Any] = to_jsonable(report)
    data["verified"] = data.pop("ok")
    return data


@contextmanager
def verified_archive(
    ml: Medledger, patient_id: int
) -> Iterator[tuple[Archive, VerificationReport]]:
    """The synced persistent archive, once the patient's log in it verified against the chain
    (reports built from the archive are never built from one that disagrees with the chain)."""

    path = archive_path(ml)
    with open_archive(path) as archive:
        sync_archive(ml, archive)
        report = ml.verify_archive(archive, patient_id)
        if not report.ok:
            raise IntegrityError(
                f"audit archive {path}: patient {patient_id}: {report.problem}", hint=REBUILD_HINT
            )
        yield archive, report


def _fail(message: str, hint: str | None) -> None:
    """A verification verdict of "no": one line on stderr, exit 1 (the data is already out)."""
    from medledger.cli.main import report_error

    report_error(IntegrityError(message, hint=hint), ERROR, False)
    raise click.exceptions.Exit(ERROR)


# --- medledger audit ------------------------------------------------------------------------------


@click.group(
    invoke_without_command=True,
    epilog="""\b
Examples:
  medledger audit --as alice                     # your own trail, as a table
  medledger audit --as alice --json | jq '.entries[] | select(.allowed | not)'
  medledger audit --as alice --csv trail.csv --html trail.html
  medledger audit sync                           # index the chain's events into the archive
  medledger audit verify --patient 1             # archived log vs the on-chain head""",
)
@patient_option()
@path_option("--csv", "csv_file", help="Also write the accounting of disclosures (HIPAA) as CSV.")
@path_option(
    "--html", "html_file", help="Also write the accounting as an HTML report (with timeline)."
)
@sdk_options
@click.pass_context
def audit(
    ctx: click.Context, patient_id: int | None, csv_file: Path | None, html_file: Path | None
) -> None:
    """Every access and denial of a patient's records, in order, with hash-chain verification.

    Exits with code 1 if the hash chain does not match the on-chain head. --csv and --html
    write the accounting of disclosures (45 CFR 164.528), built from the persistent audit
    archive after syncing it and verifying the patient's log in it.

    The subcommands keep that archive: `sync` indexes the chain's events into it, `verify`
    checks a patient's archived log against the on-chain hash-chain head.
    """
    if ctx.invoked_subcommand is not None:
        if patient_id is not None or csv_file is not None or html_file is not None:
            raise InvalidInput(
                f"--patient, --csv and --html belong after `audit {ctx.invoked_subcommand}` "
                "(or to `audit` alone)",
                hint=f"e.g. medledger audit {ctx.invoked_subcommand} --patient 1",
            )
        return
    for target in (csv_file, html_file):
        if target is not None:
            check_output_target(target)
    state = get_state()
    pid = state.own_patient_id() if patient_id is None else patient_id  # no key unlocked
    trail = state.reader().audit.trail(pid)
    view = trail_view(trail)
    if view["verified"] and (csv_file is not None or html_file is not None):
        from medledger.audit import accounting, report_html

        ml = state.medledger()
        with verified_archive(ml, trail.patient_id) as (archive, checked):
            report = accounting.accounting_of_disclosures(
                archive,
                trail.patient_id,
                include_patient_accesses=True,
                now=datetime.fromtimestamp(ml.now(), UTC),  # chain time, not wall
            )
        if csv_file is not None:
            atomic_write(csv_file, accounting.to_csv(report))
            note(f"wrote the accounting of disclosures (CSV) to {csv_file}")
        if html_file is not None:
            atomic_write(html_file, report_html.to_html(report, checked))
            note(f"wrote the accounting of disclosures (HTML) to {html_file}")

    def human(con: Any) -> None:
        rows = [
            (
                r["seq"],
                when(r["time"]),
                r["accessor_name"] or "-",
                r["accessor"],
                r["record_id"] or "-",
                r["purpose"],
                plain(r["outcome"], "green" if r["allowed"] else "red"),
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
            con.print(
                plain("hash chain verified", "green"),
                f": {len(rows)} entries match the on-chain head",
                sep="",
            )
        else:
            problem = view["verification"].get("problem")
            con.print(plain("hash chain NOT verified", "red"), plain(f": {problem}"), sep="")

    emit(state.json, view, human)
    if not view["verified"]:
        raise IntegrityError(
            "the audit trail does not match the on-chain log head",
            hint="the archive or the node is inconsistent; resync the archive",
        )


@audit.command(
    "sync",
    epilog="""\b
Examples:
  medledger audit sync                           # first run: from the deploy block
  medledger audit sync                           # later runs: only the new blocks
  medledger audit sync --rebuild --json          # start over from the deploy block""",
)
@click.option(
    "--rebuild",
    is_flag=True,
    help="Delete the archive first and index everything again from the deploy block.",
)
@connection_options
def sync(rebuild: bool) -> None:
    """Index the deployment's events into the persistent audit archive.

    The archive is $MEDLEDGER_HOME/audit/<chainId>-<MedLedger address>.sqlite. A sync resumes
    where the previous one stopped (pages are written atomically, so an interrupted sync loses
    nothing) and rolls back blocks a chain reorganisation replaced.
    """
    state = get_state()
    ml = state.medledger()
    path = archive_path(ml)
    removed = remove_archive(path) if rebuild else False
    with open_archive(path) as archive:
        result = sync_archive(ml, archive)
        view = {**sync_view(result, archive, path), "rebuilt": removed}

    def human(con: Any) -> None:
        if removed:
            con.print(f"removed the old archive {path}")
        con.print(sync_line(view))

    emit(state.json, view, human)


@audit.command(
    "verify",
    epilog="""\b
Examples:
  medledger audit verify --as alice              # your own log
  medledger audit verify --patient 3 --json
  medledger audit verify --all --no-sync         # every patient, against the archive as is""",
)
@patient_option()
@click.option("--all", "all_patients", is_flag=True, help="Verify every patient the archive knows.")
@click.option(
    "--no-sync",
    is_flag=True,
    help="Verify the archive as it is (against the head at its last synced block).",
)
@sdk_options
def verify(patient_id: int | None, all_patients: bool, no_sync: bool) -> None:
    """Check a patient's archived access log against the on-chain hash-chain head.

    Syncs the archive first (unless --no-sync), recomputes the hash chain over the archived
    entries and compares it with logHead at the archive's last synced block. Exits 0 when it
    matches and 1 when it does not, naming the first missing, altered or extra entry.
    """

    if all_patients and patient_id is not None:
        raise InvalidInput("give --patient ID or --all, not both")
    state = get_state()
    ml = state.medledger()
    if not all_patients and patient_id is None:
        patient_id = state.own_patient_id()
    path = archive_path(ml)
    with open_archive(path, create=not no_sync) as archive:
        synced = None
        if not no_sync:
            synced = sync_view(sync_archive(ml, archive), archive, path)
            if not state.json:
                note(sync_line(synced))
        known = archive.patient_ids()
        if all_patients:
            wanted = known
        else:
            assert patient_id is not None
            if patient_id not in known:
                raise InvalidInput(
                    f"patient {patient_id} is not registered "
                    f"(the archive is synced to block {archive.last_block})",
                    hint="check the id with `medledger record list`, or sync the archive",
                )
            wanted = [patient_id]
        reports = [ml.verify_archive(archive, pid) for pid in wanted]
    bad = [r for r in reports if not r.ok]
    problem = f"patient {bad[0].patient_id}: {bad[0].problem}" if bad else None
    data = {
        "verified": not bad,
        "problem": problem,
        "archive": str(path),
        "sync": synced,
        "patients": [report_view(r) for r in reports],
    }
    if bad:
        data["error"] = error_payload("IntegrityError", str(problem), code=ERROR, hint=REBUILD_HINT)

    def human(con: Any) -> None:
        if not reports:
            con.print("the archive knows no patients yet")
        for r in reports:
            where = f"at block {r.checked_at_block}"
            if r.ok:
                con.print(
                    f"[green]patient {r.patient_id}: verified[/]: {r.count_archived} archived "
                    f"log {'entry' if r.count_archived == 1 else 'entries'}, hash chain matches "
                    f"the on-chain head {where}",
                    markup=True,
                )
                continue
            con.print(
                f"[red]patient {r.patient_id}: NOT verified[/] {where} "
                f"({r.count_archived} archived, {r.count_onchain} on chain)",
                markup=True,
            )
            for p in r.problems:
                con.print(f"  - {p.detail}", markup=False)

    emit(state.json, data, human)
    if problem is not None:
        _fail(f"audit log of {problem}", REBUILD_HINT)


# --- medledger export -----------------------------------------------------------------------------


@click.group()
def export() -> None:
    """Export records in standard formats."""


@export.command(
    epilog="""\b
Example:
  medledger export fhir --patient 1 --out bundle.json"""
)
@click.option("--patient", "patient_id", type=PATIENT_ID, required=True, help="Patient id.")
@path_option("-o", "--out", required=True, help="Where to write the FHIR R4B Bundle (JSON).")
@sdk_options
def fhir(patient_id: int, out: Path) -> None:
    """Export a patient's consents, access log and record provenance as a FHIR Bundle.

    Built from on-chain events only (Consent, AuditEvent, Provenance resources): nothing is
    decrypted, so no key is needed. The bundle is validated before it is written.
    """
    from medledger.audit.fhir import export_fhir_bundle
    from medledger.errors import NotRegistered

    check_output_target(out)
    state = get_state()
    ml = state.medledger()
    if patient_id > ml.contracts.medledger.patient_count():
        raise NotRegistered(
            f"no patient {patient_id} on this deployment",
            hint="patient ids are shown by `medledger register patient`",
        )
    bundle = export_fhir_bundle(
        synced_archive(ml),
        patient_id,
        ml.chain.chain_id,
        ml.manifest.contracts["MedLedger"].address,
        as_of=ml.now(),
    )
    atomic_write(out, json.dumps(bundle, indent=2) + "\n")
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
