"""What an erasure did, and what it could not undo, stated plainly.

The SDK erases a record by tombstoning it on-chain and unpinning the ciphertext blocks in the
store it uses; it destroys no key (the record's data key is wrapped to its category's epoch key,
which the patient's other records of that epoch share) and runs no garbage collection (on a
shared IPFS node that would delete every user's unpinned blocks; the node's own GC removes the
blocks later). It notifies nobody: the on-chain ``RecordErased`` event is the only signal. It
fills an :class:`ErasureReport` and shows it with :func:`render_text` or :func:`render_json`;
the report lists who may hold a key of the record (:class:`KeyHolder`): every past grantee of
its category (:func:`past_grantees`) and the responders of every emergency kit that held it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from medledger.audit.archive import Archive
from medledger.codes import Category

#: Limits of erasure that hold whatever the implementation does; always part of the report.
CANNOT_UNDO: tuple[str, ...] = (
    "Copies already decrypted by authorised parties (grantees, break-glass responders) cannot be "
    "recalled; they remain under those parties' own retention and legal obligations.",
    "The record's on-chain index entry (record id, category, author, time) and its access-log "
    "entries stay on-chain forever; they hold no health data, and the tombstone marks the record "
    "erased.",
    "Unpinning asks the IPFS node this SDK uses to drop the ciphertext when it next collects "
    "garbage; other nodes that fetched it may keep the encrypted blocks.",
    "Key copies held by grantees (their key bundles) and responders (emergency kits) are outside "
    "the patient's control. medledger sent no notification: the on-chain erasure event is all "
    "they see, so the patient has to ask the key holders listed here to delete their copies.",
)


@dataclass(frozen=True)
class KeyHolder:
    """A party that may hold a key of the erased record: a past grantee of its category or a
    responder of an emergency kit that held it. ``notified`` is always False: medledger sends no
    notification (the on-chain ``RecordErased`` event is public)."""

    address: str
    name: str | None
    last_granted_at: int
    notified: bool = False
    role: str = "grantee"  # or "responder"


#: the former name of :class:`KeyHolder`
NotifiedGrantee = KeyHolder


@dataclass(frozen=True)
class ErasureReport:
    """The outcome of erasing one record."""

    patient_id: int
    record_id: str
    category: Category
    tombstone_tx: str | None
    erased_at: datetime | None
    keys_destroyed: tuple[str, ...] = ()
    blocks_unpinned: tuple[str, ...] = ()
    unpin_failures: tuple[str, ...] = ()
    #: who may hold a key of the record (none of them was notified)
    key_holders: tuple[KeyHolder, ...] = ()
    cannot_undo: tuple[str, ...] = field(default=CANNOT_UNDO)

    @property
    def grantees_notified(self) -> tuple[KeyHolder, ...]:
        """Deprecated name of :attr:`key_holders` (nobody is notified)."""
        return self.key_holders

    @property
    def complete(self) -> bool:
        """True when the tombstone is on-chain and every unpin succeeded."""
        return self.tombstone_tx is not None and not self.unpin_failures


def past_grantees(archive: Archive, patient_id: int, category: Category) -> list[KeyHolder]:
    """Everyone the patient ever granted ``category`` to (even if since revoked or expired), with
    their provider name, most recent grant first."""
    bit = 1 << int(category)
    last: dict[str, int] = {}
    for ev in archive.consent_events(patient_id):
        if ev.kind == "grant" and ev.categories & bit:
            last[ev.grantee] = ev.block_time
    names: dict[str, str] = {}
    for pev in archive.provider_events():
        if pev.name is not None:
            names[pev.provider] = pev.name
    return sorted(
        (KeyHolder(a, names.get(a), t) for a, t in last.items()),
        key=lambda g: (-g.last_granted_at, g.address),
    )


def to_dict(report: ErasureReport) -> dict[str, Any]:
    """JSON-able form."""
    d = asdict(report)
    d["category"] = report.category.name.lower()
    d["erased_at"] = report.erased_at.astimezone(UTC).isoformat() if report.erased_at else None
    d["complete"] = report.complete
    return d


def render_json(report: ErasureReport, *, indent: int | None = 2) -> str:
    """The report as JSON text."""
    return json.dumps(to_dict(report), indent=indent)


def render_text(report: ErasureReport) -> str:
    """The report as plain text for a terminal or an e-mail."""
    when = (
        report.erased_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        if report.erased_at
        else "not recorded"
    )
    lines = [
        f"Erasure of record {report.record_id} "
        f"({report.category.name.lower()}, patient {report.patient_id})",
        "",
        "Done:",
        f"  - on-chain tombstone: {report.tombstone_tx or 'NOT SENT'} (at {when})",
    ]
    if report.keys_destroyed:
        lines.append(f"  - keys destroyed ({len(report.keys_destroyed)}):")
        lines += [f"      {k}" for k in report.keys_destroyed]
    else:
        lines.append("  - keys destroyed: none")
    lines.append(
        f"  - blocks unpinned: {len(report.blocks_unpinned)} (the store deletes them at its next "
        "garbage collection)"
    )
    lines += [f"      {c}" for c in report.blocks_unpinned]
    if report.unpin_failures:
        lines.append(f"  - blocks NOT unpinned ({len(report.unpin_failures)}), retry needed:")
        lines += [f"      {c}" for c in report.unpin_failures]
    lines.append("  - notifications: none (medledger sent no notification)")
    grantees = [h for h in report.key_holders if h.role == "grantee"]
    responders = [h for h in report.key_holders if h.role != "grantee"]
    lines += ["", "May still hold a key of this record (ask them to delete their copies):"]
    if grantees:
        lines.append(f"  - past grantees of this category ({len(grantees)}):")
        lines += [f"      {g.name or 'unregistered'} {g.address}" for g in grantees]
    else:
        lines.append("  - past grantees of this category: none")
    if responders:
        lines.append(f"  - emergency responders whose kit held it ({len(responders)}):")
        lines += [f"      {r.name or 'unregistered'} {r.address}" for r in responders]
    else:
        lines.append("  - emergency responders whose kit held it: none")
    lines += ["", "Cannot be undone:"]
    lines += [f"  - {s}" for s in report.cannot_undo]
    status = "complete" if report.complete else "INCOMPLETE"
    lines += ["", f"Status: {status}"]
    return "\n".join(lines) + "\n"
