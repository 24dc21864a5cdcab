"""A family's Safe controls a patient (an elderly parent's record) and grants and revokes by
ERC-1271 signature through the relayed path: the SDK's own ``consent.sign_grant`` /
``sign_revoke`` with a :class:`SafeAccount` as the patient's signing account."""

from __future__ import annotations

import pytest
from eth_account import Account

from helpers.governance import Gov, register_provider, submitter
from medledger.client.types import Party
from medledger.codes import category
from medledger.errors import MedledgerError, NotAuthorized
from medledger.governance.consortium import _existing_infra
from medledger.governance.safe import (
    SafeAccount,
    SafeTx,
    create_safe,
    pack_signatures,
    safe_tx_hash,
    sign_hash,
)

READ = 1


def test_safe_controlled_patient_grants_and_revokes_relayed(gov: Gov) -> None:
    ml, chain = gov.ml, gov.ml.chain
    clinic = register_provider(gov, 3)
    family = sorted((Account.create() for _ in range(3)), key=lambda a: int(a.address, 16))
    infra = _existing_infra(ml.manifest)
    assert infra is not None
    safe, _ = create_safe(submitter(gov), infra, [a.address for a in family], 2, salt_nonce=9)

    # The parent registers, then hands control to the family Safe (two-step, the Safe accepts).
    parent = ml.session(ml.dev_party(6))
    pid = parent.identity.register().patient_id
    parent.identity.propose_controller(safe.address)
    data = ml.deployment.medledger.calldata("acceptController", pid)
    tx = SafeTx(ml.deployment.medledger.address, 0, data, safe.nonce())
    digest = safe_tx_hash(chain.chain_id, safe.address, tx)
    sigs = {a.address: sign_hash(a, digest) for a in family[:2]}
    safe.connect_as(submitter(gov)).exec_transaction(tx, pack_signatures(sigs))
    assert ml.deployment.medledger.patient_of(safe.address) == pid

    # Two of the family sign; a relayer (the clinic's front desk) pays.
    as_safe = Party(SafeAccount(safe.address, chain.chain_id, family[1:]), ml.dev_party(6).identity)
    patient = ml.session(as_safe)
    relayer = ml.session(ml.dev_party(1))
    labs = int(category("labs"))
    signed = patient.consent.sign_grant(clinic, ["labs"], ["treatment"], ["read"], duration=86400)
    relayer.relay.submit(signed)
    assert ml.deployment.medledger.has_access(pid, clinic, labs, READ)

    # One family member alone cannot revoke: the Safe's threshold is 2.
    alone = ml.session(
        Party(SafeAccount(safe.address, chain.chain_id, family[:1]), as_safe.identity)
    )
    with pytest.raises(MedledgerError):
        relayer.relay.submit(alone.consent.sign_revoke(clinic))
    assert ml.deployment.medledger.has_access(pid, clinic, labs, READ)

    relayer.relay.submit(patient.consent.sign_revoke(clinic))
    assert not ml.deployment.medledger.has_access(pid, clinic, labs, READ)

    # The Safe cannot send a transaction itself (unfunded here; a funded one refuses to sign:
    # SafeAccount.sign_transaction raises NotAuthorized), and nothing stays pinned.
    with pytest.raises(MedledgerError):
        patient.consent.grant(clinic, ["labs"], ["treatment"], ["read"], duration=86400)


def test_safe_account_refuses_to_sign_a_transaction() -> None:
    owner = Account.create()
    acct = SafeAccount("0x" + "11" * 20, 1, [owner])
    assert acct.address == "0x" + "11" * 20
    with pytest.raises(NotAuthorized):
        acct.sign_transaction({"to": owner.address, "value": 0, "gas": 21000, "nonce": 0})
