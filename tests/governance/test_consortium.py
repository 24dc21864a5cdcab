"""The consortium governs the provider registry through a 2-of-3 Safe behind a 48 h timelock:
what it can do, what one owner cannot, and every malformed proposal refused before (and, when
the SDK checks are bypassed, by) the chain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.governance import Gov, execute, register_proposal, signed, submitter
from medledger.errors import MedledgerError, NotAuthorized, SignatureError
from medledger.governance import (
    DEFAULT_MIN_DELAY,
    OperationNotReady,
    Proposal,
    ProposalAlreadyExecuted,
    ProposalTampered,
    ThresholdNotReached,
)
from medledger.governance.safe import pack_signatures, safe_tx_hash

_register_proposal = register_proposal
_signed = signed
_submitter = submitter
_execute = execute


def test_setup_moves_the_registry_to_timelock_and_safe(gov: Gov) -> None:
    c = gov.consortium
    assert c.registry.owner() == c.timelock.address
    assert c.registry.pending_owner() == "0x0000000000000000000000000000000000000000"
    assert c.registry.suspender() == c.safe.address
    assert c.timelock.min_delay() == DEFAULT_MIN_DELAY
    assert c.safe.owners() == [o.address for o in gov.owners]
    assert c.safe.threshold() == 2
    # The former single key can no longer act on the registry.
    old = gov.ml.session(gov.ml.dev_party(0))
    with pytest.raises(MedledgerError):
        old.contract.suspend_provider(gov.ml.dev_party(5).address)


def test_safe_tx_hash_matches_the_safe(gov: Gov) -> None:
    _, p = _register_proposal(gov, 3, False)
    on_chain = gov.consortium.safe.call("getTransactionHash", *p.tx.exec_args(), p.tx.nonce)
    assert bytes(on_chain) == safe_tx_hash(p.chain_id, p.safe, p.tx) == p.safe_tx_hash


def test_two_of_three_register_a_responder_through_the_timelock(gov: Gov, tmp_path: Path) -> None:
    c = gov.consortium
    er, p = _register_proposal(gov, 3, True)
    # Offline round trip: each owner signs the file on its own.
    path = tmp_path / "register.json"
    p.save(path)
    c.sign(Proposal.load(path), gov.owners[0]).save(path)
    c.sign(Proposal.load(path), gov.owners[2]).save(path)
    _execute(gov, Proposal.load(path))
    assert gov.ml.providers.get(er).status == 0  # only scheduled

    # The patient sees the change coming, with its date.
    patient = gov.ml.session(gov.ml.dev_party(4))
    patient.identity.register()
    pending = c.scheduled()
    assert [(s.function, s.state) for s in pending] == [("registerProvider", "pending")]
    assert pending[0].args["provider"] == er
    assert pending[0].args["emergencyResponder"] is True
    assert "as an emergency responder" in pending[0].summary
    assert pending[0].ready_at >= gov.ml.now() + DEFAULT_MIN_DELAY - 60

    run = _signed(gov, c.propose_execute(p), 1, 2)
    with pytest.raises(OperationNotReady):
        _execute(gov, run)
    gov.ml.increase_time(DEFAULT_MIN_DELAY + 1)
    _execute(gov, run)
    got = gov.ml.providers.get(er)
    assert got.status == 1
    assert got.emergency_responder
    assert c.scheduled() == []
    # History: the set-up's ownership acceptances (both registries), then this registration.
    history = [(s.contract, s.function, s.state) for s in c.scheduled(include_done=True)]
    assert history == [
        ("MedLedger", "acceptOwnership", "done"),
        ("CustodianRegistry", "acceptOwnership", "done"),
        ("MedLedger", "registerProvider", "done"),
    ]


def test_responder_flag_update_is_visible_before_it_applies(gov: Gov) -> None:
    c = gov.consortium
    clinic, p = _register_proposal(gov, 3, False)
    _execute(gov, _signed(gov, p, 0, 1))
    gov.ml.increase_time(DEFAULT_MIN_DELAY + 1)
    _execute(gov, _signed(gov, c.propose_execute(p), 0, 1))
    upd = _signed(gov, c.propose_update(clinic, True, "Clinic"), 1, 2)
    _execute(gov, upd)
    (change,) = c.scheduled()
    assert change.summary.startswith(f"provider {clinic} will become an emergency responder at ")
    assert not gov.ml.providers.get(clinic).emergency_responder
    gov.ml.increase_time(DEFAULT_MIN_DELAY + 1)
    _execute(gov, _signed(gov, c.propose_execute(upd), 0, 2))
    assert c.registry.get_provider(clinic).emergency_responder


def test_one_owner_alone_cannot(gov: Gov) -> None:
    c = gov.consortium
    _, p = _register_proposal(gov, 3, False)
    p = _signed(gov, p, 0)
    with pytest.raises(ThresholdNotReached):
        _execute(gov, p)
    # The Safe itself refuses one signature too (SDK checks bypassed).
    nonce = c.safe.nonce()
    with pytest.raises(MedledgerError):
        c.safe.connect_as(_submitter(gov)).exec_transaction(p.tx, pack_signatures(p.signatures))
    assert c.safe.nonce() == nonce
    assert c.scheduled() == []


def test_suspension_is_immediate_and_reinstatement_waits(gov: Gov) -> None:
    c = gov.consortium
    clinic, p = _register_proposal(gov, 3, False)
    _execute(gov, _signed(gov, p, 0, 1))
    gov.ml.increase_time(DEFAULT_MIN_DELAY + 1)
    _execute(gov, _signed(gov, c.propose_execute(p), 0, 1))
    _execute(gov, _signed(gov, c.propose_suspend(clinic), 0, 2))
    assert c.registry.get_provider(clinic).status == 2  # same block, no delay
    back = _signed(gov, c.propose_reinstate(clinic), 1, 2)
    _execute(gov, back)
    assert c.registry.get_provider(clinic).status == 2
    gov.ml.increase_time(DEFAULT_MIN_DELAY + 1)
    _execute(gov, _signed(gov, c.propose_execute(back), 0, 1))
    assert c.registry.get_provider(clinic).status == 1


def test_non_owner_signature_is_refused(gov: Gov) -> None:
    c = gov.consortium
    _, p = _register_proposal(gov, 3, False)
    with pytest.raises(NotAuthorized):
        c.sign(p, gov.outsider)
    # Slipped into the file by hand: refused at execution, nothing sent.
    forged = p.sign(gov.outsider, [gov.outsider.address])
    forged = _signed(gov, forged, 0)
    with pytest.raises(NotAuthorized):
        _execute(gov, forged)
    nonce = c.safe.nonce()
    with pytest.raises(MedledgerError):  # GS026 on chain
        c.safe.connect_as(_submitter(gov)).exec_transaction(
            forged.tx, pack_signatures(forged.signatures)
        )
    assert c.safe.nonce() == nonce
    assert c.scheduled() == []


def test_signature_over_another_transaction_is_refused(gov: Gov) -> None:
    c = gov.consortium
    _, p = _register_proposal(gov, 3, False)
    _, other = _register_proposal(gov, 5, False)
    other = _signed(gov, other, 0, 1)
    moved = Proposal(
        p.chain_id, p.safe, p.action, p.summary, p.tx, p.timelock, dict(other.signatures)
    )
    with pytest.raises(SignatureError):
        _execute(gov, moved)
    nonce = c.safe.nonce()
    with pytest.raises(MedledgerError):
        c.safe.connect_as(_submitter(gov)).exec_transaction(p.tx, pack_signatures(other.signatures))
    assert c.safe.nonce() == nonce
    assert c.scheduled() == []


def test_replayed_transaction_is_refused(gov: Gov) -> None:
    c = gov.consortium
    clinic, p = _register_proposal(gov, 3, False)
    _execute(gov, _signed(gov, p, 0, 1))
    gov.ml.increase_time(DEFAULT_MIN_DELAY + 1)
    _execute(gov, _signed(gov, c.propose_execute(p), 0, 1))
    s = _signed(gov, c.propose_suspend(clinic), 0, 1)
    _execute(gov, s)
    _execute(gov, _signed(gov, c.propose_reinstate(clinic, delay=DEFAULT_MIN_DELAY), 1, 2))
    nonce = c.safe.nonce()
    with pytest.raises(ProposalAlreadyExecuted):
        _execute(gov, s)
    with pytest.raises(MedledgerError):  # the Safe's nonce moved on: signatures no longer match
        c.safe.connect_as(_submitter(gov)).exec_transaction(s.tx, pack_signatures(s.signatures))
    assert c.safe.nonce() == nonce


def test_timelocked_operation_cannot_run_early(gov: Gov) -> None:
    c = gov.consortium
    clinic, p = _register_proposal(gov, 3, True)
    _execute(gov, _signed(gov, p, 0, 1))
    run = _signed(gov, c.propose_execute(p), 0, 1)
    gov.ml.increase_time(DEFAULT_MIN_DELAY - 600)
    with pytest.raises(OperationNotReady):
        _execute(gov, run)
    nonce = c.safe.nonce()
    with pytest.raises(MedledgerError):  # TimelockUnexpectedOperationState inside the Safe tx
        c.safe.connect_as(_submitter(gov)).exec_transaction(run.tx, pack_signatures(run.signatures))
    assert c.safe.nonce() == nonce
    assert c.registry.get_provider(clinic).status == 0
    # A shorter delay than the minimum cannot be scheduled either.
    short = _signed(gov, c.propose_update(clinic, True, "x", delay=3600), 0, 1)
    with pytest.raises(MedledgerError):
        _execute(gov, short)


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["tx"].update(data=d["tx"]["data"][:-2] + "ff"),
        lambda d: d["tx"].update(nonce=d["tx"]["nonce"] + 1),
        lambda d: d.update(summary="provider 0x0 will be reinstated immediately"),
        lambda d: d["timelock"].update(delay=1),
    ],
    ids=["calldata", "nonce", "summary", "timelock-section"],
)
def test_file_edited_after_signing_is_refused(gov: Gov, tmp_path: Path, edit) -> None:  # type: ignore[no-untyped-def]
    c = gov.consortium
    _, p = _register_proposal(gov, 3, True)
    path = tmp_path / "p.json"
    _signed(gov, p, 0, 1).save(path)
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(ProposalTampered):
        _execute(gov, Proposal.load(path))
    assert c.scheduled() == []
    assert c.safe.nonce() == p.tx.nonce


def test_a_scheduled_responder_can_be_cancelled_before_it_applies(gov: Gov) -> None:
    c = gov.consortium
    er, p = _register_proposal(gov, 3, True)
    _execute(gov, _signed(gov, p, 0, 1))
    assert [s.state for s in c.scheduled()] == ["pending"]
    _execute(gov, _signed(gov, c.propose_cancel(p), 1, 2))
    assert c.scheduled() == []
    assert [s.state for s in c.scheduled(include_done=True)][-1] == "cancelled"
    gov.ml.increase_time(DEFAULT_MIN_DELAY + 1)
    with pytest.raises(OperationNotReady):
        _execute(gov, _signed(gov, c.propose_execute(p), 0, 1))
    assert c.registry.get_provider(er).status == 0
