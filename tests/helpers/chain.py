"""Small helpers for the chain tests."""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount

from medledger.chain import Chain, TxSender
from medledger.chain.artifacts import Artifact

ETHER = 10**18


def fresh_sender(chain: Chain, wei: int = 10 * ETHER) -> TxSender:
    """A new random funded account: isolates tests that share one node."""
    account: LocalAccount = Account.create()
    chain.fund(account.address, wei)
    return TxSender(chain, account)


def deploy_probe(chain: Chain, sender: TxSender, artifact: Artifact) -> Any:
    """Deploy Probe(owner=sender) and return the web3 contract object."""
    factory = chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    result = sender.deploy(factory.constructor(sender.address))
    return chain.w3.eth.contract(address=result.contract_address, abi=artifact.abi)
