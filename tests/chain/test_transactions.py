"""TxSender and NonceManager: concurrency, recovery, fees, simulation."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from eth_account import Account

from helpers.chain import ETHER, deploy_probe, fresh_sender
from medledger import errors as mle
from medledger.chain import Chain, TxResult, TxSender
from medledger.chain.artifacts import Artifact


@pytest.mark.anvil
def test_concurrent_threads_one_account_contiguous_nonces(
    anvil_chain: Chain, probe_artifact: Artifact
) -> None:
    sender = fresh_sender(anvil_chain, 100 * ETHER)
    probe = deploy_probe(anvil_chain, sender, probe_artifact)
    start_nonce = anvil_chain.w3.eth.get_transaction_count(sender.address)
    results: list[TxResult] = []
    lock = threading.Lock()

    def worker(thread: int) -> None:
        for i in range(5):
            r = sender.send(probe.functions.store(thread * 10 + i + 1, bytes([i]) * 32))
            with lock:
                results.append(r)

    with ThreadPoolExecutor(max_workers=20) as pool:
        for f in [pool.submit(worker, t) for t in range(20)]:
            f.result()

    assert len(results) == 100
    assert all(r.status == 1 for r in results)
    nonces = sorted(anvil_chain.w3.eth.get_transaction(r.tx_hash)["nonce"] for r in results)
    assert nonces == list(range(start_nonce, start_nonce + 100))
    assert probe.functions.counter().call() == 100
    assert anvil_chain.w3.eth.get_transaction_count(sender.address) == start_nonce + 100


@pytest.mark.anvil
def test_recovers_after_a_send_the_node_rejected(anvil_chain: Chain) -> None:
    sender = fresh_sender(anvil_chain, ETHER)
    target = Account.create().address
    # more value than the balance, no simulation: the node refuses it at submission
    with pytest.raises(mle.TransactionFailed) as caught:
        sender.send_raw(target, b"", value=5 * ETHER, gas=21_000, simulate=False)
    assert "insufficient" in str(caught.value).lower()
    assert anvil_chain.nonces.peek(sender.address) is None  # cache dropped
    r1 = sender.transfer(target, 1000)
    r2 = sender.transfer(target, 1000)
    n1 = anvil_chain.w3.eth.get_transaction(r1.tx_hash)["nonce"]
    n2 = anvil_chain.w3.eth.get_transaction(r2.tx_hash)["nonce"]
    assert (n1, n2) == (0, 1)
    assert anvil_chain.w3.eth.get_balance(target) == 2000


@pytest.mark.anvil
def test_resyncs_when_the_account_was_used_elsewhere(anvil_chain: Chain) -> None:
    sender = fresh_sender(anvil_chain, ETHER)
    target = Account.create().address
    sender.transfer(target, 1)
    # the same key sends through another process (a second Chain = another nonce manager)
    from medledger.chain import connect

    other = TxSender(connect(anvil_chain.url), sender.account)
    other.transfer(target, 1)
    # our cached nonce is now stale; the sender resynchronises and retries once
    result = sender.transfer(target, 1)
    assert result.status == 1
    assert anvil_chain.w3.eth.get_balance(target) == 3


@pytest.mark.anvil
def test_uses_eip1559_fees_on_anvil(anvil_chain: Chain) -> None:
    sender = fresh_sender(anvil_chain, ETHER)
    result = sender.transfer(Account.create().address, 1)
    tx = anvil_chain.w3.eth.get_transaction(result.tx_hash)
    assert tx["type"] == 2
    assert tx["maxFeePerGas"] >= tx["maxPriorityFeePerGas"]


def test_simulation_spends_no_gas_on_revert(
    embedded_chain: Chain, probe_artifact: Artifact
) -> None:
    sender = fresh_sender(embedded_chain)
    probe = deploy_probe(embedded_chain, sender, probe_artifact)
    balance = embedded_chain.w3.eth.get_balance(sender.address)
    nonce = embedded_chain.w3.eth.get_transaction_count(sender.address)
    with pytest.raises(mle.ContractError):
        sender.send(probe.functions.failBoom())
    with pytest.raises(mle.ContractError):  # explicit gas: eth_call simulation instead
        sender.send(probe.functions.failBoom(), gas=200_000)
    assert embedded_chain.w3.eth.get_balance(sender.address) == balance
    assert embedded_chain.w3.eth.get_transaction_count(sender.address) == nonce


def test_result_carries_decoded_events(embedded_chain: Chain, probe_artifact: Artifact) -> None:
    sender = fresh_sender(embedded_chain)
    sender.registry.register(probe_artifact.abi)
    probe = deploy_probe(embedded_chain, sender, probe_artifact)
    result = sender.send(probe.functions.store(7, b"\x09" * 32))
    assert result.status == 1
    assert result.gas_used > 21_000
    [event] = result.events_named("Stored")
    assert event.args == {
        "id": 7,
        "author": sender.address,
        "digest": b"\x09" * 32,
        "counter": 1,
    }
    assert event.tx_hash == result.tx_hash
    assert event.address == probe.address


def test_unfunded_account_gets_a_clear_error(embedded_chain: Chain) -> None:
    sender = TxSender(embedded_chain, Account.create())
    with pytest.raises(mle.TransactionFailed):
        sender.transfer(Account.create().address, ETHER)


def test_sender_repr_never_shows_the_key(embedded_chain: Chain) -> None:
    account = Account.create()
    sender = TxSender(embedded_chain, account)
    assert account.key.hex() not in repr(sender)
    assert account.address in repr(sender)
