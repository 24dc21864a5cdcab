"""One entry of a patient's hash chain, and building entries from chained events without an
archive (what a caller verifying straight from the node needs)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from medledger.audit.events import CHAINED_EVENT_NAMES, chain_fields, normalise_args


@dataclass(frozen=True)
class ChainEntry:
    """One entry of a patient's hash chain: a read or denied write (``AccessRecorded``) or an
    operation (registration, grant, revocation, record added/erased, break-glass opened/closed,
    controller change), as the contract hashed it.

    ``actor`` and ``subject`` are the hashed address and 32-byte word (for a read: the reader and
    the record id; see the guide's table); ``timestamp`` the block time; ``event`` the event name.
    The positional order is that of the v1 ``AccessEntry`` (kept as an alias).
    """

    patient_id: int
    seq: int
    actor: str
    subject: str
    purpose: int
    outcome: int
    timestamp: int
    head: str
    block_number: int
    log_index: int
    tx_hash: str
    event: str = "AccessRecorded"

    @property
    def accessor(self) -> str:
        """v1 name of :attr:`actor`."""
        return self.actor

    @property
    def record_id(self) -> str:
        """v1 name of :attr:`subject` (the record id for reads, writes and record operations)."""
        return self.subject

    @property
    def is_access(self) -> bool:
        """A read of a record, allowed or denied (a possible disclosure)."""
        return self.outcome <= 2 or 16 <= self.outcome < 24


#: v1 name, kept so callers constructing entries positionally keep working.
AccessEntry = ChainEntry


@dataclass(frozen=True)
class ChainLog:
    """One chained event of a patient as a caller fetched it (for :func:`chain_entries_from_logs`):
    ``args`` raw or normalised, ``block_time`` the block's timestamp."""

    name: str
    args: Mapping[str, Any]
    block_number: int
    log_index: int
    tx_hash: str
    block_time: int


def chain_entries_from_logs(patient_id: int, logs: Sequence[ChainLog]) -> list[ChainEntry]:
    """The patient's hash-chain entries from its chained events (any of
    :data:`~medledger.audit.events.CHAINED_EVENT_NAMES`; others are ignored), in ``seq`` order,
    ready for :func:`~medledger.audit.verify.verify_entries`. Without the archive: what the SDK's
    own trail uses. The logs must start at the registration for ``RecordErased`` actors to be
    known (the controller at the time); an erasure before any known controller gets actor ``""``,
    which verification reports as malformed."""
    ordered = sorted(logs, key=lambda g: (g.block_number, g.log_index))
    controller: str | None = None
    out: list[ChainEntry] = []
    for g in ordered:
        if g.name not in CHAINED_EVENT_NAMES:
            continue
        args = normalise_args(g.name, g.args)
        f = chain_fields(g.name, args, g.block_time, controller)
        if g.name in ("PatientRegistered", "ControllerChanged"):
            controller = f.actor
        out.append(
            ChainEntry(
                patient_id, f.seq, f.actor, f.subject, f.purpose, f.outcome, f.timestamp,
                args["head"], g.block_number, g.log_index, g.tx_hash, g.name,
            )
        )  # fmt: skip
    return sorted(out, key=lambda e: e.seq)
