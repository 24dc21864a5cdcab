"""The SQL the archive runs on, and the one engine-specific piece: the SQLite connection.

Everything the archive says to its database goes through :class:`Database`. The statements are plain
SQL that SQLite and PostgreSQL both accept (``BIGINT``, ``VARCHAR``, ``TEXT``, no ``AUTOINCREMENT``,
no upserts); parameters are written ``?`` (qmark). A PostgreSQL deployment implements
:class:`Database` over psycopg and rewrites ``?`` to ``%s`` in ``execute``; nothing else changes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from medledger.errors import StorageError

#: Bumped when the schema changes incompatibly; stored in ``archive_meta``.
SCHEMA_VERSION = 2


def _event_table(name: str, *columns: str) -> str:
    """``CREATE TABLE`` of one decoded-event table: the event's own columns between its location
    (block, log index: the key) and its block time and transaction."""
    cols = ",\n        ".join(
        ("block_number BIGINT NOT NULL", "log_index INTEGER NOT NULL", *columns,
         "block_time BIGINT NOT NULL", "tx_hash VARCHAR(66) NOT NULL",
         "PRIMARY KEY (block_number, log_index)")
    )  # fmt: skip
    return f"CREATE TABLE IF NOT EXISTS {name} (\n        {cols}\n    )"


#: The archive schema (also documented in docs/audit.md). Every event table carries
#: ``block_number`` so a chain reorganisation rolls back with one
#: ``DELETE ... WHERE block_number > ?`` per table.
SCHEMA: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS archive_meta (
        meta_key VARCHAR(64) PRIMARY KEY,
        meta_value TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS synced_blocks (
        block_number BIGINT PRIMARY KEY,
        block_hash VARCHAR(66) NOT NULL,
        block_time BIGINT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS events (
        block_number BIGINT NOT NULL,
        log_index INTEGER NOT NULL,
        block_hash VARCHAR(66) NOT NULL,
        tx_hash VARCHAR(66) NOT NULL,
        contract VARCHAR(42) NOT NULL,
        event_name VARCHAR(64) NOT NULL,
        patient_id BIGINT,
        block_time BIGINT NOT NULL,
        args_json TEXT NOT NULL,
        PRIMARY KEY (block_number, log_index)
    )""",
    "CREATE INDEX IF NOT EXISTS events_by_patient ON events (patient_id, block_number)",
    # One row per entry of a patient's hash chain (v2: every chained event, not only reads).
    """CREATE TABLE IF NOT EXISTS chain_log (
        patient_id BIGINT NOT NULL,
        seq BIGINT NOT NULL,
        event_name VARCHAR(32) NOT NULL,
        actor VARCHAR(42) NOT NULL,
        subject VARCHAR(66) NOT NULL,
        purpose SMALLINT NOT NULL,
        outcome SMALLINT NOT NULL,
        entry_time BIGINT NOT NULL,
        head VARCHAR(50) NOT NULL,
        block_number BIGINT NOT NULL,
        log_index INTEGER NOT NULL,
        tx_hash VARCHAR(66) NOT NULL,
        PRIMARY KEY (patient_id, seq)
    )""",
    "CREATE INDEX IF NOT EXISTS chain_log_by_block ON chain_log (block_number)",
    _event_table(
        "consent_events",
        "patient_id BIGINT NOT NULL",
        "grantee VARCHAR(42) NOT NULL",
        "kind VARCHAR(8) NOT NULL",
        "categories INTEGER",
        "actions SMALLINT",
        "purposes INTEGER",
        "valid_from BIGINT",
        "valid_until BIGINT",
        "key_bundle VARCHAR(66)",
        "replaced SMALLINT",
    ),
    "CREATE INDEX IF NOT EXISTS consent_events_by_patient ON consent_events (patient_id)",
    _event_table(
        "break_glass",
        "patient_id BIGINT NOT NULL",
        "responder VARCHAR(42) NOT NULL",
        "reason SMALLINT NOT NULL",
        "categories INTEGER NOT NULL",
        "expires_at BIGINT NOT NULL",
        "justification VARCHAR(66) NOT NULL",
    ),
    _event_table(
        "records",
        "record_id VARCHAR(66) NOT NULL",
        "patient_id BIGINT NOT NULL",
        "author VARCHAR(42) NOT NULL",
        "category SMALLINT NOT NULL",
        "cid_codec SMALLINT NOT NULL",
    ),
    "CREATE INDEX IF NOT EXISTS records_by_id ON records (record_id)",
    "CREATE INDEX IF NOT EXISTS records_by_patient ON records (patient_id)",
    _event_table(
        "record_erasures",
        "record_id VARCHAR(66) NOT NULL",
        "patient_id BIGINT NOT NULL",
    ),
    _event_table(
        "provider_events",
        "provider VARCHAR(42) NOT NULL",
        "kind VARCHAR(12) NOT NULL",
        "name TEXT",
        "emergency_responder SMALLINT",
        "encryption_key VARCHAR(66)",
        "key_document VARCHAR(66)",
    ),
    _event_table(
        "patients",
        "patient_id BIGINT NOT NULL",
        "controller VARCHAR(42) NOT NULL",
        "encryption_key VARCHAR(66) NOT NULL",
        "key_document VARCHAR(66) NOT NULL",
        "keyring VARCHAR(66) NOT NULL",
    ),
    _event_table(
        "controller_changes",
        "patient_id BIGINT NOT NULL",
        "previous_controller VARCHAR(42) NOT NULL",
        "new_controller VARCHAR(42) NOT NULL",
    ),
    _event_table(
        "anchors",
        "stream_id VARCHAR(66) NOT NULL",
        "root VARCHAR(66) NOT NULL",
        "submitter VARCHAR(42) NOT NULL",
        "item_count BIGINT NOT NULL",
    ),
)

#: Tables whose rows belong to a block (rolled back on a reorganisation).
BLOCK_TABLES: tuple[str, ...] = (
    "synced_blocks",
    "events",
    "chain_log",
    "consent_events",
    "break_glass",
    "records",
    "record_erasures",
    "provider_events",
    "patients",
    "controller_changes",
    "anchors",
)


class Database(Protocol):
    """What the archive needs from a SQL engine (qmark parameters, explicit transactions)."""

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a statement and return all rows."""
        ...

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Run one statement."""
        ...

    def execute_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement once per parameter row."""
        ...

    def transaction(self) -> Any:
        """Context manager: commit on success, roll back on any exception."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


class SQLiteDatabase:
    """:class:`Database` over one SQLite file (or ``":memory:"``); the embedded default."""

    def __init__(self, path: str | Path) -> None:
        try:
            # isolation_level=None: no implicit transactions; :meth:`transaction` issues BEGIN so a
            # page of events is written entirely or not at all.
            self._conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open audit archive {path}: {exc}") from exc
        self._depth = 0

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._conn.execute(sql, tuple(params)).fetchall()
        except sqlite3.Error as exc:
            raise StorageError(f"audit archive query failed: {exc}") from exc

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        try:
            self._conn.execute(sql, tuple(params))
        except sqlite3.Error as exc:
            raise StorageError(f"audit archive write failed: {exc}") from exc

    def execute_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        try:
            self._conn.executemany(sql, (tuple(r) for r in rows))
        except sqlite3.Error as exc:
            raise StorageError(f"audit archive write failed: {exc}") from exc

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._depth:  # nested: part of the outer transaction
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.execute("BEGIN")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            self._conn.execute("ROLLBACK")
            raise
        self._depth = 0
        self.execute("COMMIT")

    def close(self) -> None:
        self._conn.close()
