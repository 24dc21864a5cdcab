"""The import journal: what makes an import idempotent and resumable, kept off-chain.

Nothing on-chain may identify a patient or a resource, so the chain cannot say "this FHIR
resource was imported". The importer keeps that knowledge beside the hospital's other local
state, in an append-only JSON-lines file (mode 0600, one writer at a time via ``flock``):

* ``intent``: before a batch is stored or registered, its records' idempotence keys (hashes of
  patient reference, category and encounter: no FHIR id in clear), content digests and CIDs;
* ``done``: after the batch's transaction is mined;
* ``void``: after a resumed import found an intent's records absent from the chain and unpinned
  them (the batch is then imported again, sealed afresh).

A kill can land anywhere: before the intent nothing was stored; between intent and ``done`` the
chain decides (``addRecordBatch`` is all or nothing), see :meth:`Journal.reconcile`. Every line
is flushed and fsynced before the step it announces.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from medledger.errors import InvalidInput, MedledgerError, StorageError
from medledger.storage import CID, BlockStore
from medledger.storage.cid import as_cid

FORMAT = "medledger-fhir-import-journal/1"


@dataclass(frozen=True)
class Entry:
    """A record the journal knows: its patient, content digest and CID."""

    patient_id: int
    content: str
    cid: CID


class Journal:
    """An open, locked journal. Use :meth:`open`; close (or ``with``) releases the lock."""

    def __init__(self, path: Path, fh: IO[str], scope: dict[str, Any]) -> None:
        self.path = path
        self._fh = fh
        self.scope = scope
        #: idempotence key -> the record it became (registered on-chain)
        self.done: dict[str, Entry] = {}
        #: batch number -> records announced but not yet known to be registered
        self.uncertain: dict[int, dict[str, Entry]] = {}
        self._batches = 0

    @classmethod
    def open(cls, path: str | os.PathLike[str], scope: dict[str, Any]) -> Journal:
        """Open (create) the journal at ``path`` for ``scope`` (chain, contract, author): a
        journal of another deployment or author is refused rather than trusted."""
        p = Path(path)
        if p.exists() and not p.is_file():
            raise InvalidInput(f"{p} is not a regular file")
        p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        fh = os.fdopen(fd, "r+", encoding="utf-8")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise InvalidInput(
                f"another import is using {p}", hint="wait for it to finish"
            ) from None
        journal = cls(p, fh, scope)
        try:
            journal._load()
        except BaseException:
            fh.close()
            raise
        return journal

    def _load(self) -> None:
        self._fh.seek(0)
        lines = self._fh.read().splitlines()
        if not lines:
            self._write({"op": "header", "format": FORMAT, **self.scope})
            return
        for number, line in enumerate(lines, 1):
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                if number == len(lines):
                    break  # a torn last line: the kill came mid-write, before its step ran
                raise InvalidInput(f"{self.path}:{number}: corrupt journal line") from None
            self._apply(row, number)

    def _apply(self, row: dict[str, Any], number: int) -> None:
        op = row.get("op")
        if op == "header":
            theirs = {k: row.get(k) for k in self.scope}
            if row.get("format") != FORMAT or theirs != self.scope:
                raise InvalidInput(
                    f"{self.path} belongs to another deployment or author ({theirs})",
                    hint="use another --journal for this deployment",
                )
        elif op == "intent":
            batch = int(row["batch"])
            self._batches = max(self._batches, batch + 1)
            self.uncertain[batch] = {
                key: Entry(int(row["patient"]), content, as_cid(cid))
                for key, content, cid in row["records"]
            }
        elif op in ("done", "void"):
            records = self.uncertain.pop(int(row["batch"]), {})
            keys = row.get("keys")  # present when only part of the batch was registered
            if op == "done":
                self.done.update({k: e for k, e in records.items() if keys is None or k in keys})
        else:
            raise InvalidInput(f"{self.path}:{number}: unknown journal entry {op!r}")

    def _write(self, row: dict[str, Any]) -> None:
        self._fh.write(json.dumps(row, separators=(",", ":")) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def intent(self, patient_id: int, records: Sequence[tuple[str, str, CID]]) -> int:
        """Announce a batch of ``(key, content digest, cid)`` before storing it; its number."""
        batch = self._batches
        self._batches += 1
        self._write(
            {
                "op": "intent",
                "batch": batch,
                "patient": patient_id,
                "records": [[k, c, str(cid)] for k, c, cid in records],
            }
        )
        self.uncertain[batch] = {k: Entry(patient_id, c, cid) for k, c, cid in records}
        return batch

    def finish(self, batch: int, registered: set[CID]) -> None:
        """The batch's transaction was mined; ``registered`` are its CIDs now on-chain."""
        records = self.uncertain.pop(batch, {})
        landed = {k: e for k, e in records.items() if e.cid in registered}
        self.done.update(landed)
        self._done(batch, landed, records)

    def _done(self, batch: int, landed: dict[str, Entry], records: dict[str, Entry]) -> None:
        row: dict[str, Any] = {"op": "done" if landed else "void", "batch": batch}
        if landed and len(landed) < len(records):
            row["keys"] = sorted(landed)
        self._write(row)

    def reconcile(self, on_chain: Any, store: BlockStore) -> tuple[int, int, int]:
        """Settle every batch a killed import left between intent and done: records the chain
        has are done; the others are unpinned (orphans of a batch that never landed) and the
        batch voided so that it is imported again. ``on_chain(patient_id, cid)`` says whether
        the record is registered. Returns (batches settled, records found on-chain, orphans
        unpinned)."""
        found = orphans = 0
        batches = len(self.uncertain)
        for batch in sorted(self.uncertain):
            records = self.uncertain[batch]
            landed = {k: e for k, e in records.items() if on_chain(e.patient_id, e.cid)}
            for key, entry in records.items():
                if key in landed:
                    continue
                try:
                    if store.unpin(entry.cid):
                        orphans += 1
                except (StorageError, MedledgerError) as exc:
                    raise StorageError(
                        f"cannot unpin {entry.cid}, an orphan of an interrupted import: {exc}"
                    ) from None
            found += len(landed)
            self.done.update(landed)
            del self.uncertain[batch]
            self._done(batch, landed, records)
        return batches, found, orphans

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()  # closing the descriptor releases the flock

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
