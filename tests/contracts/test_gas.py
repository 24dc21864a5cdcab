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
    keyring_of,
    mask,
    nonce_key,
    sign,
)

BOUNDS = {
    # issue 12 bounds (v2). Every patient-touching operation also appends to the hash chain; the
    # chain slot exists from registration, so "first entry" no longer costs a fresh slot.
    "grant (new grantee)": 62_000,
    "revoke": 33_000,
    "recordAccess (log exists)": 40_000,
    "addRecord (patient)": 62_000,
    "addRecord (provider, write consent)": 62_000,
    "openBreakGlass": 66_000,
    "closeBreakGlass": 38_100,
    "revokeAndRekey (one refreshed bundle)": 75_000,
    "anchor (count 1)": 52_000,
    "anchor (count 2**40 - 1)": 52_000,
    # issue 15: guardian key shares (digest stored with the guardian set) and their hand-over
    "setGuardians (3 guardians, shares digest)": 168_000,
    "approveRecovery (first approval)": 111_000,
    "postRecoveryShare": 34_000,
    "acceptRecovery": 69_000,
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
    epoch = world.signatureEpoch(1)
    nonce = world.nonces(patient, nonce_key(lab))
    sig = sign(patient, dom, GRANT_TYPES, args.message(1, nonce, deadline, epoch))
    _note(
        "grantBySig (first nonce of the key)",
        world.grantBySig(1, args.as_tuple(), epoch, nonce, deadline, sig, sender=stranger),
    )
    msg = {
        "patientId": 1,
        "grantee": lab.address,
        "epoch": epoch,
        "nonce": nonce + 1,
        "deadline": deadline,
    }
    _note(
        "revokeBySig",
        world.revokeBySig(
            1,
            lab,
            epoch,
            nonce + 1,
            deadline,
            sign(patient, dom, REVOKE_TYPES, msg),
            sender=stranger,
        ),
    )
    # atomic revoke + keyring CAS + one refreshed bundle
    world.grant(
        doctor, mask(CAT_LABS), READ, mask(P_TREATMENT), 0, until, b32("kb"), sender=patient
    )
    world.grant(lab, mask(CAT_LABS), READ, mask(P_TREATMENT), 0, until, b32("kb"), sender=patient)
    rr = world.revokeAndRekey(
        doctor, keyring_of(1), b32("keyring-2"), [(lab.address, b32("kb2"))], sender=patient
    )
    _bounded("revokeAndRekey (one refreshed bundle)", rr)


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
    _bounded(
        "addRecord (patient)",
        world.addRecord(1, b32("r1"), CAT_LABS, RAW, keyring_of(1), sender=patient),
    )
    _bounded(
        "addRecord (provider, write consent)",
        world.addRecord(1, b32("r2"), CAT_LABS, RAW, keyring_of(1), sender=doctor),
    )
    _note(
        "recordAccess (first read of the record by this reader)",
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
    _bounded("openBreakGlass", world.openBreakGlass(1, 1, 0, b32("why"), sender=responder))
    world.addRecord(1, b32("allergy"), CAT_ALLERGIES, RAW, keyring_of(1), sender=patient)
    _note(
        "recordAccess via break-glass", world.recordAccess(1, b32("allergy"), 1, sender=responder)
    )
    _bounded("closeBreakGlass", world.closeBreakGlass(1, responder, sender=patient))

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
        "keyring": keyring_of(1),
        "author": doctor.address,
        "nonce": int(world.nonces(doctor, 1)),
        "deadline": deadline,
    }
    receipt = world.addRecordBySig(
        1,
        b32("r3"),
        CAT_LABS,
        RAW,
        keyring_of(1),
        doctor,
        msg["nonce"],
        deadline,
        sign(doctor, dom, ADD_RECORD_TYPES, msg),
        sender=patient,
    )
    _note("addRecordBySig (first nonce of the author)", receipt)
    assert world.hasAccess(1, doctor, CAT_LABS, WRITE)


def test_recovery_gas(
    world: Any, patient: Any, guardians: list[Any], fresh_key: Any, chain: Any
) -> None:
    _bounded(
        "setGuardians (3 guardians, shares digest)",
        world.setGuardians(guardians, 2, DAY, b32("shares"), sender=patient),
    )
    _bounded(
        "approveRecovery (first approval)",
        world.approveRecovery(1, fresh_key, sender=guardians[0]),
    )
    world.approveRecovery(1, fresh_key, sender=guardians[1])
    _bounded("postRecoveryShare", world.postRecoveryShare(1, b32("s"), sender=guardians[0]))
    chain.pending_timestamp += DAY
    _bounded("acceptRecovery", world.acceptRecovery(1, sender=fresh_key))


def test_anchor_gas_is_independent_of_batch_size(anchors: Any, stranger: Any) -> None:
    small = anchors.anchor(b32("s"), b32("root-1"), 1, sender=stranger)
    large = anchors.anchor(b32("s"), b32("root-2"), 2**40 - 1, sender=stranger)
    _bounded("anchor (count 1)", small)
    _bounded("anchor (count 2**40 - 1)", large)
    # Only the calldata of the count differs (4 more non-zero bytes at 12 gas extra each).
    assert large.gas_used - small.gas_used == 4 * 12
