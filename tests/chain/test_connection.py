"""connect(): embedded default, Anvil, Hardhat, unknown networks, unreachable endpoints."""

from __future__ import annotations

import pytest
from eth_account import Account
from web3 import HTTPProvider, Web3

from medledger import errors as mle
from medledger.chain import Chain, connect
from medledger.nodes import find_free_port

ANVIL_ACCOUNT_0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"  # of the standard test mnemonic


def test_embedded_is_the_default(embedded_chain: Chain) -> None:
    chain = connect()
    assert chain.kind == "embedded"
    assert chain.is_dev
    assert connect("embedded").kind == "embedded"
    # each embedded chain is independent state
    assert chain.block_number() == 0


def test_embedded_dev_accounts_are_funded_and_can_deploy_big_contracts(
    embedded_chain: Chain,
) -> None:
    accounts = embedded_chain.dev_accounts()
    assert len(accounts) == 10
    assert len({a.address for a in accounts}) == 10
    assert all(embedded_chain.w3.eth.get_balance(a.address) > 10**21 for a in accounts)
    # room for a 24 KiB contract deployment (~5.5 M gas) in one block
    assert embedded_chain.w3.eth.get_block("latest")["gasLimit"] >= 15_000_000


def test_increase_time_embedded(embedded_chain: Chain) -> None:
    before = embedded_chain.now()
    after = embedded_chain.increase_time(3600)
    assert after >= before + 3600
    assert after < before + 3600 + 60
    assert embedded_chain.now() == after
    with pytest.raises(mle.InvalidInput):
        embedded_chain.increase_time(-1)


def test_fund_embedded(embedded_chain: Chain) -> None:
    target = Account.create().address
    embedded_chain.fund(target, 123)
    embedded_chain.fund(target, 7)
    assert embedded_chain.w3.eth.get_balance(target) == 130


@pytest.mark.anvil
def test_anvil_detected_with_mnemonic_accounts(anvil_url: str) -> None:
    chain = connect(anvil_url)
    assert chain.kind == "anvil"
    assert chain.chain_id == 31337
    assert chain.dev_accounts()[0].address == ANVIL_ACCOUNT_0
    target = Account.create().address
    chain.fund(target, 10**18)
    chain.fund(target, 5)
    assert chain.w3.eth.get_balance(target) == 10**18 + 5
    before = chain.now()
    assert chain.increase_time(86_400) >= before + 86_400


@pytest.mark.hardhat
def test_hardhat_detected_with_mnemonic_accounts(hardhat_url: str) -> None:
    chain = connect(hardhat_url)
    assert chain.kind == "hardhat"
    assert chain.chain_id == 31337
    assert chain.dev_accounts()[0].address == ANVIL_ACCOUNT_0
    assert chain.w3.eth.get_balance(ANVIL_ACCOUNT_0) > 0
    before = chain.now()
    assert chain.increase_time(600) >= before + 600
    target = Account.create().address
    chain.fund(target, 42)
    assert chain.w3.eth.get_balance(target) == 42


@pytest.mark.anvil
def test_snapshot_and_revert(anvil_url: str) -> None:
    chain = connect(anvil_url)
    target = Account.create().address
    snap = chain.snapshot()
    chain.fund(target, 99)
    chain.revert(snap)
    assert chain.w3.eth.get_balance(target) == 0


@pytest.mark.anvil
def test_other_networks_refuse_dev_operations(anvil_url: str) -> None:
    # a generic JSON-RPC chain (the node happens to be Anvil, but nothing is assumed)
    chain = Chain(Web3(HTTPProvider(anvil_url)), kind="rpc", url=anvil_url)
    assert chain.now() > 0
    with pytest.raises(mle.ChainError, match="not a development chain"):
        chain.increase_time(10)
    with pytest.raises(mle.ChainError):
        chain.dev_accounts()
    with pytest.raises(mle.ChainError):
        chain.fund(Account.create().address, 1)


def test_unreachable_endpoint_names_the_url() -> None:
    url = f"http://127.0.0.1:{find_free_port()}"
    with pytest.raises(mle.ChainUnavailable) as caught:
        connect(url, timeout=2)
    assert url in str(caught.value)
    assert caught.value.hint


def test_unsupported_endpoint_scheme() -> None:
    with pytest.raises(mle.InvalidInput):
        connect("ftp://example.org")
