"""``medledger store gc``: pins of the record store that nothing on-chain references."""

from __future__ import annotations

from typing import Any

import click

from medledger.cli.output import emit, table
from medledger.cli.state import connection_options, get_state


@click.group()
def store() -> None:
    """The record store against the chain: list and remove pins nothing on-chain needs.

    \b
    A flow pins its documents before the transaction that references them; a command killed in
    between, or a chain reset under a kept store, leaves pins no chain-referenced document
    needs. `store gc` lists them; `store gc --yes` removes them. Anything the chain references
    (records, keyrings, key bundles, emergency kits, key documents, guardian shares, a
    timelock's scheduled calls) is never removed, nor a published recovery request.
    """


@store.command(
    epilog="""\b
Examples:
  medledger store gc          # list what would be removed (changes nothing)
  medledger store gc --yes    # remove it"""
)
@click.option("--yes", is_flag=True, help="Remove the orphaned pins (default: only list them).")
@connection_options
def gc(yes: bool) -> None:
    """List (or with --yes remove) the store's pins that nothing on-chain references.

    The chain is read completely first; if it cannot be, nothing is removed (exit 4). With --yes
    the command waits for every other medledger command using the store to finish, reads the
    chain again, pins referenced content the store holds unpinned, unpins the orphans and
    deletes the blocks no pin reaches.
    """
    from medledger.client.reconcile import collect, reconcile

    state = get_state()
    if yes:
        state.lock_store(exclusive=True)
    ml = state.medledger()
    found = reconcile(ml)
    data: dict[str, Any] = {
        "store": ml.store.location,
        "block": found.block,
        "pins": found.pins,
        "orphaned": [_pin(p) for p in found.orphaned],
        "orphaned_bytes": found.orphaned_bytes,
        "kept_unreferenced": [_pin(p) for p in found.kept],
        "removed": yes,
    }
    if yes:
        done = collect(ml, found)
        data["unpinned"] = [str(c) for c in done.unpinned]
        data["repinned"] = [str(c) for c in done.repinned]
        data["removed_blocks"] = done.gc.removed_blocks
        data["removed_bytes"] = done.gc.removed_bytes
    else:
        data["unpinned_referenced"] = [str(c) for c in found.unpinned_referenced]

    def human(con: Any) -> None:
        rows = [(p["cid"], p["size"] if p["size"] is not None else "?") for p in data["orphaned"]]
        verb = "removed" if yes else "would be removed"
        con.print(
            table(
                ["cid", "bytes"],
                rows,
                title=f"{len(rows)} of {found.pins} pin(s) nothing on-chain references: {verb}",
            )
        )
        for p in data["kept_unreferenced"]:
            con.print(f"kept (a published recovery request): {p['cid']}", markup=False)
        if yes:
            con.print(
                f"unpinned {len(data['unpinned'])}, re-pinned {len(data['repinned'])} "
                f"referenced, deleted {data['removed_blocks']} block(s)",
                markup=False,
            )
        elif rows:
            con.print("run `medledger store gc --yes` to remove them", markup=False)

    emit(state.json, data, human)


def _pin(p: Any) -> dict[str, Any]:
    return {"cid": str(p.cid), "size": p.size}
