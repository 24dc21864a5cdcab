"""What an erasure did, and what it could not undo, stated plainly.

The SDK erases a record by tombstoning it on-chain and unpinning the ciphertext blocks; no key is
destroyed (the record's data key is wrapped to its category's epoch key, which other records
share). It fills an :class:`ErasureReport` and shows it with :func:`render_text` or
:func:`render_json`. :func:`past_grantees` lists who held access to the
record's category and so is notified.
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
    "Unpinning asks IPFS nodes we control to drop the ciphertext; other nodes that fetched it may "
    "keep the encrypted blocks, which stay unreadable once every key copy is destroyed.",
    "Key copies held by grantees (their key bundles) are outside the patient's control; erasure "
    "relies on the grantee deleting them on notification.",
)


@dataclass(frozen=True)
class NotifiedGrantee:
    """A past grantee of the record's category, notified of the erasure."""

    address: str
    name: str | None
    last_granted_at: int
    notified: bool = True


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
    grantees_notified: tuple[NotifiedGrantee, ...] = ()
    cannot_undo: tuple[str, ...] = field(default=CANNOT_UNDO)

    @property
    def complete(self) -> bool:
        """True when the tombstone is on-chain and every unpin succeeded."""
        return self.tombstone_tx is not None and not self.unpin_failures


def past_grantees(archive: Archive, patient_id: int, category: Category) -> list[NotifiedGrantee]:
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
        (NotifiedGrantee(a, names.get(a), t) for a, t in last.items()),
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
    lines.append(f"  - blocks unpinned: {len(report.blocks_unpinned)}")
    lines += [f"      {c}" for c in report.blocks_unpinned]
    if report.unpin_failures:
        lines.append(f"  - blocks NOT unpinned ({len(report.unpin_failures)}), retry needed:")
        lines += [f"      {c}" for c in report.unpin_failures]
    if report.grantees_notified:
        lines.append(
            f"  - past grantees of this category notified ({len(report.grantees_notified)}):"
        )
        for g in report.grantees_notified:
            state = "notified" if g.notified else "NOT notified"
            lines.append(f"      {g.name or 'unregistered'} {g.address} ({state})")
    else:
        lines.append("  - past grantees of this category: none")
    lines += ["", "Cannot be undone:"]
    lines += [f"  - {s}" for s in report.cannot_undo]
    status = "complete" if report.complete else "INCOMPLETE"
    lines += ["", f"Status: {status}"]
    return "\n".join(lines) + "\n"
