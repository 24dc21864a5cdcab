"""The consortium governs the CustodianRegistry as it governs providers (issue 16): custodians
are registered and removed only by the 2-of-3 Safe through the 48 h timelock, each custodian
then sets its own key with its own account, and registry ownership moves in the same two steps.
The real Safe 1.4.1 and TimelockController run on every chain of the fixture."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from helpers.governance import Gov, execute, signed, submitter
from medledger.chain.custodians import CUSTODIAN_ACTIVE, CUSTODIAN_NONE, CUSTODIAN_REMOVED
from medledger.chain.deployment import deploy_suite
from medledger.chain.transactions import TxSender
from medledger.errors import InvalidInput, MedledgerError, NotAuthorized
from medledger.governance import (
    DEFAULT_MIN_DELAY,
    Proposal,
    ProposalTampered,
    ThresholdNotReached,
    create_consortium,
)
from medledger.governance.custodians import GovernedCustodianRegistry
from medledger.governance.safe import pack_signatures

URL = "https://hie.example/custodian"
ETHER = 10**18


def _registry(gov: Gov) -> GovernedCustodianRegistry:
    registry = gov.consortium.custodians
    assert registry is not None
    return registry


def _register(gov: Gov, custodian: str, name: str = "Regional HIE") -> None:
    c = gov.consortium
    p = signed(gov, c.propose_register_custodian(custodian, name, URL), 0, 2)
    execute(gov, p)
    gov.ml.increase_time(DEFAULT_MIN_DELAY + 1)
    execute(gov, signed(gov, c.propose_execute(p), 1, 2))


def _funded(gov: Gov) -> LocalAccount:
    account: LocalAccount = Account.create()
    gov.ml.fund(account.address, ETHER)
    return account


def test_setup_moves_the_custodian_registry_to_the_timelock(gov: Gov) -> None:
    c = gov.consortium
    registry = _registry(gov)
    assert registry.owner() == c.timelock.address
    assert registry.pending_owner() == "0x0000000000000000000000000000000000000000"
    # the deploying key, which owned it, can no longer register a custodian directly
    old = gov.ml.session(gov.ml.dev_party(0))
    with pytest.raises(NotAuthorized):
        old.consortium.register_custodian(Account.create().address, "Rogue", URL)
    status = c.status()
    assert status["custodianRegistryOwner"] == c.timelock.address


def test_register_through_safe_and_timelock_then_the_custodian_sets_its_own_key(
    gov: Gov,
) -> None:
    c = gov.consortium
    registry = _registry(gov)
    custodian = _funded(gov)
    p = signed(gov, c.propose_register_custodian(custodian.address, "Regional HIE", URL), 0, 2)
    execute(gov, p)
    # scheduled only, and every patient can see it coming, with its endpoint
    assert registry.get_custodian(custodian.address).status == CUSTODIAN_NONE
    (change,) = c.scheduled()
    assert (change.contract, change.function, change.state) == (
        "CustodianRegistry",
        "registerCustodian",
        "pending",
    )
    assert change.summary.startswith(
        f"custodian {custodian.address} (Regional HIE, {URL}) will be registered at "
    )
    gov.ml.increase_time(DEFAULT_MIN_DELAY + 1)
    execute(gov, signed(gov, c.propose_execute(p), 1, 2))
    entry = registry.get_custodian(custodian.address)
    assert (entry.status, entry.name, entry.endpoint) == (CUSTODIAN_ACTIVE, "Regional HIE", URL)
    assert entry.encryption_key == b"\x00" * 32  # the consortium never sets a custodian's key

    # The custodian sets its key with its own signature; nobody can set it for it.
    key = bytes(range(1, 33))
    outsider = _funded(gov)
    with pytest.raises(MedledgerError):  # CustodianRegistryNotActive(outsider): its own entry
        registry.connect_as(TxSender(gov.ml.chain, outsider)).set_custodian_key(b"\x07" * 32)
    registry.connect_as(TxSender(gov.ml.chain, custodian)).set_custodian_key(key)
    assert registry.get_custodian(custodian.address).encryption_key == key
    # patients can now name it in their policy (the contract requires active + keyed)
    history = [(s.contract, s.function) for s in c.scheduled(include_done=True)]
    assert ("CustodianRegistry", "registerCustodian") in history


def test_one_owner_or_an_outsider_cannot_register_a_custodian(gov: Gov) -> None:
    """The attack: a single consortium member (below the 2-of-3 threshold) or anyone else tries
    to put its own custodian in the registry. Refused by the SDK and, bypassing it, on chain."""
    c = gov.consortium
    registry = _registry(gov)
    rogue = Account.create().address
    p = signed(gov, c.propose_register_custodian(rogue, "Rogue", URL), 0)
    with pytest.raises(ThresholdNotReached):
        execute(gov, p)
    nonce = c.safe.nonce()
    with pytest.raises(MedledgerError):  # the Safe refuses one signature (GS020)
        c.safe.connect_as(submitter(gov)).exec_transaction(p.tx, pack_signatures(p.signatures))
    # an outsider's signature does not count either
    with pytest.raises(NotAuthorized):
        c.sign(p, gov.outsider)
    forged = p.sign(gov.outsider, [gov.outsider.address])
    with pytest.raises(MedledgerError):  # GS026
        c.safe.connect_as(submitter(gov)).exec_transaction(
            forged.tx, pack_signatures(forged.signatures)
        )
    assert c.safe.nonce() == nonce
    assert c.scheduled() == []
    # Straight to the timelock or the registry, without the Safe: no role, not the owner.
    attacker = TxSender(gov.ml.chain, gov.ml.chain.dev_accounts()[3])
    assert p.timelock is not None
    data = bytes.fromhex(p.timelock["data"][2:])
    with pytest.raises(NotAuthorized):  # AccessControlUnauthorizedAccount
        c.timelock.connect_as(attacker).send(
            "schedule", registry.address, 0, data, b"\x00" * 32, b"\x01" * 32, DEFAULT_MIN_DELAY
        )
    with pytest.raises(NotAuthorized):  # OwnableUnauthorizedAccount
        registry.connect_as(attacker).register_custodian(rogue, "Rogue", URL)
    gov.ml.increase_time(DEFAULT_MIN_DELAY + 1)
    assert registry.get_custodian(rogue).status == CUSTODIAN_NONE


def test_remove_through_the_consortium(gov: Gov) -> None:
    c = gov.consortium
    registry = _registry(gov)
    custodian = _funded(gov)
    _register(gov, custodian.address)
    as_custodian = registry.connect_as(TxSender(gov.ml.chain, custodian))
    as_custodian.set_custodian_key(b"\x05" * 32)
    p = signed(gov, c.propose_remove_custodian(custodian.address), 0, 1)
    execute(gov, p)
    assert registry.get_custodian(custodian.address).status == CUSTODIAN_ACTIVE  # waits 48 h
    assert c.scheduled()[0].summary.startswith(f"custodian {custodian.address} will be removed")
    gov.ml.increase_time(DEFAULT_MIN_DELAY + 1)
    execute(gov, signed(gov, c.propose_execute(p), 0, 2))
    assert registry.get_custodian(custodian.address).status == CUSTODIAN_REMOVED
    with pytest.raises(MedledgerError):  # a removed custodian can no longer rotate its key
        as_custodian.set_custodian_key(b"\x06" * 32)
    # removing it twice, or re-registering the address, is refused before a file is written
    with pytest.raises(InvalidInput, match="not an active custodian"):
        c.propose_remove_custodian(custodian.address)
    with pytest.raises(InvalidInput, match="never reused"):
        c.propose_register_custodian(custodian.address, "Again", URL)


@pytest.mark.parametrize(
    ("name", "endpoint", "why"),
    [
        ("", URL, "name is 1 .. 64"),
        ("x" * 65, URL, "name is 1 .. 64"),
        ("HIE", "ftp://hie.example", "not an http"),
        ("HIE", "https://" + "e" * 250, "endpoint is 1 .. 256"),
    ],
)
def test_a_registration_that_would_revert_in_48_h_is_refused_now(
    gov: Gov, name: str, endpoint: str, why: str
) -> None:
    with pytest.raises(InvalidInput, match=why):
        gov.consortium.propose_register_custodian(Account.create().address, name, endpoint)


def test_retargeted_custodian_proposal_is_refused(gov: Gov, tmp_path: Path) -> None:
    """A file whose timelock operation is pointed at another contract after signing."""
    c = gov.consortium
    p = signed(gov, c.propose_register_custodian(Account.create().address, "HIE", URL), 0, 1)
    path = tmp_path / "c.json"
    p.save(path)
    doc = json.loads(path.read_text())
    doc["timelock"]["target"] = gov.outsider.address
    path.write_text(json.dumps(doc))
    with pytest.raises(ProposalTampered):
        execute(gov, Proposal.load(path))
    assert c.safe.nonce() == p.tx.nonce
    assert c.scheduled() == []


def test_custodian_registry_ownership_moves_in_two_steps(gov: Gov) -> None:
    c = gov.consortium
    registry = _registry(gov)
    successor = _funded(gov)
    p = signed(gov, c.propose_transfer_ownership(successor.address, registry="custodians"), 0, 1)
    execute(gov, p)
    (change,) = c.scheduled()
    assert change.summary.startswith(
        f"custodian registry ownership will be offered to {successor.address}"
    )
    gov.ml.increase_time(DEFAULT_MIN_DELAY + 1)
    execute(gov, signed(gov, c.propose_execute(p), 1, 2))
    assert registry.pending_owner() == successor.address
    assert registry.owner() == c.timelock.address  # until the successor accepts
    assert c.registry.owner() == c.timelock.address  # the provider registry did not move
    registry.connect_as(TxSender(gov.ml.chain, successor)).accept_ownership()
    assert registry.owner() == successor.address


def test_a_later_registry_is_adopted_by_offer_and_timelocked_acceptance(
    gov: Gov, tmp_path: Path
) -> None:
    """``create(custodians=False)`` leaves the registry with its owner; the owner offers it and
    the consortium accepts through the timelock (what a registry deployed later goes through)."""
    chain = gov.ml.chain
    deployer = chain.dev_accounts()[0]
    deployment = deploy_suite(chain, deployer)
    setup = create_consortium(
        deployment, deployer, [o.address for o in gov.owners], 2, custodians=False
    )
    c = setup.consortium
    registry = c.custodians
    assert registry is not None
    assert registry.owner() == deployer.address
    with pytest.raises(InvalidInput, match="does not own the custodian registry"):
        c.propose_register_custodian(Account.create().address, "HIE", URL)
    with pytest.raises(InvalidInput, match="has not been offered"):
        c.propose_accept_ownership("custodians")
    registry.connect_as(TxSender(chain, deployer)).transfer_ownership(c.timelock.address)
    accept = c.propose_accept_ownership("custodians")
    accept = c.sign(c.sign(accept, gov.owners[0]), gov.owners[1])
    c.execute(accept, submitter(gov))
    # a registration may already be scheduled behind the acceptance (the timelock is pending)
    custodian = Account.create().address
    reg = c.propose_register_custodian(custodian, "HIE", URL)
    c.execute(c.sign(c.sign(reg, gov.owners[1]), gov.owners[2]), submitter(gov))
    gov.ml.increase_time(DEFAULT_MIN_DELAY + 1)
    for scheduled, signers in ((accept, (0, 2)), (reg, (0, 1))):
        run = c.propose_execute(scheduled)
        for i in signers:
            run = c.sign(run, gov.owners[i])
        c.execute(run, submitter(gov))
    assert registry.owner() == c.timelock.address
    assert registry.get_custodian(custodian).status == CUSTODIAN_ACTIVE
