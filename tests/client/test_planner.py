"""One consent planner: the direct and the relayed path make the same plan for the same request.

``sign_*`` sends nothing, so the direct call right after it plans from the same chain state; the
plans' shapes (grants, revoked grantee, new epochs, keyring, refreshed bundles, kit; times
relative to the plan's ``now``, random key material left out) must be equal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from medledger import Medledger, Session
from medledger.client.planner import ConsentPlan
from medledger.codes import Category

DAY = 86400


class Case:
    def __init__(self) -> None:
        self.ml = Medledger.embedded()
        s = [self.ml.session(self.ml.dev_party(i)) for i in range(6)]
        self.consortium, self.patient, self.clinic, self.lab, self.er, self.other = s
        for who, name in ((self.clinic, "Clinic"), (self.lab, "Lab"), (self.other, "Other")):
            self.consortium.providers.register(who.party, name=name)
        self.consortium.providers.register(self.er.party, name="ER", emergency_responder=True)
        self.patient.identity.register()
        self.patient.consent.grant(self.clinic.address, ["labs", "allergies"], duration=30 * DAY)

    def same_plan(
        self, sign: Callable[[Session], Any], direct: Callable[[Session], Any]
    ) -> ConsentPlan:
        sign(self.patient)
        relayed = self.patient.consent.last_plan
        direct(self.patient)
        executed = self.patient.consent.last_plan
        assert relayed is not None
        assert executed is not None
        assert relayed is not executed
        assert relayed.shape() == executed.shape()
        return executed


@pytest.fixture
def case() -> Iterator[Case]:
    c = Case()
    yield c
    c.ml.close()


def test_grant_on_an_existing_boundary_needs_no_epoch(case: Case) -> None:
    until = case.ml.now() + 10 * DAY
    case.patient.consent.grant(case.lab.address, ["imaging"], valid_until=until)
    plan = case.same_plan(
        lambda p: p.consent.sign_grant(case.other.address, ["imaging"], valid_until=until),
        lambda p: p.consent.grant(case.other.address, ["imaging"], valid_until=until),
    )
    assert plan.new_epochs == ()
    assert plan.keyring_cid is None
    assert len(plan.requests) == 1


def test_grant_with_valid_from(case: Case) -> None:
    start = case.ml.now() + DAY
    plan = case.same_plan(
        lambda p: p.consent.sign_grant(
            case.lab.address, ["imaging"], valid_from=start, duration=3 * DAY
        ),
        lambda p: p.consent.grant(
            case.lab.address, ["imaging"], valid_from=start, duration=3 * DAY
        ),
    )
    assert plan.requests[0].valid_from == start


def test_grant_needing_a_new_epoch_refreshes_other_grantees(case: Case) -> None:
    plan = case.same_plan(
        lambda p: p.consent.sign_grant(case.lab.address, ["labs"], duration=DAY),
        lambda p: p.consent.grant(case.lab.address, ["labs"], duration=DAY),
    )
    assert plan.new_epochs
    assert plan.keyring_cid is not None
    assert [g.grantee for g in plan.refreshed] == [case.clinic.address]


def test_grant_many(case: Case) -> None:
    reqs = [
        {"grantee": case.lab.address, "categories": ["labs"], "duration": DAY},
        {"grantee": case.other.address, "categories": ["vitals"], "duration": 2 * DAY},
    ]
    plan = case.same_plan(
        lambda p: p.consent.sign_grant_many(reqs), lambda p: p.consent.grant_many(reqs)
    )
    assert len(plan.requests) == 2
    assert len(plan.refreshed) == 1


def test_grant_touching_an_emergency_category_reseals_the_kit(case: Case) -> None:
    case.patient.emergency.configure(responders=[case.er.address])
    plan = case.same_plan(
        lambda p: p.consent.sign_grant(case.lab.address, ["allergies"], duration=DAY),
        lambda p: p.consent.grant(case.lab.address, ["allergies"], duration=DAY),
    )
    assert plan.kit is not None


def test_revoke_with_remaining_grantees(case: Case) -> None:
    case.patient.consent.grant(case.lab.address, ["labs"], duration=DAY)
    plan = case.same_plan(
        lambda p: p.consent.sign_revoke(case.lab.address),
        lambda p: p.consent.revoke(case.lab.address),
    )
    assert plan.revoked == case.lab.address
    assert [g.grantee for g in plan.refreshed] == [case.clinic.address]


def test_revoke_of_the_last_grantee(case: Case) -> None:
    case.patient.consent.grant(case.lab.address, ["imaging"], duration=DAY)
    plan = case.same_plan(
        lambda p: p.consent.sign_revoke(case.lab.address),
        lambda p: p.consent.revoke(case.lab.address),
    )
    assert plan.refreshed == ()
    assert plan.new_epochs
    assert plan.kit is None


def test_revoke_is_one_transaction_and_skips_suspended_grantees(case: Case) -> None:
    case.patient.consent.grant(case.lab.address, ["labs"], duration=DAY)
    case.patient.consent.grant(case.other.address, ["labs"], duration=2 * DAY)
    case.consortium.providers.suspend(case.other.address)
    info = case.patient.consent.revoke(case.lab.address)
    plan = case.patient.consent.last_plan
    assert plan is not None
    # v2: revoke + keyring compare-and-swap + refreshed bundles in ONE revokeAndRekey; the
    # suspended grantee gets no bundle (the contract would revert the whole change)
    assert [g.grantee for g in plan.refreshed] == [case.clinic.address]
    assert info.extra_txs == ()
    tx = info.tx
    assert len(tx.events_named("ConsentRevoked")) == 1
    [keyring] = tx.events_named("KeyringUpdated")
    assert bytes(keyring.args["previousKeyring"]) == plan.expected_keyring
    assert [e.args["grantee"] for e in tx.events_named("KeyBundleRefreshed")] == [
        case.clinic.address
    ]


def test_a_lost_keyring_race_is_replanned_without_losing_the_winner(
    case: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    case.patient.consent.grant(case.lab.address, ["labs"], duration=DAY)
    # a second session of the same patient (another device) publishes a keyring while the first
    # one's revocation is in flight: a real concurrent transaction, not a mock
    other_device = case.ml.session(case.patient.party)
    contract = case.patient.contract
    send = contract.revoke_and_rekey
    attempts: list[bytes] = []

    def racing(grantee: str, expected: bytes, keyring: bytes, bundles: Any) -> Any:
        attempts.append(expected)
        if len(attempts) == 1:
            other_device.consent.grant(case.other.address, ["vitals"], duration=3 * DAY)
        return send(grantee, expected, keyring, bundles)

    monkeypatch.setattr(contract, "revoke_and_rekey", racing)
    before = contract.get_patient(1).keyring
    case.patient.consent.revoke(case.lab.address)
    assert len(attempts) == 2  # the first lost the compare-and-swap, the re-plan won
    assert attempts[0] == before != attempts[1]
    final = case.patient.identity.keyring()
    # the other device's vitals epoch boundary survived the revocation's keyring
    assert len(final.epochs(int(Category.VITALS))) >= 2
    assert not contract.get_consent(1, case.lab.address).exists
