"""``medledger anchor add|prove|verify``: batches of high-volume items (a day of vitals) stored
encrypted as one record, their Merkle root anchored on-chain, single items proven later.

A proof file is the SDK's :meth:`~medledger.client.InclusionProof.to_json` document
(``streamId``, ``root``, ``item`` digest, ``index``, ``proof``), so the CLI, the SDK and the
contract's ``verifyItem`` all accept the same JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from medledger.cli.exitcodes import ERROR
from medledger.cli.options import PATIENT_ID, Decorator, path_option, purpose_option
from medledger.cli.output import emit, error_payload, kv_table, plain, print_json, when
from medledger.cli.state import connection_options, get_state, sdk_options
from medledger.errors import InvalidInput
from medledger.fsutil import atomic_write

if TYPE_CHECKING:
    from medledger.client import InclusionProof

# --- reading items ------------------------------------------------------------------------------


def _read_input(name: str) -> bytes:
    """The bytes of a file, or of stdin for ``-``; a missing file is invalid input."""
    if name == "-":
        return click.get_binary_stream("stdin").read()
    path = Path(name)
    if not path.is_file():
        raise InvalidInput(f"no such file: {name}")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {name}: {exc.strerror}") from None


def read_lines(name: str) -> list[bytes]:
    """One item per line (line endings removed, empty lines skipped)."""
    return [line for line in _read_input(name).splitlines() if line]


def item_options(file_help: str, text_help: str) -> Decorator:
    """``--item-file F`` and ``--item TEXT``: the item :func:`one_item` reads."""
    from_file = click.option(
        "--item-file",
        type=click.Path(allow_dash=True, dir_okay=False, path_type=str),
        default=None,
        help=file_help,
    )
    as_text = click.option("--item", "item_text", default=None, help=text_help)
    return lambda command: from_file(as_text(command))


def one_item(item_file: str | None, item_text: str | None) -> bytes:
    """The item named by ``--item-file F`` (its bytes) or ``--item TEXT`` (UTF-8), exactly one."""
    if (item_file is None) == (item_text is None):
        raise InvalidInput(
            "give the item as --item-file FILE or --item TEXT (one of them)",
            hint="--item TEXT is one line of a batch added with --lines",
        )
    if item_text is not None:
        return item_text.encode("utf-8")
    assert item_file is not None
    return _read_input(item_file)


def proof_text(proof: InclusionProof) -> str:
    return json.dumps(proof.to_json(), indent=2) + "\n"


def _proof_names(files: tuple[str, ...], count: int) -> list[str]:
    """``0000-name.proof.json`` per file, ``0000.proof.json`` per line: the index keeps them
    unique and in batch order."""
    width = max(4, len(str(count - 1)))
    if files:
        return [f"{i:0{width}d}-{Path(f).name}.proof.json" for i, f in enumerate(files)]
    return [f"{i:0{width}d}.proof.json" for i in range(count)]


# --- commands ---------------------------------------------------------------------------------


@click.group()
def anchor() -> None:
    """Anchor batches of items on-chain and prove single items (vitals, device readings)."""


@anchor.command(
    "add",
    epilog="""\b
Examples:
  medledger anchor add --as clinic --patient 1 --stream bp-cuff-7 reading-*.json
  medledger anchor add --as clinic --patient 1 --stream hr --lines today.ndjson --proofs-dir p/
  sensor-dump | medledger anchor add --as clinic --patient 1 --stream hr --lines -""",
)
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=str))
@click.option(
    "--lines",
    "lines_file",
    type=click.Path(allow_dash=True, dir_okay=False, path_type=str),
    default=None,
    help="Take the items from FILE, one per line (- for stdin; empty lines are skipped).",
)
@click.option("--patient", "patient_id", type=PATIENT_ID, required=True, help="Patient id.")
@click.option("--stream", required=True, help="Stream name (its SHA-256 is the stream id).")
@click.option(
    "-c", "--category", default="vitals", show_default=True, help="Category of the batch record."
)
@click.option(
    "--proofs-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write one inclusion proof JSON per item into DIR.",
)
@sdk_options
def add(
    files: tuple[str, ...],
    lines_file: str | None,
    patient_id: int,
    stream: str,
    category: str,
    proofs_dir: Path | None,
) -> None:
    """Store a batch of items encrypted as one record and anchor its Merkle root on-chain.

    The items are the FILES (each file's bytes is one item) or the lines of --lines FILE. Two
    transactions whatever the batch size: the record, then the root.
    """
    from medledger.client import prove_item, stream_id_of
    from medledger.codes import category as parse_category

    # Everything that can be wrong with the input fails here, before a key is unlocked.
    parse_category(category)
    stream_id = stream_id_of(stream)
    if bool(files) == (lines_file is not None):
        raise InvalidInput(
            "give the items as FILE... or --lines FILE (one of them)",
            hint="e.g. medledger anchor add --patient 1 --stream hr --lines readings.txt",
        )
    items = read_lines(lines_file) if lines_file is not None else [_read_input(f) for f in files]
    if not items:
        raise InvalidInput("no items: the batch would be empty")
    targets: list[Path] = []
    if proofs_dir is not None:
        targets = [proofs_dir / n for n in _proof_names(files, len(items))]
        taken = [t for t in targets if t.exists()]
        if taken:  # never overwrite the proofs of an earlier batch
            raise InvalidInput(
                f"{taken[0]} already exists", hint="use an empty --proofs-dir per batch"
            )
        try:
            proofs_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InvalidInput(f"cannot create {proofs_dir}: {exc.strerror}") from None

    state = get_state()
    anchored = state.session().anchors.anchor_batch(patient_id, stream, items, category=category)
    if targets:  # after the anchor is mined: a proof file always names an anchored root
        for item, target in zip(items, targets, strict=True):
            atomic_write(target, proof_text(prove_item(anchored.batch, item)))
    rec = anchored.record
    data = {
        "stream": stream,
        "stream_id": "0x" + stream_id.hex(),
        "root": "0x" + anchored.root.hex(),
        "count": len(anchored.batch),
        "record_id": "0x" + bytes(rec.record_id).hex(),
        "cid": str(rec.cid),
        "category": parse_category(category).name.lower(),
        "record_tx": None if rec.tx is None else str(rec.tx.tx_hash),
        "anchor_tx": str(anchored.tx.tx_hash),
        "block": int(anchored.tx.block_number),
        "gas_used": int(anchored.tx.gas_used) + (0 if rec.tx is None else int(rec.tx.gas_used)),
        "proofs_dir": None if proofs_dir is None else str(proofs_dir),
        "proofs": [str(t) for t in targets],
    }
    shown = {k: v for k, v in data.items() if k != "proofs"}
    emit(state.json, data, lambda con: con.print(kv_table(shown, title="batch anchored")))


@anchor.command(
    "prove",
    epilog="""\b
Examples:
  medledger anchor prove --as alice --record 0x5c1f...e2 --item-file reading-3.json > r3.proof
  medledger anchor prove --as clinic --record 0x5c1f...e2 --item '{"hr": 72}' --out hr.proof""",
)
@click.option("--record", "record_id", required=True, help="Record id of the batch.")
@item_options("The item: this file's bytes (- for stdin).", "The item as text (a line of --lines).")
@purpose_option("Why you read the batch (logged on-chain).")
@path_option("-o", "--out", help="Write the proof here (default: stdout).")
@sdk_options
def prove(
    record_id: str, item_file: str | None, item_text: str | None, purpose: str, out: Path | None
) -> None:
    """Print the inclusion proof of one item of an anchored batch.

    Reads the batch record (a logged access, like `record get`: a refusal exits 3), checks its
    items against its root and proves the item. The proof JSON goes to stdout or --out.
    """
    from medledger.cli import resolve
    from medledger.client import prove_item
    from medledger.codes import purpose as parse_purpose

    rid = resolve.record_id(record_id)
    parse_purpose(purpose)
    item = one_item(item_file, item_text)
    rid_hex = "0x" + rid.hex()
    state = get_state()
    batch, _items = state.session().anchors.read_batch(rid, purpose=purpose)
    proof = prove_item(batch, item)
    if out is None:
        print_json(proof.to_json())
        return
    atomic_write(out, proof_text(proof))
    data = {"out": str(out), "record_id": rid_hex, "index": proof.index, "count": len(batch)}
    emit(
        state.json,
        data,
        lambda con: con.print(f"wrote the proof of item {proof.index} of {len(batch)} to {out}"),
    )


@anchor.command(
    "verify",
    epilog="""\b
Examples:
  medledger anchor verify r3.proof                       # proof + anchor on chain
  medledger anchor verify r3.proof --item-file reading-3.json
  medledger anchor verify r3.proof --offline             # the Merkle proof alone""",
)
@click.argument("proof_file", type=click.Path(allow_dash=True, dir_okay=False, path_type=str))
@click.option("--offline", is_flag=True, help="Check the Merkle proof only; do not ask the chain.")
@item_options(
    "Also check that the proof is about this file's bytes.", "Also check it is about this text."
)
@connection_options
def verify(proof_file: str, offline: bool, item_file: str | None, item_text: str | None) -> None:
    """Check an inclusion proof: exit 0 if valid, 1 if not (naming the failed check).

    Checks: the item (with --item-file/--item) has the proof's digest; the proof leads from
    the item to the root; the root is anchored in the stream (AnchorRegistry.getAnchor); the
    contract's verifyItem agrees. --offline skips the two on-chain checks. Nothing is signed.
    """
    from medledger.client import InclusionProof

    if proof_file == "-" and item_file == "-":
        raise InvalidInput("the proof and the item cannot both come from stdin")
    raw = _read_input(proof_file)
    try:
        doc = json.loads(raw)
    except ValueError:
        raise InvalidInput(f"{proof_file} is not JSON", hint="give a proof file") from None
    if not isinstance(doc, dict):
        raise InvalidInput(f"{proof_file} is not an inclusion proof (a JSON object)")
    proof = InclusionProof.from_json(doc)
    item = None if item_file is None and item_text is None else one_item(item_file, item_text)
    state = get_state()
    checks = run_checks(proof, item, None if offline else state.medledger())
    failed = next((c for c in checks if not c["ok"]), None)
    data: dict[str, Any] = {
        "valid": failed is None,
        "failed": None if failed is None else failed["check"],
        "offline": offline,
        **proof.to_json(),
        "checks": checks,
    }
    if failed is not None:
        message = f"proof invalid: {failed['detail']}"
        data["error"] = error_payload("IntegrityError", message, code=ERROR)

    def human(con: Any) -> None:
        for c in checks:
            mark = plain("ok  ", "green") if c["ok"] else plain("FAIL", "red")
            con.print(mark, plain(f" {c['check']}: "), sep="", end="")
            con.print(c["detail"], markup=False)
        if failed is None:
            con.print(
                plain("valid", "green"),
                " (offline: not checked on chain)" if offline else "",
                sep="",
            )

    emit(state.json, data, human)
    if failed is not None:
        from medledger.cli.main import report_error
        from medledger.errors import IntegrityError

        report_error(IntegrityError(f"proof invalid: {failed['detail']}"), ERROR, False)
        raise click.exceptions.Exit(ERROR)


def run_checks(proof: InclusionProof, item: bytes | None, ml: Any | None) -> list[dict[str, Any]]:
    """Every check of ``anchor verify`` in order; on-chain ones only when ``ml`` is given."""
    from medledger.anchoring import item_digest, verify_proof
    from medledger.errors import ContractError

    def check(name: str, ok: bool, yes: str, no: str) -> dict[str, Any]:
        return {"check": name, "ok": ok, "detail": yes if ok else no}

    root, digest = "0x" + proof.root.hex(), "0x" + proof.item_digest.hex()
    stream = "0x" + proof.stream_id.hex()
    checks = []
    if item is not None:
        actual = item_digest(item)
        checks.append(
            check(
                "item",
                actual == proof.item_digest,
                f"the item's digest is {digest}",
                f"the item's digest is 0x{actual.hex()}, the proof is about {digest}",
            )
        )
    checks.append(
        check(
            "merkle",
            verify_proof(proof.root, proof.item_digest, list(proof.proof)),
            f"the {len(proof.proof)} proof hashes lead from item {digest} to root {root}",
            f"the proof does not lead from item {digest} to root {root}",
        )
    )
    if ml is None:
        return checks
    # anchors are namespaced by submitter: the proof names it, else the one account that did
    submitters = (
        [proof.submitter] if proof.submitter else ml.anchor_submitters(proof.stream_id, proof.root)
    )
    who = submitters[0] if len(submitters) == 1 else None
    found = None if who is None else ml.anchor_of(who, proof.stream_id, proof.root)
    checks.append(
        check(
            "anchored",
            found is not None and int(found.anchored_at) != 0,
            ""
            if found is None
            else f"root anchored in stream {stream} by {found.submitter} "
            f"({int(found.count)} items, at {when(int(found.anchored_at))})",
            f"root {root} is not anchored in stream {stream}"
            + (f" by a single submitter ({len(submitters)} did)" if len(submitters) > 1 else ""),
        )
    )
    try:
        onchain = who is not None and ml.verify_item_onchain(proof, who)
        why = "AnchorRegistry.verifyItem returned false"
    except ContractError as exc:  # e.g. a proof longer than the contract accepts
        onchain, why = False, f"AnchorRegistry.verifyItem reverted: {exc}"
    checks.append(check("onchain", onchain, "AnchorRegistry.verifyItem returned true", why))
    return checks
