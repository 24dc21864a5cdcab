"""``medledger import fhir PATH``: load a legacy EHR's FHIR export as records (docs/fhir.md)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from medledger.cli.output import emit, kv_table
from medledger.cli.state import get_state, read_password, sdk_options

_LIGHT_KDF_HELP = "Tests only: cheap scrypt for the keystores of --register patients."


@click.group("import")
def import_() -> None:
    """Import data from other systems."""


@import_.command(
    "fhir",
    epilog="""\b
Examples:
  medledger import fhir ./export/ --as clinic --patients mrn-map.json
  medledger import fhir bundle.json --as clinic --patients map.csv --strict --json
  medledger import fhir ./synthea/ --as clinic --register      # test deployments only""",
)
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--patients",
    "mapping",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Mapping file: FHIR Patient id -> medledger patient id (JSON object or CSV).",
)
@click.option(
    "--register",
    is_flag=True,
    help="Register a new patient per unmapped FHIR Patient and grant yourself write "
    "(test deployments; keys saved as keystores fhir-<patient id>).",
)
@click.option(
    "--journal",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Import journal (idempotence and resume; default under $MEDLEDGER_HOME/imports).",
)
@click.option("--strict", is_flag=True, help="Stop at the first bad input; import nothing.")
@click.option(
    "--batch", "batch_size", type=click.IntRange(1, 256), default=128, show_default=True,
    help="Records per registration transaction.",
)  # fmt: skip
@click.option("--insecure-light-kdf", "light", is_flag=True, hidden=True, help=_LIGHT_KDF_HELP)
@sdk_options
def fhir(
    path: Path,
    mapping: Path | None,
    register: bool,
    journal: Path | None,
    strict: bool,
    batch_size: int,
    light: bool,
) -> None:
    """Import a FHIR R4 export (Bulk Data NDJSON directory or Bundle JSON) as records.

    One record per patient x category x encounter, authored by you (--as, a provider with
    write consent), registered in batches. Re-running adds nothing; after a kill it resumes.
    Bad input is reported with file and line and skipped (--strict: stop).
    """
    from medledger.cli.profiles import home
    from medledger.errors import InvalidInput
    from medledger.fhir.importer import Importer
    from medledger.fhir.journal import Journal
    from medledger.fhir.patients import PatientMap, Registrar
    from medledger.fhir.reader import Source

    state = get_state()
    if mapping is None and not register:
        raise InvalidInput(
            "say which medledger patient each FHIR Patient is",
            hint="pass --patients FILE (FHIR id -> patient id), or --register on a test chain",
        )
    ml = state.medledger()
    session = state.session()
    scope = {
        "chain_id": ml.chain.chain_id,
        "contract": ml.deployment.medledger.address,
        "author": session.address,
    }
    stem = f"{scope['chain_id']}-{str(scope['contract'])[2:10].lower()}-{session.address[2:10]}"
    journal_path = journal or home() / "imports" / f"{stem}.journal"
    patients = PatientMap.load(mapping or home() / "imports" / f"{stem}-patients.json")
    registrar = None
    if register:
        password = read_password("Password for the new patients' keystores", confirm=True)
        registrar = Registrar(ml, session.address, keep=_keystore_saver(password, light))
    show_bar = not state.json and sys.stderr.isatty()
    with Journal.open(journal_path, scope) as jr:
        importer = Importer(
            session, Source(path), jr, patients, registrar=registrar, strict=strict,
            batch_size=batch_size,
        )  # fmt: skip
        summary = _run_with_bar(importer) if show_bar else importer.run()
    data = summary.as_dict()
    data["journal"] = str(journal_path)
    data["patients_file"] = str(patients.path)

    def human(con: Any) -> None:
        shown = {k: v for k, v in data.items() if k not in ("problem_list", "problems")}
        shown.update({f"problems: {k}": v for k, v in data["problems"].items() if v})
        con.print(kv_table(shown, title="FHIR import"))
        for p in data["problem_list"]:
            where = f"{p['file']}:{p['line']}" + (
                f" (entry {p['entry']})" if p["entry"] is not None else ""
            )
            con.print(f"  {p['kind']}: {where}: {p['message']}", markup=False, highlight=False)

    emit(state.json, data, human)


def _keystore_saver(password: str, light: bool) -> Any:
    from medledger.cli.state import key_path
    from medledger.crypto import Keystore, ScryptParams

    def keep(fhir_id: str, party: Any) -> None:
        del fhir_id  # never in a file name: the keystore is named by address
        path = key_path(f"fhir-{party.address[2:14].lower()}")
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        scrypt = ScryptParams.LIGHT if light else ScryptParams.DEFAULT
        Keystore.create(password, party.account, identity_key=party.identity, scrypt=scrypt).save(
            path
        )

    return keep


def _run_with_bar(importer: Any) -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from medledger.cli.output import console

    with Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} resources/s", markup=False),
        TimeElapsedColumn(),
        "ETA",
        TimeRemainingColumn(),
        console=console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("importing", total=None, rate="-")

        def progress(done: int, total: int) -> None:
            elapsed = bar.tasks[0].elapsed or 0.0
            rate = f"{done / elapsed:.0f}" if elapsed > 0 else "-"
            bar.update(task, completed=done, total=total, rate=rate)

        importer.progress = progress
        return importer.run()
