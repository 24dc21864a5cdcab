"""Records: ``record add|list|get`` and ``erase``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, BinaryIO

import click

from medledger.cli.options import PATIENT_ID, path_option, purpose_option
from medledger.cli.output import emit, kv_table, table, to_jsonable, when
from medledger.cli.state import confirm_irreversible, get_state, sdk_options

#: Files at least this large get a progress bar (on a terminal, without --json).
PROGRESS_THRESHOLD = 4 * 1024 * 1024


def record_view(rec: Any) -> dict[str, Any]:
    """The fields of a RecordInfo people and scripts care about."""
    return {
        "record_id": to_jsonable(rec.record_id),
        "cid": str(rec.cid),
        "category": to_jsonable(rec.category),
        "author": rec.author,
        "created_at": getattr(rec, "created_at", None),
        "erased": bool(getattr(rec, "erased", False)),
        "patient_id": getattr(rec, "patient_id", None),
        "size": getattr(rec, "size", None),
        "tx_hash": None if rec.tx is None else str(rec.tx.tx_hash),
        "gas_used": None if rec.tx is None else int(rec.tx.gas_used),
    }


@click.group()
def record() -> None:
    """Add, list and read encrypted records."""


@record.command(
    "add",
    epilog="""\b
Examples:
  medledger record add --as clinic --patient 1 --category labs a1c.json
  cat scan.dcm | medledger record add --as clinic --patient 1 -c imaging -""",
)
@click.argument("file", type=click.Path(allow_dash=True, dir_okay=False, path_type=str))
@click.option("--patient", "patient_id", type=PATIENT_ID, required=True, help="Patient id.")
@click.option("-c", "--category", required=True, help="Record category (labs, allergies, ...).")
@sdk_options
def add(file: str, patient_id: int, category: str) -> None:
    """Encrypt FILE (or - for stdin), store it and register it on-chain for a patient."""
    from medledger.codes import category as parse_category

    parse_category(category)  # fail with exit 2 before unlocking keys or reading large input
    state = get_state()
    session = state.session()
    if file == "-":
        data: bytes | BinaryIO = sys.stdin.buffer.read()
        rec = session.records.add(patient_id, data, category=category)
    else:
        path = Path(file)
        if not path.is_file():
            from medledger.errors import InvalidInput

            raise InvalidInput(f"no such file: {file}")
        size = path.stat().st_size
        with path.open("rb") as fh:
            if size >= PROGRESS_THRESHOLD and not state.json and sys.stderr.isatty():
                rec = _add_with_progress(session, patient_id, fh, category, size)
            else:
                rec = session.records.add(patient_id, fh, category=category)
    data_out = record_view(rec)
    emit(
        state.json,
        data_out,
        lambda con: con.print(
            kv_table({**data_out, "created_at": when(data_out["created_at"])}, title="record added")
        ),
    )


def _add_with_progress(
    session: Any, patient_id: int, fh: BinaryIO, category: str, size: int
) -> Any:
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    from medledger.cli.output import console

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("encrypting + storing", total=size)

        def progress(done: int) -> None:
            bar.update(task, completed=done)

        return session.records.add(patient_id, fh, category=category, progress=progress)


@record.command("list")
@click.option(
    "--patient",
    "patient_id",
    type=PATIENT_ID,
    default=None,
    help="Patient id (default: your own, as the patient).",
)
@sdk_options
def list_(patient_id: int | None) -> None:
    """The patient's longitudinal timeline (metadata from the chain; nothing is decrypted)."""
    state = get_state()
    pid = state.own_patient_id() if patient_id is None else patient_id  # no key unlocked
    records = state.reader().records.timeline(pid)
    rows = [record_view(r) for r in records]

    def human(con: Any) -> None:
        con.print(
            table(
                ["record id", "category", "created", "author", "cid", "erased"],
                [
                    (
                        r["record_id"],
                        r["category"],
                        when(r["created_at"]),
                        r["author"],
                        r["cid"],
                        r["erased"],
                    )
                    for r in rows
                ],
                title=f"{len(rows)} record(s)",
            )
        )

    emit(state.json, rows, human)


@record.command(
    "get",
    epilog="""\b
Examples:
  medledger record get 0x5c1f...e2 --as specialist --purpose treatment --out a1c.json
  medledger record get 0x5c1f...e2 --as alice | jq .
  medledger record get --patient 2 0x5c1f...e2 --as clinic""",
)
@click.argument("record_id")
@purpose_option("Why you read it (logged on-chain).")
@path_option("-o", "--out", help="Write the record here (default: stdout).")
@click.option(
    "--patient",
    "patient_id",
    type=PATIENT_ID,
    default=None,
    help="The record's patient (record ids are per patient; default: the one patient that "
    "registered this id, or your own).",
)
@sdk_options
def get(record_id: str, purpose: str, out: Path | None, patient_id: int | None) -> None:
    """Read a record: the access is logged on-chain first, then fetched, verified, decrypted.

    A refusal exits with code 3 (and the denial is in the patient's audit trail).
    """
    from medledger.cli import resolve
    from medledger.codes import purpose as parse_purpose

    rid = resolve.record_id(record_id)
    parse_purpose(purpose)
    if out is not None:
        from medledger.fsutil import check_output_target

        check_output_target(out)  # before the read is logged on-chain
    state = get_state()
    session = state.session()
    if out is not None:
        from medledger.fsutil import atomic_fd

        # streamed in constant memory into a 0600 temp file, renamed only once all of it
        # decrypted and verified: never a half-written output file
        with atomic_fd(out) as fd, open(fd, "wb", closefd=False) as dst:
            session.access.read_into(rid, purpose, dst, patient_id=patient_id)
            size = dst.tell()
        info = {"record_id": to_jsonable(rid), "bytes": size, "out": str(out)}
        emit(state.json, info, lambda con: con.print(f"wrote {size} bytes to {out}"))
        return
    import tempfile

    # stdout gets nothing until the whole record decrypted (an anonymous 0600 file meanwhile)
    with tempfile.TemporaryFile(prefix="medledger-read-") as plain:
        session.access.read_into(rid, purpose, plain, patient_id=patient_id)
        size = plain.tell()
        plain.seek(0)
        if state.json:
            _stream_json(to_jsonable(rid), size, plain)
        else:
            _copy(plain, sys.stdout.buffer)
        sys.stdout.buffer.flush()


_CHUNK = 1 << 20


def _copy(src: BinaryIO, dst: BinaryIO) -> None:
    while piece := src.read(_CHUNK):
        dst.write(piece)


def _is_utf8(src: BinaryIO) -> bool:
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        while piece := src.read(_CHUNK):
            decoder.decode(piece)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    finally:
        src.seek(0)
    return True


def _stream_json(record_id: str, size: int, src: BinaryIO) -> None:
    """``{"record_id", "bytes", "data"}`` as :func:`print_json` prints it, with ``data`` (the
    text, or ``0x`` hex when the record is not UTF-8) streamed in constant memory."""
    import codecs
    import json

    out = sys.stdout.buffer
    head = json.dumps({"record_id": record_id, "bytes": size}, indent=2)[:-2]
    out.write(head.encode() + b',\n  "data": "')
    if _is_utf8(src):
        decoder = codecs.getincrementaldecoder("utf-8")()
        while piece := src.read(_CHUNK):
            out.write(json.dumps(decoder.decode(piece))[1:-1].encode())
    else:
        out.write(b"0x")
        while piece := src.read(_CHUNK):
            out.write(piece.hex().encode())
    out.write(b'"\n}\n')


@click.command()
@click.argument("record_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@sdk_options
def erase(record_id: str, yes: bool) -> None:
    """Erase a record (patient): tombstone on-chain, unpin the ciphertext, report.

    The chain keeps that a record existed (a tombstone) but never held its content; the report
    says what was removed where.
    """
    from medledger.cli import resolve

    rid = resolve.record_id(record_id)
    state = get_state()
    confirm_irreversible(f"erase record {to_jsonable(rid)}", yes=yes, as_json=state.json)
    from medledger.audit.erasure import render_text, to_dict

    report = state.session().records.erase(rid)
    emit(state.json, to_dict(report), lambda con: con.print(render_text(report), markup=False))
