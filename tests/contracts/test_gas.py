"""Gas bounds (receipt gasUsed) of the hot paths, asserted as exact upper bounds.

Run with ``-s`` to print the measured table (docs/contracts.md holds a copy). Set
``MEDLEDGER_GAS_REPORT=path.json`` to also write it as JSON.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from conftest import (
    keyring_of,
    ADD_RECORD_TYPES,
    CAT_ALLERGIES,
    CAT_LABS,
    DAY,
    GRANT_TYPES,
    P_RESEARCH,
    P_TREATMENT,
    RAW,
    READ,
    REVOKE_TYPES,
    WRITE,
    GrantArgs,
    b32,
    domain,
    mask,
    sign,
)

BOUNDS = {
    "grant (new grantee)": 55_000,
    "revoke": 30_000,
    "recordAccess (log exists)": 40_000,
    "recordAccess (patient's first entry)": 57_000,
    "addRecord (patient)": 60_000,
    "addRecord (provider, write consent)": 60_000,
    "anchor (count 1)": 52_000,
    "anchor (count 2**40 - 1)": 52_000,
}

_measured: dict[str, int] = {}


def _note(name: str, receipt: Any) -> int:
    gas = int(receipt.gas_used)
    _measured[name] = gas
    return gas


@pytest.fixture(scope="module", autouse=True)
def _report() -> Any:
    yield
    if not _measured:
        return
    print("\n| operation | gas used | bound |\n|---|---:|---:|")
    for name, gas in _measured.items():
        bound = BOUNDS.get(name)
        print(f"| {name} | {gas:,} | {f'{bound:,}' if bound else '-'} |")
    path = os.environ.get("MEDLEDGER_GAS_REPORT")
    if path:
        with open(path, "w") as fh:
            json.dump(_measured, fh, indent=2)


def _bounded(name: str, receipt: Any) -> None:
    gas = _note(name, receipt)
    assert gas <= BOUNDS[name], f"{name}: {gas} > {BOUNDS[name]}"


def test_consent_gas(
    world: Any, patient: Any, doctor: Any, lab: Any, stranger: Any, chain: Any
) -> None:
    until = chain.pending_timestamp + 30 * DAY
    g = world.grant(
        doctor,
        mask(CAT_LABS, CAT_ALLERGIES),
        READ | WRITE,
        mask(P_TREATMENT),
        0,
        until,
        b32("kb"),
        sender=patient,
    )
    _bounded("grant (new grantee)", g)
    r = world.revoke(doctor, sender=patient)
    _bounded("revoke", r)
    assert r.gas_used <= g.gas_used

    dom = domain(world, chain.chain_id)
    args = GrantArgs(lab.address, mask(CAT_LABS), READ, mask(P_TREATMENT), 0, until, b32("kb"))
    deadline = chain.pending_timestamp + 3600
    sig = sign(patient, dom, GRANT_TYPES, args.message(1, 0, deadline))
    _note(
        "grantBySig (first nonce of the signer)",
        world.grantBySig(1, args.as_tuple(), deadline, sig, sender=stranger),
    )
    msg = {"patientId": 1, "grantee": lab.address, "nonce": 1, "deadline": deadline}
    _note(
        "revokeBySig",
        world.revokeBySig(1, lab, deadline, sign(patient, dom, REVOKE_TYPES, msg), sender=stranger),
    )


def test_access_gas(
    world: Any, patient: Any, doctor: Any, lab: Any, responder: Any, chain: Any
) -> None:
    until = chain.pending_timestamp + 30 * DAY
    world.grant(
        doctor,
        mask(CAT_LABS, CAT_ALLERGIES),
        READ | WRITE,
        mask(P_TREATMENT),
        0,
        until,
        b32("kb"),
        sender=patient,
    )
    _bounded("addRecord (patient)", world.addRecord(1, b32("r1"), CAT_LABS, RAW, keyring_of(1), sender=patient))
    _bounded(
        "addRecord (provider, write consent)",
        world.addRecord(1, b32("r2"), CAT_LABS, RAW, keyring_of(1), sender=doctor),
    )
    _bounded(
        "recordAccess (patient's first entry)",
        world.recordAccess(1, b32("r1"), P_TREATMENT, sender=doctor),
    )
    _bounded(
        "recordAccess (log exists)", world.recordAccess(1, b32("r2"), P_TREATMENT, sender=doctor)
    )
    _note(
        "recordAccess by the patient", world.recordAccess(1, b32("r1"), P_TREATMENT, sender=patient)
    )
    _note(
        "recordAccess denied (purpose, no break-glass)",
        world.recordAccess(1, b32("r1"), P_RESEARCH, sender=doctor),
    )
    _note(
        "recordAccess denied (no consent)",
        world.recordAccess(1, b32("r1"), P_TREATMENT, sender=lab),
    )
    _note("openBreakGlass", world.openBreakGlass(1, 1, 0, b32("why"), sender=responder))
    world.addRecord(1, b32("allergy"), CAT_ALLERGIES, RAW, keyring_of(1), sender=patient)
    _note(
        "recordAccess via break-glass", world.recordAccess(1, b32("allergy"), 1, sender=responder)
    )

    # Batches read the same record: the record, account and consent slots are warm after the
    # first element, which is the case batching is for (one reader, one patient's documents).
    for n in (1, 10, 100):
        receipt = world.recordAccessBatch([(1, b32("r1"), P_TREATMENT)] * n, sender=doctor)
        _measured[f"recordAccessBatch x{n}, per access"] = int(receipt.gas_used) // n

    dom = domain(world, chain.chain_id)
    deadline = chain.pending_timestamp + 3600
    msg = {
        "patientId": 1,
        "recordId": b32("r3"),
        "category": CAT_LABS,
        "cidCodec": RAW,
        "author": doctor.address,
        "nonce": 0,
        "deadline": deadline,
    }
    receipt = world.addRecordBySig(
        1,
        b32("r3"),
        CAT_LABS,
        RAW,
        doctor,
        deadline,
        sign(doctor, dom, ADD_RECORD_TYPES, msg),
        sender=patient,
    )
    _note("addRecordBySig (first nonce of the author)", receipt)
    assert world.hasAccess(1, doctor, CAT_LABS, WRITE)


def test_anchor_gas_is_independent_of_batch_size(anchors: Any, stranger: Any) -> None:
    small = anchors.anchor(b32("s"), b32("root-1"), 1, sender=stranger)
    large = anchors.anchor(b32("s"), b32("root-2"), 2**40 - 1, sender=stranger)
    _bounded("anchor (count 1)", small)
    _bounded("anchor (count 2**40 - 1)", large)
    # Only the calldata of the count differs (4 more non-zero bytes at 12 gas extra each).
    assert large.gas_used - small.gas_used == 4 * 12
