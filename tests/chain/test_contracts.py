"""The typed bindings against the real MedLedger/AnchorRegistry, EIP-712 signatures included."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
from eth_abi import encode
from eth_account import Account
from eth_utils import keccak

from medledger import errors as mle
from medledger.chain import (
    AccessRequest,
    AnchorRegistryContract,
    Chain,
    Deployment,
    GrantRequest,
    MedLedgerContract,
    TxSender,
    deploy_suite,
    eip712,
)
from medledger.chain.artifacts import load_artifact
from medledger.chain.suite import write_denial

ZERO32 = b"\x00" * 32
READ, WRITE = 1, 2
TREATMENT, RESEARCH = 0, 4
RAW = 0x55


def to_snake_case(name: str) -> str:
    if name.isupper():  # a public constant, e.g. MAX_PROOF_LENGTH
        return name.lower()
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def k(n: int) -> bytes:
    return bytes([n]) * 32


def register_provider(
    admin: MedLedgerContract, chain: Chain, provider: Any, key: bytes, responder: bool, name: str
) -> None:
    """v2: the owner registers, the provider signs its own key (EIP-712 ProviderKey)."""
    nonce, deadline = admin.nonces(provider.address, eip712.KEY_PROVIDER), chain.now() + 600
    sig = eip712.sign_typed(
        provider,
        "ProviderKey",
        eip712.provider_key_message(provider.address, key, ZERO32, nonce, deadline),
        chain_id=chain.chain_id,
        verifying_contract=admin.address,
    )
    admin.register_provider(provider.address, key, ZERO32, responder, name, nonce, deadline, sig)


class World:
    """A deployed suite with a patient (dev account 1) and two providers (2, 3)."""

    def __init__(self, suite: Deployment) -> None:
        chain = suite.chain
        accounts = chain.dev_accounts()
        self.chain = chain
        self.admin = suite.medledger
        self.patient_account = accounts[1]
        self.patient = suite.medledger.connect_as(TxSender(chain, accounts[1]))
        self.clinic_account = accounts[2]
        self.clinic = suite.medledger.connect_as(TxSender(chain, accounts[2]))
        self.lab_account = accounts[3]
        self.lab = suite.medledger.connect_as(TxSender(chain, accounts[3]))
        register_provider(self.admin, chain, accounts[2], k(3), True, "Clinic")
        register_provider(self.admin, chain, accounts[3], k(4), False, "Lab")
        r = self.patient.register_patient(k(1), ZERO32, k(2))
        self.pid = int(r.events_named("PatientRegistered")[0].args["patientId"])


@pytest.fixture
def world(suite: Deployment) -> World:
    return World(suite)


def test_every_contract_function_has_a_binding() -> None:
    for cls, name in ((MedLedgerContract, "MedLedger"), (AnchorRegistryContract, "AnchorRegistry")):
        names = {e["name"] for e in load_artifact(name).abi_entries("function")}
        missing = [n for n in names if not callable(getattr(cls, to_snake_case(n), None))]
        # renounceOwnership is disabled on-chain; the SDK builds the EIP-712 domain itself
        assert set(missing) <= {"renounceOwnership", "eip712Domain"}, missing


def test_identity_and_provider_views(world: World) -> None:
    p = world.patient.get_patient(world.pid)
    assert p.controller == world.patient_account.address
    assert (p.encryption_key, p.keyring) == (k(1), k(2))
    assert world.patient.patient_of(world.patient_account.address) == world.pid
    assert world.patient.patient_count() == 1
    prov = world.patient.get_provider(world.clinic_account.address)
    assert prov.is_active
    assert prov.name == "Clinic"
    world.admin.suspend_provider(world.clinic_account.address)
    assert world.patient.get_provider(world.clinic_account.address).status == 2


def test_grant_check_and_expiry(world: World) -> None:
    now = world.chain.now()
    r = world.patient.grant(world.clinic_account.address, 0b11, READ, 1, 0, now + 3600, k(9))
    [ev] = r.events_named("ConsentGranted")
    assert ev.args["grantee"] == world.clinic_account.address
    consent = world.patient.get_consent(world.pid, world.clinic_account.address)
    assert consent.exists
    assert consent.valid_until == now + 3600
    assert world.patient.has_access(world.pid, world.clinic_account.address, 0, READ)
    assert world.patient.check_access(world.pid, world.clinic_account.address, 0, READ, 0) == 0
    world.chain.increase_time(3600)
    assert world.patient.check_access(world.pid, world.clinic_account.address, 0, READ, 0) == 17


def test_only_the_controller_can_grant(world: World) -> None:
    with pytest.raises(mle.NotAuthorized) as caught:
        world.clinic.grant(world.lab_account.address, 1, READ, 1, 0, world.chain.now() + 60, k(9))
    assert caught.value.name == "MedLedgerNotController"


def test_invalid_input_is_rejected_before_sending(world: World) -> None:
    with pytest.raises(mle.InvalidInput):
        world.patient.set_keyring(k(2), b"short")
    with pytest.raises(mle.InvalidInput):
        world.patient.get_record(world.pid, b"\x01" * 31)


def test_set_keyring_is_a_compare_and_swap(world: World) -> None:
    world.patient.set_keyring(k(2), k(5))
    with pytest.raises(mle.StaleKeyring) as caught:  # planned on k(2), but k(5) won
        world.patient.set_keyring(k(2), k(6))
    assert caught.value.name == "IdentityStaleKeyring"
    assert world.patient.get_patient(world.pid).keyring == k(5)


def test_grant_by_sig_and_revoke_by_sig(world: World) -> None:
    chain, ml = world.chain, world.clinic  # the clinic submits and pays
    now = chain.now()
    g = GrantRequest(world.lab_account.address, 0b1000, READ, 1 << RESEARCH, 0, now + 7200, k(8))
    key = eip712.nonce_key(world.lab_account.address)
    nonce = ml.nonces(world.patient_account.address, key)
    assert nonce == key << 64  # keyed nonce: the grantee's own sequence
    epoch = ml.signature_epoch(world.pid)
    sig = eip712.sign_typed(
        world.patient_account,
        "Grant",
        eip712.grant_message(world.pid, g, epoch, nonce, now + 600),
        chain_id=chain.chain_id,
        verifying_contract=ml.address,
    )
    r = ml.grant_by_sig(world.pid, g, epoch, nonce, now + 600, sig)
    assert r.events_named("ConsentGranted")[0].args["grantee"] == world.lab_account.address
    assert ml.nonces(world.patient_account.address, key) == nonce + 1
    assert ml.nonces(world.patient_account.address) == 0  # other keys are untouched
    with pytest.raises(mle.SignatureError):  # replay: the nonce is used
        ml.grant_by_sig(world.pid, g, epoch, nonce, now + 600, sig)

    sig = eip712.sign_typed(
        world.patient_account,
        "Revoke",
        eip712.revoke_message(world.pid, world.lab_account.address, epoch, nonce + 1, now + 600),
        chain_id=chain.chain_id,
        verifying_contract=ml.address,
    )
    ml.revoke_by_sig(world.pid, world.lab_account.address, epoch, nonce + 1, now + 600, sig)
    assert not ml.get_consent(world.pid, world.lab_account.address).exists


def test_signature_by_someone_else_or_expired_is_rejected(world: World) -> None:
    chain, ml = world.chain, world.clinic
    now = chain.now()
    g = GrantRequest(world.lab_account.address, 1, READ, 1, 0, now + 7200, k(8))
    forged = eip712.sign_typed(
        Account.create(),
        "Grant",
        eip712.grant_message(world.pid, g, 0, 0, now + 600),
        chain_id=chain.chain_id,
        verifying_contract=ml.address,
    )
    with pytest.raises(mle.SignatureError):
        ml.grant_by_sig(world.pid, g, 0, 0, now + 600, forged)
    expired = eip712.sign_typed(
        world.patient_account,
        "Grant",
        eip712.grant_message(world.pid, g, 0, 0, now - 1),
        chain_id=chain.chain_id,
        verifying_contract=ml.address,
    )
    with pytest.raises(mle.SignatureError) as caught:
        ml.grant_by_sig(world.pid, g, 0, 0, now - 1, expired)
    assert caught.value.name == "MedLedgerSignatureExpired"
    far = now + eip712.MAX_DEADLINE_SECONDS + 3600
    too_far = eip712.sign_typed(
        world.patient_account,
        "Grant",
        eip712.grant_message(world.pid, g, 0, 0, far),
        chain_id=chain.chain_id,
        verifying_contract=ml.address,
    )
    with pytest.raises(mle.SignatureError) as caught:
        ml.grant_by_sig(world.pid, g, 0, 0, far, too_far)
    assert caught.value.name == "MedLedgerDeadlineTooFar"
    # a direct revoke bumps the signature epoch: a signature of the old epoch is dead
    ok = eip712.sign_typed(
        world.patient_account,
        "Grant",
        eip712.grant_message(world.pid, g, 0, 0, now + 600),
        chain_id=chain.chain_id,
        verifying_contract=ml.address,
    )
    world.patient.grant(world.clinic_account.address, 1, READ, 1, 0, now + 3600, k(9))
    world.patient.revoke(world.clinic_account.address)
    assert world.patient.signature_epoch(world.pid) == 1
    with pytest.raises(mle.SignatureError) as caught:
        ml.grant_by_sig(world.pid, g, 0, 0, now + 600, ok)
    assert caught.value.name == "MedLedgerStaleEpoch"


def test_typed_data_signer_recovers_offline() -> None:
    signer = Account.create()
    msg = eip712.revoke_message(3, signer.address, 0, 5, 10**10)
    sig = eip712.sign_typed(
        signer, "Revoke", msg, chain_id=31337, verifying_contract="0x" + "11" * 20
    )
    assert len(sig) == 65
    assert (
        eip712.recover_signer(
            "Revoke", msg, sig, chain_id=31337, verifying_contract="0x" + "11" * 20
        )
        == signer.address
    )
    # another chain id is another domain: the same signature recovers someone else
    assert (
        eip712.recover_signer("Revoke", msg, sig, chain_id=1, verifying_contract="0x" + "11" * 20)
        != signer.address
    )


def test_records_access_log_and_hash_chain(world: World) -> None:
    now = world.chain.now()
    world.patient.grant(world.clinic_account.address, 0b1, READ | WRITE, 1, 0, now + 3600, k(9))
    rid = os.urandom(32)
    with pytest.raises(mle.StaleKeyring):  # sealed under another keyring than the current one
        world.clinic.add_record(world.pid, rid, 0, RAW, k(7))
    added = world.clinic.add_record(world.pid, rid, 0, RAW, k(2))
    assert write_denial(added) is None
    rec = world.patient.get_record(world.pid, rid)
    assert (rec.patient_id, rec.author, rec.category, rec.erased) == (
        world.pid, world.clinic_account.address, 0, False,
    )  # fmt: skip
    assert world.patient.get_record(world.pid + 1, rid).patient_id == 0  # per patient
    # a registered provider without write consent: not a revert, a logged denied write
    denied = world.lab.add_record(world.pid, os.urandom(32), 0, RAW, k(2))
    assert write_denial(denied) == 24  # DENIED_NO_CONSENT + 8

    # the lab has no consent: logged as denied (16), not reverted
    world.clinic.record_access(world.pid, rid, TREATMENT)
    world.lab.record_access(world.pid, rid, TREATMENT)
    world.clinic.record_access_batch([AccessRequest(world.pid, rid, TREATMENT)] * 3)
    events = world.patient.get_events("AccessRecorded", argument_filters={"patientId": world.pid})
    assert [e.args["outcome"] for e in events] == [24, 0, 16, 0, 0, 0]
    # entries 0-2: registration, grant, record added (v2 chains every operation)
    assert [e.args["seq"] for e in events] == [3, 4, 5, 6, 7, 8]

    # recompute the documented hash chain from the events, from the head before them
    [added_ev] = world.patient.get_events("RecordAdded", argument_filters={"patientId": world.pid})
    assert added_ev.args["seq"] == 2
    head = bytes(added_ev.args["head"])
    for e in events:
        a = e.args
        head = keccak(
            encode(
                ["bytes32", "uint64", "uint64", "address", "bytes32", "uint8", "uint8", "uint40"],
                [
                    head.ljust(32, b"\0"),
                    a["patientId"],
                    a["seq"],
                    a["accessor"],
                    a["recordId"],
                    a["purpose"],
                    a["outcome"],
                    a["timestamp"],
                ],
            )
        )[:24]
        assert head == a["head"]
    assert world.patient.log_head(world.pid).head == head
    assert world.patient.log_head(world.pid).count == 9

    world.patient.erase_record(rid)
    assert world.patient.get_record(world.pid, rid).erased


def test_add_record_by_sig(world: World) -> None:
    now = world.chain.now()
    world.patient.grant(world.clinic_account.address, 0b1, READ | WRITE, 1, 0, now + 3600, k(9))
    rid = os.urandom(32)
    author = world.clinic_account
    nonce = world.lab.nonces(author.address, eip712.KEY_RECORD)
    sig = eip712.sign_typed(
        author,
        "AddRecord",
        eip712.add_record_message(world.pid, rid, 0, RAW, k(2), author.address, nonce, now + 600),
        chain_id=world.chain.chain_id,
        verifying_contract=world.lab.address,
    )
    world.lab.add_record_by_sig(world.pid, rid, 0, RAW, k(2), author.address, nonce, now + 600, sig)
    assert world.lab.get_record(world.pid, rid).author == author.address


def test_paged_event_queries_match_single_query(world: World) -> None:
    now = world.chain.now()
    for i in range(4):
        world.patient.grant(world.clinic_account.address, 1 << i, READ, 1, 0, now + 3600, k(i))
    whole = world.patient.get_events("ConsentGranted")
    paged = world.patient.get_events("ConsentGranted", page_size=1)
    assert len(whole) == 4
    assert paged == whole
    assert [e.args["categories"] for e in whole] == [1, 2, 4, 8]
    none = world.patient.get_events(
        "ConsentGranted", argument_filters={"grantee": world.lab_account.address}
    )
    assert none == []
    with pytest.raises(mle.InvalidInput):
        world.patient.get_events("NoSuchEvent")
    with pytest.raises(mle.InvalidInput):
        world.patient.get_events("ConsentGranted", argument_filters={"categories": 1})


def test_read_only_binding_refuses_transactions(suite: Deployment) -> None:
    ro = MedLedgerContract(suite.chain, suite.medledger.address)
    assert ro.patient_count() == 0
    with pytest.raises(mle.InvalidInput, match="signer"):
        ro.set_keyring(ZERO32, k(1))


def test_anchor_registry(suite: Deployment) -> None:
    leaf_a = keccak(keccak(encode(["bytes32"], [k(0xA)])))
    leaf_b = keccak(keccak(encode(["bytes32"], [k(0xB)])))
    root = keccak(b"".join(sorted([leaf_a, leaf_b])))
    stream = keccak(text="vitals")
    r = suite.anchors.anchor(stream, root, 2)
    assert r.events_named("BatchAnchored")[0].args["count"] == 2
    me = suite.chain.dev_accounts()[0].address
    got = suite.anchors.get_anchor(me, stream, root)
    assert got.submitter == me
    assert got.count == 2
    assert suite.anchors.verify_item(me, stream, root, k(0xB), [leaf_a])
    assert not suite.anchors.verify_item(me, stream, root, k(0xB), [leaf_b])
    # anchors are namespaced by submitter: nobody else anchored this root in their stream
    other = suite.chain.dev_accounts()[1].address
    assert suite.anchors.get_anchor(other, stream, root).count == 0
    assert not suite.anchors.verify_item(other, stream, root, k(0xB), [leaf_a])


@pytest.mark.anvil
def test_grant_by_sig_on_anvil(anvil_chain: Chain) -> None:
    """EIP-712 with chain id 31337 on a real node, different submitter and signer."""
    from helpers.chain import fresh_sender

    admin = fresh_sender(anvil_chain)
    d = deploy_suite(anvil_chain, admin.account)
    patient = fresh_sender(anvil_chain)
    provider = fresh_sender(anvil_chain)
    ml = d.medledger
    register_provider(ml, anvil_chain, provider.account, k(3), False, "P")
    pid = ml.connect_as(patient).register_patient(k(1), ZERO32, k(2)).events[0].args["patientId"]
    now = anvil_chain.now()
    g = GrantRequest(provider.address, 1, READ, 1, 0, now + 3600, k(7))
    nonce = ml.nonces(patient.address, eip712.nonce_key(provider.address))
    sig = eip712.sign_typed(
        patient.account,
        "Grant",
        eip712.grant_message(pid, g, 0, nonce, now + 600),
        chain_id=31337,
        verifying_contract=ml.address,
    )
    ml.connect_as(provider).grant_by_sig(pid, g, 0, nonce, now + 600, sig)
    assert ml.has_access(pid, provider.address, 0, READ)


def test_typed_message_must_match_its_schema_exactly() -> None:
    signer = Account.create()
    msg = eip712.revoke_message(3, signer.address, 0, 5, 10**10)
    domain_args: dict[str, Any] = {"chain_id": 1, "verifying_contract": "0x" + "11" * 20}
    with pytest.raises(mle.InvalidInput, match="expected"):
        eip712.sign_typed(signer, "Grant", msg, **domain_args)  # a Revoke message as a Grant
    with pytest.raises(mle.InvalidInput, match="unknown"):
        eip712.sign_typed(signer, "Erase", msg, **domain_args)
    assert (
        set(eip712.TYPES)
        == set(eip712.SCHEMAS)
        == {"Grant", "Revoke", "RevokeAndRekey", "SetKeyring", "AddRecord", "ProviderKey"}
    )
