"""A custodian's storage: one schema, two backends (SQLite in WAL mode, PostgreSQL via psycopg 3).

Tables:

* ``kfrags`` — one HPKE-sealed key fragment per (patient, grantee, kind), kept sealed as received
  (opened per request), with the Umbral public keys it verifies against;
* ``requests`` — every signed request the custodian accepted, ``UNIQUE (signer, nonce)``: the
  replay guard, and the reason no re-encryption is served twice even under concurrency;
* ``capsules`` — the write-once capsule digest of each custodian-mode record;
* ``erased`` — records refused for good;
* ``decisions`` — the append-only log (a trigger refuses UPDATE and DELETE on both backends).

Every mutation is one transaction that also inserts its (signer, nonce) and its decision, so a
refused or failed step leaves nothing behind.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medledger.errors import CustodianError, InvalidInput, StorageError

_TABLES = """
CREATE TABLE IF NOT EXISTS kfrags (
    patient_id TEXT NOT NULL,
    grantee TEXT NOT NULL,
    kind SMALLINT NOT NULL,
    sealed_kfrag {blob} NOT NULL,
    delegating_pk {blob} NOT NULL,
    receiving_pk {blob} NOT NULL,
    verifying_pk {blob} NOT NULL,
    nonce TEXT NOT NULL,
    stored_at BIGINT NOT NULL,
    PRIMARY KEY (patient_id, grantee, kind)
);
CREATE TABLE IF NOT EXISTS requests (
    signer TEXT NOT NULL,
    nonce TEXT NOT NULL,
    kind TEXT NOT NULL,
    at BIGINT NOT NULL,
    UNIQUE (signer, nonce)
);
CREATE TABLE IF NOT EXISTS capsules (
    patient_id TEXT NOT NULL,
    record_id TEXT NOT NULL,
    capsule_digest TEXT NOT NULL,
    PRIMARY KEY (patient_id, record_id)
);
CREATE TABLE IF NOT EXISTS erased (
    patient_id TEXT NOT NULL,
    record_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (patient_id, record_id)
);
CREATE TABLE IF NOT EXISTS decisions (
    id {serial},
    at BIGINT NOT NULL,
    action TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    reader TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL
);
"""

_SQLITE_APPEND_ONLY = """
CREATE TRIGGER IF NOT EXISTS decisions_no_update BEFORE UPDATE ON decisions
BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;
CREATE TRIGGER IF NOT EXISTS decisions_no_delete BEFORE DELETE ON decisions
BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;
"""

_PG_APPEND_ONLY = """
CREATE OR REPLACE FUNCTION decisions_append_only() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'decisions are append-only'; END; $$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS decisions_no_change ON decisions;
CREATE TRIGGER decisions_no_change BEFORE UPDATE OR DELETE ON decisions
FOR EACH ROW EXECUTE FUNCTION decisions_append_only();
"""


class Replayed(CustodianError):
    """This (signer, nonce) was accepted before."""

    def __init__(self) -> None:
        super().__init__("this request was already used", code="replayed")


class CapsuleConflict(CustodianError):
    """Another capsule digest is already registered for the record (``record_id``, 0x-hex, set
    by a batched registration)."""

    def __init__(self, record_id: str | None = None) -> None:
        self.record_id = record_id
        where = f"record {record_id}" if record_id else "this record"
        super().__init__(
            f"another capsule is already registered for {where}", code="capsule_conflict"
        )


class StoreChanged(CustodianError):
    """Between the checks and the commit, an erasure or a revocation landed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)


@dataclass(frozen=True)
class Decision:
    """One row of the append-only decision log."""

    at: int
    action: str  # delegation | revocation | erasure | capsule | reencryption
    patient_id: int
    subject: str  # grantee address or record id (0x-hex)
    reader: str  # the signer of the request
    outcome: str  # stored | deleted | served | refused
    reason: str = ""
    id: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at,
            "action": self.action,
            "patientId": self.patient_id,
            "subject": self.subject,
            "reader": self.reader,
            "outcome": self.outcome,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class KfragRow:
    """A stored delegation: the sealed kfrag and the keys it verifies against."""

    patient_id: int
    grantee: str
    kind: int
    sealed_kfrag: bytes
    delegating_pk: bytes
    receiving_pk: bytes
    verifying_pk: bytes
    nonce: int
    stored_at: int


_DELEGATIONS = (
    "SELECT patient_id, grantee, kind, sealed_kfrag, delegating_pk, receiving_pk,"
    " verifying_pk, nonce, stored_at FROM kfrags"
    " WHERE patient_id = ? AND grantee = ? ORDER BY kind"
)


def _kfrag_row(r: Any) -> KfragRow:
    return KfragRow(
        int(r[0]), r[1], int(r[2]), bytes(r[3]), bytes(r[4]), bytes(r[5]), bytes(r[6]),
        int(r[7], 16), int(r[8]),
    )  # fmt: skip


class Store:
    """The custodian store. ``Store.open("sqlite:PATH" | "postgresql://...")``."""

    def __init__(self, conn: Any, *, backend: str, unique_errors: tuple[type[Exception], ...]):
        self._conn = conn
        self.backend = backend
        self._unique = unique_errors
        # One connection, serialised: SQLite wants one writer anyway, and the re-encryption
        # path holds the lock for well under a millisecond.
        self._lock = threading.Lock()
        self._closed = False

    # --- opening ------------------------------------------------------------------------------

    @classmethod
    def open(cls, url: str) -> Store:
        """Open (creating the schema) ``sqlite:PATH`` or ``postgresql://...``."""
        if url.startswith(("postgresql://", "postgres://")):
            return cls._open_postgres(url)
        if url.startswith("sqlite:"):
            return cls._open_sqlite(Path(url[len("sqlite:") :]))
        raise InvalidInput(
            f"unsupported custodian database {url!r}",
            hint="use sqlite:PATH or postgresql://user@host:port/db",
        )

    @classmethod
    def _open_sqlite(cls, path: Path) -> Store:
        path = path.expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            # sealed kfrags and the replay log: owner-only from the first byte
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        elif not path.is_file():
            raise InvalidInput(f"custodian database {path} is not a regular file")
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
        conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL (SQLite's setting for WAL): a commit survives a process crash (tested: SIGKILL
        # + restart re-serves nothing); only a power loss or OS crash can roll back the last
        # commits. FULL would add an fsync (~5 ms here) to every served request; the cost of
        # NORMAL is in docs/custodians.md.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(
            _TABLES.format(blob="BLOB", serial="INTEGER PRIMARY KEY AUTOINCREMENT")
            + _SQLITE_APPEND_ONLY
        )
        return cls(conn, backend="sqlite", unique_errors=(sqlite3.IntegrityError,))

    @classmethod
    def _open_postgres(cls, url: str) -> Store:
        import psycopg

        try:
            conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise StorageError(
                f"cannot connect to the custodian database: {type(exc).__name__}"
            ) from None
        with conn.transaction():
            conn.execute(_TABLES.format(blob="BYTEA", serial="BIGSERIAL PRIMARY KEY"))
            conn.execute(_PG_APPEND_ONLY)
        return cls(conn, backend="postgresql", unique_errors=(psycopg.errors.UniqueViolation,))

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._conn.close()
                self._closed = True

    # --- plumbing -----------------------------------------------------------------------------

    def _sql(self, query: str) -> str:
        return query.replace("?", "%s") if self.backend == "postgresql" else query

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        """One transaction under the store lock; yields an ``execute(sql, params)`` callable."""
        with self._lock:
            if self._closed:
                raise StorageError("the custodian store is closed")
            if self.backend == "postgresql":
                with self._conn.transaction():
                    yield self._execute
            else:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._execute
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")

    def _execute(self, query: str, params: Sequence[Any] = ()) -> Any:
        return self._conn.execute(self._sql(query), tuple(params))

    def _accept(self, execute: Any, signer: str, nonce: int, kind: str, at: int) -> None:
        try:
            execute(
                "INSERT INTO requests (signer, nonce, kind, at) VALUES (?, ?, ?, ?)",
                (signer, hex(nonce), kind, at),
            )
        except self._unique:
            raise Replayed() from None

    @staticmethod
    def _decide(execute: Any, d: Decision) -> None:
        execute(
            "INSERT INTO decisions (at, action, patient_id, subject, reader, outcome, reason)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (d.at, d.action, str(d.patient_id), d.subject, d.reader, d.outcome, d.reason),
        )

    # --- reads --------------------------------------------------------------------------------

    def ping(self) -> None:
        """Raise StorageError unless the database answers."""
        try:
            with self._tx() as execute:
                execute("SELECT 1").fetchall()
        except StorageError:
            raise
        except Exception as exc:  # sqlite3.Error / psycopg.Error
            raise StorageError(f"custodian store does not answer: {type(exc).__name__}") from None

    def seen(self, signer: str, nonce: int) -> bool:
        with self._tx() as execute:
            row = execute(
                "SELECT 1 FROM requests WHERE signer = ? AND nonce = ?", (signer, hex(nonce))
            ).fetchone()
        return row is not None

    def delegations(self, patient_id: int, grantee: str) -> list[KfragRow]:
        with self._tx() as execute:
            rows = execute(_DELEGATIONS, (str(patient_id), grantee)).fetchall()
        return [_kfrag_row(r) for r in rows]

    def lookup(
        self, signer: str, nonce: int, patient_id: int, record_id: bytes
    ) -> tuple[bool, list[KfragRow], bool, bytes | None]:
        """What a re-encryption request needs, in one transaction: (seen, the signer's
        delegations from the patient, record erased, registered capsule digest)."""
        pid, rid = str(patient_id), "0x" + record_id.hex()
        with self._tx() as execute:
            seen = execute(
                "SELECT 1 FROM requests WHERE signer = ? AND nonce = ?", (signer, hex(nonce))
            ).fetchone()
            rows = execute(_DELEGATIONS, (pid, signer)).fetchall()
            erased = execute(
                "SELECT 1 FROM erased WHERE patient_id = ? AND record_id = ?", (pid, rid)
            ).fetchone()
            capsule = execute(
                "SELECT capsule_digest FROM capsules WHERE patient_id = ? AND record_id = ?",
                (pid, rid),
            ).fetchone()
        return (
            seen is not None,
            [_kfrag_row(r) for r in rows],
            erased is not None,
            bytes.fromhex(capsule[0][2:]) if capsule else None,
        )

    def capsule(self, patient_id: int, record_id: bytes) -> bytes | None:
        with self._tx() as execute:
            row = execute(
                "SELECT capsule_digest FROM capsules WHERE patient_id = ? AND record_id = ?",
                (str(patient_id), "0x" + record_id.hex()),
            ).fetchone()
        return bytes.fromhex(row[0][2:]) if row else None

    def is_erased(self, patient_id: int, record_id: bytes) -> bool:
        with self._tx() as execute:
            row = execute(
                "SELECT 1 FROM erased WHERE patient_id = ? AND record_id = ?",
                (str(patient_id), "0x" + record_id.hex()),
            ).fetchone()
        return row is not None

    def decisions(self, patient_id: int | None = None, since: int = 0) -> list[Decision]:
        query = (
            "SELECT id, at, action, patient_id, subject, reader, outcome, reason"
            " FROM decisions WHERE at >= ?"
        )
        params: list[Any] = [since]
        if patient_id is not None:
            query += " AND patient_id = ?"
            params.append(str(patient_id))
        with self._tx() as execute:
            rows = execute(query + " ORDER BY id", params).fetchall()
        return [
            Decision(
                at=int(r[1]),
                action=r[2],
                patient_id=int(r[3]),
                subject=r[4],
                reader=r[5],
                outcome=r[6],
                reason=r[7],
                id=int(r[0]),
            )
            for r in rows
        ]

    def counts(self) -> dict[str, int]:
        """Rows per table (operations and tests)."""
        out = {}
        with self._tx() as execute:
            for table in ("kfrags", "requests", "capsules", "erased", "decisions"):
                out[table] = int(execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])  # noqa: S608
        return out

    # --- writes -------------------------------------------------------------------------------

    def record_refusal(self, decision: Decision) -> None:
        """Log a refused (authenticated) request; nothing else changes."""
        with self._tx() as execute:
            self._decide(execute, decision)

    def put_delegation(self, row: KfragRow, signer: str, decision: Decision) -> int:
        """Store (or replace: newest wins) the kfrag for (patient, grantee, kind); returns how
        many older fragments were replaced."""
        with self._tx() as execute:
            self._accept(execute, signer, row.nonce, "delegation", row.stored_at)
            replaced = execute(
                "DELETE FROM kfrags WHERE patient_id = ? AND grantee = ? AND kind = ?",
                (str(row.patient_id), row.grantee, row.kind),
            ).rowcount
            execute(
                "INSERT INTO kfrags (patient_id, grantee, kind, sealed_kfrag, delegating_pk,"
                " receiving_pk, verifying_pk, nonce, stored_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    str(row.patient_id),
                    row.grantee,
                    row.kind,
                    row.sealed_kfrag,
                    row.delegating_pk,
                    row.receiving_pk,
                    row.verifying_pk,
                    hex(row.nonce),
                    row.stored_at,
                ),
            )
            self._decide(execute, decision)
        return int(replaced or 0)

    def revoke(
        self, patient_id: int, grantee: str, signer: str, nonce: int, decision: Decision
    ) -> int:
        """Delete every kfrag for (patient, grantee); returns how many."""
        with self._tx() as execute:
            self._accept(execute, signer, nonce, "revocation", decision.at)
            deleted = execute(
                "DELETE FROM kfrags WHERE patient_id = ? AND grantee = ?",
                (str(patient_id), grantee),
            ).rowcount
            self._decide(execute, decision)
        return int(deleted or 0)

    def erase(
        self, patient_id: int, record_id: bytes, signer: str, nonce: int, decision: Decision
    ) -> int:
        """Refuse ``record_id`` for good and delete its capsule registration; returns how many
        stored items were deleted."""
        rid = "0x" + record_id.hex()
        with self._tx() as execute:
            self._accept(execute, signer, nonce, "erasure", decision.at)
            deleted = execute(
                "DELETE FROM capsules WHERE patient_id = ? AND record_id = ?",
                (str(patient_id), rid),
            ).rowcount
            if not execute(
                "SELECT 1 FROM erased WHERE patient_id = ? AND record_id = ?",
                (str(patient_id), rid),
            ).fetchone():
                execute(
                    "INSERT INTO erased (patient_id, record_id, at) VALUES (?, ?, ?)",
                    (str(patient_id), rid, decision.at),
                )
            self._decide(execute, decision)
        return int(deleted or 0)

    def register_capsule(
        self,
        patient_id: int,
        record_id: bytes,
        digest: bytes,
        signer: str,
        nonce: int,
        decision: Decision,
    ) -> bool:
        """Write-once: True when newly stored, False when the same digest was there already;
        CapsuleConflict for another digest."""
        rid, dig = "0x" + record_id.hex(), "0x" + digest.hex()
        with self._tx() as execute:
            row = execute(
                "SELECT capsule_digest FROM capsules WHERE patient_id = ? AND record_id = ?",
                (str(patient_id), rid),
            ).fetchone()
            if row is not None and row[0] != dig:
                raise CapsuleConflict()
            self._accept(execute, signer, nonce, "capsule", decision.at)
            if row is None:
                execute(
                    "INSERT INTO capsules (patient_id, record_id, capsule_digest) VALUES (?, ?, ?)",
                    (str(patient_id), rid, dig),
                )
            self._decide(execute, decision)
        return row is None

    def register_capsules(
        self,
        patient_id: int,
        entries: Sequence[tuple[bytes, bytes]],
        signer: str,
        nonce: int,
        decisions: Sequence[Decision],
    ) -> int:
        """:meth:`register_capsule` for several records in one transaction, all or nothing:
        returns how many were newly stored; CapsuleConflict (naming the record) for another
        digest, StoreChanged for a record erased here."""
        new = 0
        with self._tx() as execute:
            self._accept(execute, signer, nonce, "capsules", decisions[0].at)
            for (record_id, digest), decision in zip(entries, decisions, strict=True):
                rid, dig = "0x" + record_id.hex(), "0x" + digest.hex()
                key = (str(patient_id), rid)
                if execute(
                    "SELECT 1 FROM erased WHERE patient_id = ? AND record_id = ?", key
                ).fetchone():
                    raise StoreChanged("erased", f"record {rid} was erased")
                row = execute(
                    "SELECT capsule_digest FROM capsules WHERE patient_id = ? AND record_id = ?",
                    key,
                ).fetchone()
                if row is not None and row[0] != dig:
                    raise CapsuleConflict(rid)
                if row is None:
                    execute(
                        "INSERT INTO capsules (patient_id, record_id, capsule_digest)"
                        " VALUES (?, ?, ?)",
                        (*key, dig),
                    )
                    new += 1
                self._decide(execute, decision)
        return new

    def serve(
        self, signer: str, nonce: int, decision: Decision, *, row: KfragRow | None = None
    ) -> None:
        """Mark a re-encryption request as served (Replayed if it was already): the last step
        before the cfrag leaves, so a request is served at most once. With ``row`` (the
        delegation used), also re-check in the same transaction that the record was not erased
        and the delegation not revoked since the request was checked (StoreChanged if so)."""
        with self._tx() as execute:
            self._accept(execute, signer, nonce, "reencryption", decision.at)
            if row is not None:
                erased = execute(
                    "SELECT 1 FROM erased WHERE patient_id = ? AND record_id = ?",
                    (str(row.patient_id), decision.subject),
                ).fetchone()
                if erased is not None:
                    raise StoreChanged("erased", "the record was erased meanwhile")
                still = execute(
                    "SELECT 1 FROM kfrags WHERE patient_id = ? AND grantee = ? AND kind = ?"
                    " AND nonce = ?",
                    (str(row.patient_id), row.grantee, row.kind, hex(row.nonce)),
                ).fetchone()
                if still is None:
                    raise StoreChanged("no_delegation", "the delegation was revoked meanwhile")
            self._decide(execute, decision)
