"""The local audit archive: writes of decoded events (one transaction per page), reorg rollback, and
the read queries the verification, accounting and FHIR modules use.

The archive belongs to one deployment (chain id + MedLedger address, optionally the AnchorRegistry
address); :meth:`Archive.bind` records that on first use and refuses a different deployment later.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils.address import is_address, to_checksum_address

from medledger.audit.chain import AccessEntry, ChainEntry, ChainLog, chain_entries_from_logs
from medledger.audit.db import BLOCK_TABLES, SCHEMA, SCHEMA_VERSION, Database, SQLiteDatabase
from medledger.audit.events import CHAINED_EVENT_NAMES, DecodedEvent, chain_fields
from medledger.errors import IntegrityError, InvalidInput

__all__ = [  # ChainEntry & co. live in audit.chain; re-exported for the v1 import path
    "AccessEntry",
    "Archive",
    "ChainEntry",
    "ChainLog",
    "chain_entries_from_logs",
]

_MAX_SQL_INT = 2**63 - 1  # SQL BIGINT is signed; uint64 values above this cannot be stored


@dataclass(frozen=True)
class ConsentEvent:
    """A ``ConsentGranted`` (kind ``grant``) or ``ConsentRevoked`` (kind ``revoke``) event."""

    patient_id: int
    grantee: str
    kind: str
    categories: int
    actions: int
    purposes: int
    valid_from: int
    valid_until: int
    key_bundle: str | None
    block_time: int
    block_number: int
    log_index: int
    tx_hash: str
    replaced: bool = False


@dataclass(frozen=True)
class BreakGlassEvent:
    """A ``BreakGlassOpened`` event."""

    patient_id: int
    responder: str
    reason: int
    categories: int
    expires_at: int
    justification: str
    block_time: int
    block_number: int
    log_index: int
    tx_hash: str


@dataclass(frozen=True)
class RecordInfo:
    """A record from ``RecordAdded``, with its erasure (``RecordErased``) if any."""

    record_id: str
    patient_id: int
    author: str
    category: int
    cid_codec: int
    created_time: int
    block_number: int
    tx_hash: str
    erased_time: int | None
    erase_tx_hash: str | None


@dataclass(frozen=True)
class ProviderEvent:
    """A provider registry event (kind ``registered``/``updated``/``suspended``/``reinstated``)."""

    provider: str
    kind: str
    name: str | None
    emergency_responder: bool | None
    block_time: int
    block_number: int
    log_index: int


@dataclass(frozen=True)
class AnchorEvent:
    """A ``BatchAnchored`` event."""

    stream_id: str
    root: str
    submitter: str
    count: int
    block_time: int
    block_number: int
    tx_hash: str


@dataclass(frozen=True)
class StoredEvent:
    """Any archived event, as stored in the generic ``events`` table."""

    name: str
    contract: str
    patient_id: int | None
    args: Mapping[str, Any]
    block_time: int
    block_number: int
    log_index: int
    block_hash: str
    tx_hash: str


@dataclass(frozen=True)
class SyncedBlock:
    """A block the archive has synced, kept for reorg detection."""

    number: int
    hash: str
    timestamp: int


_PROVIDER_KINDS = {
    "ProviderRegistered": "registered",
    "ProviderUpdated": "updated",
    "ProviderKeyUpdated": "key",
    "ProviderSuspended": "suspended",
    "ProviderReinstated": "reinstated",
}


def _int(value: Any, what: str) -> int:
    v = int(value)
    if not 0 <= v <= _MAX_SQL_INT:
        raise IntegrityError(f"{what} {v} does not fit the archive's BIGINT columns")
    return v


class Archive:
    """The audit archive over a :class:`~medledger.audit.db.Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        with db.transaction():
            for stmt in SCHEMA:
                db.execute(stmt)
            version = self._meta("schema_version")
            if version is None:
                self._set_meta("schema_version", str(SCHEMA_VERSION))
            elif int(version) != SCHEMA_VERSION:
                raise IntegrityError(
                    f"audit archive schema version {version}, this code reads {SCHEMA_VERSION}"
                )

    @classmethod
    def open(cls, path: str | Path) -> Archive:
        """Open (creating if needed) a SQLite archive file; ``":memory:"`` for a throwaway one."""
        return cls(SQLiteDatabase(path))

    def close(self) -> None:
        """Close the underlying connection."""
        self.db.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- metadata -------------------------------------------------------------------------

    def _meta(self, key: str) -> str | None:
        rows = self.db.query("SELECT meta_value FROM archive_meta WHERE meta_key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def _int_meta(self, key: str) -> int | None:
        v = self._meta(key)
        return int(v) if v is not None else None

    def _set_meta(self, key: str, value: str) -> None:
        self.db.execute("DELETE FROM archive_meta WHERE meta_key = ?", (key,))
        self.db.execute(
            "INSERT INTO archive_meta (meta_key, meta_value) VALUES (?, ?)", (key, value)
        )

    def bind(self, chain_id: int, medledger: str, anchor_registry: str | None = None) -> None:
        """Tie the archive to one deployment; raise :class:`InvalidInput` if it holds another's."""
        for addr in (medledger, anchor_registry):
            if addr is not None and not is_address(addr):
                raise InvalidInput(f"not an address: {addr!r}")
        wanted = {
            "chain_id": str(int(chain_id)),
            "medledger": to_checksum_address(medledger),
            "anchor_registry": to_checksum_address(anchor_registry) if anchor_registry else "",
        }
        with self.db.transaction():
            for key, value in wanted.items():
                have = self._meta(key)
                if have is None:
                    self._set_meta(key, value)
                elif have != value:
                    raise InvalidInput(
                        f"this audit archive belongs to {key} {have or '(none)'}, "
                        f"not {value or '(none)'}",
                        hint="use a separate archive file per deployment",
                    )

    @property
    def chain_id(self) -> int | None:
        """Chain id of the bound deployment."""
        return self._int_meta("chain_id")

    @property
    def medledger_address(self) -> str | None:
        """MedLedger address of the bound deployment."""
        return self._meta("medledger")

    @property
    def anchor_registry_address(self) -> str | None:
        """AnchorRegistry address of the bound deployment (``None`` if not indexed)."""
        return self._meta("anchor_registry") or None

    @property
    def last_block(self) -> int | None:
        """The last block fully synced (``None`` before the first sync)."""
        return self._int_meta("last_block")

    @property
    def last_block_time(self) -> int | None:
        """Timestamp of :attr:`last_block`."""
        return self._int_meta("last_block_time")

    def synced_blocks(self) -> list[SyncedBlock]:
        """The kept window of synced block hashes, newest first."""
        rows = self.db.query(
            "SELECT block_number, block_hash, block_time FROM synced_blocks "
            "ORDER BY block_number DESC"
        )
        return [SyncedBlock(int(n), str(h), int(t)) for n, h, t in rows]

    # --- writes -----------------------------------------------------------------------------

    def apply_page(
        self,
        events: Sequence[DecodedEvent],
        block_times: Mapping[int, int],
        blocks: Sequence[SyncedBlock],
        last_block: SyncedBlock,
        keep_blocks: int,
    ) -> None:
        """Store one synced page atomically: its events, the window of block hashes and the new
        sync position. Nothing is written if any part fails."""
        with self.db.transaction():
            for ev in events:
                self._insert_event(ev, block_times[ev.block_number])
            for b in blocks:
                self.db.execute("DELETE FROM synced_blocks WHERE block_number = ?", (b.number,))
                self.db.execute(
                    "INSERT INTO synced_blocks (block_number, block_hash, block_time) "
                    "VALUES (?, ?, ?)",
                    (b.number, b.hash, b.timestamp),
                )
            self.db.execute(
                "DELETE FROM synced_blocks WHERE block_number <= ?",
                (last_block.number - keep_blocks,),
            )
            self._set_meta("last_block", str(last_block.number))
            self._set_meta("last_block_hash", last_block.hash)
            self._set_meta("last_block_time", str(last_block.timestamp))

    def rollback_after(self, block_number: int) -> int:
        """Delete everything archived from blocks after ``block_number`` (a reorg's common
        ancestor) and rewind the sync position to it; returns the number of event rows removed."""
        with self.db.transaction():
            removed = int(
                self.db.query(
                    "SELECT COUNT(*) FROM events WHERE block_number > ?", (block_number,)
                )[0][0]
            )
            for table in BLOCK_TABLES:
                self.db.execute(f"DELETE FROM {table} WHERE block_number > ?", (block_number,))  # noqa: S608 - table names are constants
            kept = self.db.query(
                "SELECT block_hash, block_time FROM synced_blocks WHERE block_number = ?",
                (block_number,),
            )
            self._set_meta("last_block", str(block_number))
            if kept:
                self._set_meta("last_block_hash", str(kept[0][0]))
                self._set_meta("last_block_time", str(kept[0][1]))
        return removed

    def _insert_event(self, ev: DecodedEvent, block_time: int) -> None:
        a = ev.args
        pid = _int(a["patientId"], "patientId") if "patientId" in a else None
        pos = (ev.block_number, ev.log_index)
        self.db.execute(
            "INSERT INTO events (block_number, log_index, block_hash, tx_hash, contract, "
            "event_name, patient_id, block_time, args_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*pos, ev.block_hash, ev.tx_hash, ev.address, ev.name, pid, block_time,
             json.dumps(dict(a), sort_keys=True)),
        )  # fmt: skip
        name = ev.name
        if name in CHAINED_EVENT_NAMES and pid is not None:
            self._insert_chain_entry(ev, pid, block_time)
        if name == "ConsentGranted":
            self.db.execute(
                "INSERT INTO consent_events (block_number, log_index, patient_id, grantee, kind, "
                "categories, actions, purposes, valid_from, valid_until, key_bundle, replaced, "
                "block_time, tx_hash) VALUES (?, ?, ?, ?, 'grant', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*pos, pid, a["grantee"], a["categories"], a["actions"], a["purposes"],
                 a["validFrom"], a["validUntil"], a["keyBundle"], int(a["replaced"]), block_time,
                 ev.tx_hash),
            )  # fmt: skip
        elif name == "ConsentRevoked":
            self.db.execute(
                "INSERT INTO consent_events (block_number, log_index, patient_id, grantee, kind, "
                "block_time, tx_hash) VALUES (?, ?, ?, ?, 'revoke', ?, ?)",
                (*pos, pid, a["grantee"], block_time, ev.tx_hash),
            )
        elif name == "BreakGlassOpened":
            self.db.execute(
                "INSERT INTO break_glass (block_number, log_index, patient_id, responder, reason, "
                "categories, expires_at, justification, block_time, tx_hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*pos, pid, a["responder"], a["reason"], a["categories"], a["expiresAt"],
                 a["justification"], block_time, ev.tx_hash),
            )  # fmt: skip
        elif name == "RecordAdded":
            self.db.execute(
                "INSERT INTO records (block_number, log_index, record_id, patient_id, author, "
                "category, cid_codec, block_time, tx_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*pos, a["recordId"], pid, a["author"], a["category"], a["cidCodec"], block_time,
                 ev.tx_hash),
            )  # fmt: skip
        elif name == "RecordErased":
            self.db.execute(
                "INSERT INTO record_erasures (block_number, log_index, record_id, patient_id, "
                "block_time, tx_hash) VALUES (?, ?, ?, ?, ?, ?)",
                (*pos, a["recordId"], pid, block_time, ev.tx_hash),
            )
        elif name in _PROVIDER_KINDS:
            responder = a.get("emergencyResponder")
            self.db.execute(
                "INSERT INTO provider_events (block_number, log_index, provider, kind, name, "
                "emergency_responder, encryption_key, key_document, block_time, tx_hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*pos, a["provider"], _PROVIDER_KINDS[name], a.get("name"),
                 None if responder is None else int(responder), a.get("encryptionKey"),
                 a.get("keyDocument"), block_time, ev.tx_hash),
            )  # fmt: skip
        elif name == "PatientRegistered":
            self.db.execute(
                "INSERT INTO patients (block_number, log_index, patient_id, controller, "
                "encryption_key, key_document, keyring, block_time, tx_hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*pos, pid, a["controller"], a["encryptionKey"], a["keyDocument"], a["keyring"],
                 block_time, ev.tx_hash),
            )  # fmt: skip
        elif name == "ControllerChanged":
            self.db.execute(
                "INSERT INTO controller_changes (block_number, log_index, patient_id, "
                "previous_controller, new_controller, block_time, tx_hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (*pos, pid, a["previousController"], a["newController"], block_time, ev.tx_hash),
            )
        elif name == "BatchAnchored":
            self.db.execute(
                "INSERT INTO anchors (block_number, log_index, stream_id, root, submitter, "
                "item_count, block_time, tx_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (*pos, a["streamId"], a["root"], a["submitter"], _int(a["count"], "count"),
                 block_time, ev.tx_hash),
            )  # fmt: skip

    def _controller(self, patient_id: int) -> str | None:
        """The patient's controller after the entries archived so far (the actor of its
        registration or of its latest controller change)."""
        rows = self.db.query(
            "SELECT actor FROM chain_log WHERE patient_id = ? AND event_name IN "
            "('PatientRegistered', 'ControllerChanged') ORDER BY seq DESC LIMIT 1",
            (patient_id,),
        )
        return str(rows[0][0]) if rows else None

    def _insert_chain_entry(self, ev: DecodedEvent, pid: int, block_time: int) -> None:
        # RecordErased does not name who erased: it is the controller (eraseRecord acts on the
        # caller's own patient), known from the registration and controller changes before it.
        controller = self._controller(pid) if ev.name == "RecordErased" else None
        # An archive started after the registration does not know it: the actor stays "" and
        # verification reports that entry as malformed (the earlier entries are missing anyway);
        # refusing the event would stop the sync for every other patient.
        f = chain_fields(ev.name, ev.args, block_time, controller or "")
        self.db.execute(
            "INSERT INTO chain_log (patient_id, seq, event_name, actor, subject, purpose, "
            "outcome, entry_time, head, block_number, log_index, tx_hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (pid, _int(f.seq, "seq"), ev.name, f.actor, f.subject, f.purpose, f.outcome,
             f.timestamp, ev.args["head"], ev.block_number, ev.log_index, ev.tx_hash),
        )  # fmt: skip

    # --- reads ------------------------------------------------------------------------------

    def _in_chain_order(self, select: str, **filters: Any) -> list[tuple[Any, ...]]:
        """The rows of ``select`` (``SELECT ... FROM table``) whose columns equal every filter
        given (a ``None`` filter is not applied), in chain order."""
        given = {column: value for column, value in filters.items() if value is not None}
        # the clauses name only this module's keyword arguments; values go in as parameters
        where = (" WHERE " + " AND ".join(f"{c} = ?" for c in given)) if given else ""
        return self.db.query(
            f"{select}{where} ORDER BY block_number, log_index", tuple(given.values())
        )

    def chain_entries(self, patient_id: int) -> list[ChainEntry]:
        """Every archived entry of the patient's hash chain (operations, reads, denied writes)
        in ``seq`` order."""
        rows = self.db.query(
            "SELECT patient_id, seq, actor, subject, purpose, outcome, entry_time, head, "
            "block_number, log_index, tx_hash, event_name FROM chain_log WHERE patient_id = ? "
            "ORDER BY seq",
            (patient_id,),
        )
        return [ChainEntry(*r) for r in rows]

    def access_entries(self, patient_id: int) -> list[ChainEntry]:
        """Only the ``AccessRecorded`` entries (reads and denied writes), in ``seq`` order."""
        return [e for e in self.chain_entries(patient_id) if e.event == "AccessRecorded"]

    def consent_events(self, patient_id: int) -> list[ConsentEvent]:
        """Grants and revocations of the patient, in chain order."""
        rows = self._in_chain_order(
            "SELECT patient_id, grantee, kind, categories, actions, purposes, valid_from, "
            "valid_until, key_bundle, block_time, block_number, log_index, tx_hash, replaced "
            "FROM consent_events",
            patient_id=patient_id,
        )
        return [
            ConsentEvent(
                pid, grantee, kind, cats or 0, acts or 0, purps or 0, vf or 0, vu or 0, kb,
                t, b, i, tx, bool(rep),
            )
            for pid, grantee, kind, cats, acts, purps, vf, vu, kb, t, b, i, tx, rep in rows
        ]  # fmt: skip

    def break_glass_events(self, patient_id: int) -> list[BreakGlassEvent]:
        """Break-glass openings on the patient, in chain order."""
        rows = self._in_chain_order(
            "SELECT patient_id, responder, reason, categories, expires_at, justification, "
            "block_time, block_number, log_index, tx_hash FROM break_glass",
            patient_id=patient_id,
        )
        return [BreakGlassEvent(*r) for r in rows]

    def records(self, patient_id: int) -> list[RecordInfo]:
        """The patient's records, oldest first, with erasure information."""
        return self._records("r.patient_id = ?", (patient_id,))

    def record(self, record_id: str, patient_id: int | None = None) -> RecordInfo | None:
        """One record by id (``0x`` hex), or ``None`` if the archive has not seen it. Record ids
        are per patient in v2: pass ``patient_id`` (without it, the first patient's record with
        that id)."""
        if patient_id is None:
            found = self._records("r.record_id = ?", (record_id.lower(),))
        else:
            found = self._records(
                "r.record_id = ? AND r.patient_id = ?", (record_id.lower(), patient_id)
            )
        return found[0] if found else None

    def _records(self, where: str, params: Sequence[Any]) -> list[RecordInfo]:
        # ``where`` is one of three fixed clauses from this class; values go in as parameters.
        rows = self.db.query(
            "SELECT r.record_id, r.patient_id, r.author, r.category, r.cid_codec, "  # noqa: S608
            "r.block_time, r.block_number, r.tx_hash, e.block_time, e.tx_hash FROM records r "
            "LEFT JOIN record_erasures e ON e.record_id = r.record_id "
            "AND e.patient_id = r.patient_id "
            f"WHERE {where} ORDER BY r.block_number, r.log_index",
            params,
        )
        return [RecordInfo(*r) for r in rows]

    def provider_events(self, provider: str | None = None) -> list[ProviderEvent]:
        """Provider registry events (all, or one provider's), in chain order."""
        rows = self._in_chain_order(
            "SELECT provider, kind, name, emergency_responder, block_time, block_number, log_index "
            "FROM provider_events",
            provider=None if provider is None else to_checksum_address(provider),
        )
        return [
            ProviderEvent(p, k, n, None if er is None else bool(er), t, b, i)
            for p, k, n, er, t, b, i in rows
        ]

    def patient_ids(self) -> list[int]:
        """Every patient id the archive has seen registered."""
        return [
            int(r[0])
            for r in self.db.query("SELECT DISTINCT patient_id FROM patients ORDER BY patient_id")
        ]

    def anchors(self, stream_id: str | None = None) -> list[AnchorEvent]:
        """Anchored batches (all, or one stream's), in chain order."""
        rows = self._in_chain_order(
            "SELECT stream_id, root, submitter, item_count, block_time, block_number, tx_hash "
            "FROM anchors",
            stream_id=None if stream_id is None else stream_id.lower(),
        )
        return [AnchorEvent(*r) for r in rows]

    def events(self, name: str | None = None, patient_id: int | None = None) -> list[StoredEvent]:
        """Archived events of any kind, optionally filtered by event name and patient."""
        rows = self._in_chain_order(
            "SELECT event_name, contract, patient_id, args_json, block_time, block_number, "
            "log_index, block_hash, tx_hash FROM events",
            event_name=name,
            patient_id=patient_id,
        )
        return [
            StoredEvent(n, c, p, json.loads(a), t, b, i, bh, tx)
            for n, c, p, a, t, b, i, bh, tx in rows
        ]

    def count_events(self) -> int:
        """Number of archived events of all kinds."""
        return int(self.db.query("SELECT COUNT(*) FROM events")[0][0])
