"""Reference only (not collected: no test_ prefix). Run against v1 (commit 9574811):
`git archive 9574811 | tar -x -C /tmp/v1`, copy this file to
/tmp/v1/tests/contracts/test_v1_attacks.py, then `ape test tests/contracts/test_v1_attacks.py -s`.
Every attack of issue 12 below SUCCEEDS on v1 (observed 2026-12-02, see ATTACKS.md)."""

from typing import Any

from conftest import (
    CAT_LABS,
    DAY,
    GRANT_TYPES,
    RAW,
    READ,
    ZERO32,
    GrantArgs,
    b32,
    domain,
    mask,
    sign,
)


def test_v1_p1(world: Any, patient: Any, stranger: Any) -> None:
    world.addRecord(1, b32("r"), CAT_LABS, RAW, sender=patient)
    r = world.recordAccessBatch([(1, b32("r"), 0)] * 100, sender=stranger)
    print(
        "P1 v1: stranger appended", world.logHead(1).count, "entries, gas/entry", r.gas_used // 100
    )
    assert world.logHead(1).count == 100


def test_v1_p3(world: Any, patient: Any, stranger: Any) -> None:
    world.rotateController(stranger, sender=patient)
    assert world.patientOf(stranger) == 1  # stranger made controller without its consent
    print("P3 v1: stranger became controller without consent")


def test_v1_p5(world: Any, patient: Any, patient2: Any) -> None:
    world.addRecord(2, b32("cid"), CAT_LABS, RAW, sender=patient2)  # front-run
    import ape

    with ape.reverts(world.RecordAlreadyExists):
        world.addRecord(1, b32("cid"), CAT_LABS, RAW, sender=patient)
    print("P5 v1: squatted record id blocks the real patient")


def test_v1_p6(anchors: Any, owner: Any, stranger: Any) -> None:
    from merkle import build, leaf_of

    root, proofs = build([leaf_of(b32("forged"))])
    anchors.anchor(b32("hospital"), root, 1, sender=stranger)
    assert anchors.verifyItem(b32("hospital"), root, b32("forged"), proofs[0])
    print("P6 v1: forged root in another's stream verifies")


def test_v1_p7(world: Any, patient: Any, doctor: Any, stranger: Any, chain: Any) -> None:
    until = chain.pending_timestamp + DAY
    g = GrantArgs(doctor.address, mask(CAT_LABS), READ, 1, 0, until)
    deadline = chain.pending_timestamp + 3600
    sig = sign(patient, domain(world, chain.chain_id), GRANT_TYPES, g.message(1, 0, deadline))
    world.grant(doctor, mask(CAT_LABS), READ, 1, 0, until, ZERO32, sender=patient)
    world.revoke(doctor, sender=patient)
    world.grantBySig(1, g.as_tuple(), deadline, sig, sender=stranger)
    assert world.hasAccess(1, doctor, CAT_LABS, READ)
    print("P7 v1: old signed grant resurrected consent after direct revoke")


def test_v1_p11(world: Any, patient: Any) -> None:
    world.setKeyring(b32("a"), sender=patient)
    world.setKeyring(b32("b"), sender=patient)  # second flow silently overwrites
    assert world.getPatient(1).keyring == b32("b")
    print("P11 v1: last writer wins")


def test_v1_p12(world: Any, patient: Any, doctor: Any, chain: Any) -> None:
    import pytest

    with pytest.raises(Exception) as e:
        world.grant(doctor, 1, 1, 1, 0, 2**32 + 1000, ZERO32, sender=patient)
    print("P12 v1: grant ending after 2106:", type(e.value).__name__)
