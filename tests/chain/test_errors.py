"""Custom-error decoding into medledger.errors on every backend (embedded, Anvil, Hardhat 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from web3.exceptions import ContractCustomError, Web3RPCError

import medledger
from helpers.chain import deploy_probe, fresh_sender
from medledger import errors as mle
from medledger.chain import BoundContract, Chain, TxSender
from medledger.chain.artifacts import Artifact
from medledger.chain.codec import AbiRegistry
from medledger.chain.errors import (
    ERROR_CLASSES,
    GENERIC_ERRORS,
    decode_revert,
    error_class_for,
    revert_data,
)

NOT_CONTROLLER_DATA = bytes.fromhex(
    "66719b7a000000000000000000000000f39fd6e51aad88f6f4ce6ab8827279cfffb92266"
)


def test_custom_error_is_contract_error_and_specific_class(
    any_chain: Chain, probe_artifact: Artifact
) -> None:
    sender = fresh_sender(any_chain)
    sender.registry.register(probe_artifact.abi)
    probe = deploy_probe(any_chain, sender, probe_artifact)
    nonce_before = any_chain.w3.eth.get_transaction_count(sender.address)

    with pytest.raises(mle.NotAuthorized) as caught:
        sender.send(probe.functions.failController())

    err = caught.value
    assert isinstance(err, mle.ContractError)
    assert isinstance(err, mle.TransactionFailed)
    assert err.name == "NotController"
    assert err.args_by_name == {"caller": sender.address}
    # the revert was caught by the simulation: nothing was sent
    assert any_chain.w3.eth.get_transaction_count(sender.address) == nonce_before


def test_not_registered_error_with_arguments(any_chain: Chain, probe_artifact: Artifact) -> None:
    sender = fresh_sender(any_chain)
    sender.registry.register(probe_artifact.abi)
    probe = deploy_probe(any_chain, sender, probe_artifact)
    with pytest.raises(mle.NotRegistered) as caught:
        sender.send(probe.functions.store(0, b"\x01" * 32))
    assert isinstance(caught.value, mle.ContractError)
    assert caught.value.name == "PatientNotRegistered"
    assert caught.value.args_by_name == {"patientId": 0}


def test_reason_string_and_panic(any_chain: Chain, probe_artifact: Artifact) -> None:
    sender = fresh_sender(any_chain)
    probe = deploy_probe(any_chain, sender, probe_artifact)
    with pytest.raises(mle.ContractError) as reason:
        sender.send(probe.functions.failString())
    assert reason.value.name == "Error"
    assert reason.value.args_by_name == {"message": "plain reason"}

    with pytest.raises(mle.ContractError) as panic:
        sender.send(probe.functions.failPanic(0))
    assert panic.value.name == "Panic"
    assert panic.value.args_by_name == {"code": 0x12}
    assert "division" in str(panic.value)


def test_mined_revert_carries_tx_hash_and_decoded_error(
    any_chain: Chain, probe_artifact: Artifact
) -> None:
    """Skip the simulation so the reverting transaction is mined (status 0)."""
    sender = fresh_sender(any_chain)
    sender.registry.register(probe_artifact.abi)
    probe = deploy_probe(any_chain, sender, probe_artifact)
    with pytest.raises(mle.NotAuthorized) as caught:
        sender.send(probe.functions.failController(), gas=100_000, simulate=False)
    err = caught.value
    assert isinstance(err, mle.ContractError)
    assert err.args_by_name == {"caller": sender.address}
    assert err.tx_hash is not None
    receipt = any_chain.w3.eth.get_transaction_receipt(err.tx_hash)
    assert receipt["status"] == 0
    # and the account can keep sending: the nonce manager resynchronised
    result = sender.send(probe.functions.store(1, b"\x02" * 32))
    assert result.status == 1


def test_view_reverts_decode_too(any_chain: Chain, probe_artifact: Artifact) -> None:
    sender = fresh_sender(any_chain)
    probe = deploy_probe(any_chain, sender, probe_artifact)
    bound = BoundContract(any_chain, probe.address, probe_artifact)
    assert bound.call("counter") == 0
    with pytest.raises(mle.NotAuthorized) as caught:
        bound.call("failController")
    # no sender: Anvil calls from the zero address, Hardhat/eth-tester from their first account
    assert caught.value.name == "NotController"
    assert set(caught.value.args_by_name) == {"caller"}
    with pytest.raises(mle.ContractError, match="division"):
        bound.call("failPanic", 0)
    assert bound.call("failPanic", 5) == 2


def test_unknown_selector_keeps_raw_data(any_chain: Chain, probe_artifact: Artifact) -> None:
    sender = TxSender(any_chain, fresh_sender(any_chain).account, registry=AbiRegistry())
    probe = deploy_probe(any_chain, sender, probe_artifact)
    with pytest.raises(mle.ContractError) as caught:
        sender.send(probe.functions.failController())
    assert caught.value.name == "UnknownError"
    assert caught.value.args_by_name["selector"] == "0x66719b7a"


def test_real_medledger_error_on_hardhat(hardhat_chain: Chain) -> None:
    """The suite's own errors decode on Hardhat 2 through raw web3 (ape-hardhat cannot)."""
    from medledger.chain import deploy_suite

    deployer = fresh_sender(hardhat_chain)
    suite = deploy_suite(hardhat_chain, deployer.account)
    stranger = suite.medledger.connect_as(fresh_sender(hardhat_chain))
    with pytest.raises(mle.NotAuthorized) as caught:
        stranger.set_keyring(b"\x00" * 32, b"\x01" * 32)
    assert caught.value.name == "MedLedgerNotController"
    with pytest.raises(mle.NotAuthorized) as owner_only:
        stranger.suspend_provider(deployer.address)
    assert owner_only.value.name == "OwnableUnauthorizedAccount"


# --- the places nodes put revert data (shapes recorded from Anvil 1.7.1 and Hardhat 2.29.1) ---


def test_revert_data_from_anvil_style_error() -> None:
    exc = ContractCustomError("0x66719b7a...", data="0x" + NOT_CONTROLLER_DATA.hex())
    assert revert_data(exc) == NOT_CONTROLLER_DATA


def test_revert_data_from_hardhat_style_error() -> None:
    message = (
        "Error: VM Exception while processing transaction: reverted with an unrecognized "
        "custom error (return data: 0x" + NOT_CONTROLLER_DATA.hex() + ")"
    )
    response = {
        "jsonrpc": "2.0",
        "id": 9,
        "error": {
            "code": -32603,
            "message": message,
            "data": {"message": message, "data": "0x" + NOT_CONTROLLER_DATA.hex()},
        },
    }
    exc = Web3RPCError(str(response["error"]), rpc_response=response)  # type: ignore[arg-type]
    assert revert_data(exc) == NOT_CONTROLLER_DATA


def test_revert_data_from_message_only_and_wrapped() -> None:
    inner = RuntimeError("reverted (return data: 0x" + NOT_CONTROLLER_DATA.hex() + ")")
    outer = ValueError("send failed")
    outer.__cause__ = inner
    assert revert_data(outer) == NOT_CONTROLLER_DATA


def test_no_revert_data_is_not_a_revert() -> None:
    assert revert_data(ConnectionError("connection refused")) is None


def test_decode_revert_empty_data_is_plain_failure() -> None:
    err = decode_revert(b"", AbiRegistry(), tx_hash="0xabc")
    assert type(err) is mle.TransactionFailed
    assert err.tx_hash == "0xabc"


def test_error_class_mapping_of_suite_error_names() -> None:
    assert issubclass(error_class_for("MedLedgerUnknownPatient"), mle.NotRegistered)
    assert issubclass(error_class_for("ProviderNotRegistered"), mle.NotRegistered)
    assert issubclass(error_class_for("MedLedgerNotController"), mle.NotAuthorized)
    assert issubclass(error_class_for("MedLedgerInvalidSignature"), mle.SignatureError)
    assert not issubclass(error_class_for("MedLedgerInvalidSignature"), mle.InvalidInput)
    assert issubclass(error_class_for("MedLedgerSignatureExpired"), mle.SignatureError)
    assert issubclass(error_class_for("InvalidAccountNonce"), mle.SignatureError)
    assert issubclass(error_class_for("ConsentInvalidWindow"), mle.InvalidInput)
    assert error_class_for("RecordAlreadyExists") is mle.ContractError
    # one class per pair, reused
    assert error_class_for("ProviderNotRegistered") is error_class_for("MedLedgerUnknownPatient")


def _abi_error_names() -> dict[str, set[str]]:
    """``{error name: artifacts declaring it}`` over every shipped ABI."""
    folder = Path(medledger.__file__).parent / "artifacts"
    names: dict[str, set[str]] = {}
    for path in sorted(folder.glob("*.json")):
        doc = json.loads(path.read_text())
        abi = doc["abi"] if isinstance(doc, dict) else doc
        for entry in abi:
            if entry.get("type") == "error":
                names.setdefault(entry["name"], set()).add(path.name)
    return names


def test_every_abi_error_is_mapped_or_explicitly_generic() -> None:
    names = _abi_error_names()
    assert names, "no error in the shipped ABIs: the artifacts did not load"
    unclassified = {n: sorted(files) for n, files in names.items()
                    if n not in ERROR_CLASSES and n not in GENERIC_ERRORS}  # fmt: skip
    assert not unclassified, (
        f"add these to ERROR_CLASSES or GENERIC_ERRORS in medledger/chain/errors.py: {unclassified}"
    )
    assert not set(ERROR_CLASSES) & GENERIC_ERRORS
    for name in names:
        cls = error_class_for(name)
        assert issubclass(cls, mle.ContractError)
        if name in ERROR_CLASSES:
            assert issubclass(cls, ERROR_CLASSES[name])
        else:
            assert cls is mle.ContractError
