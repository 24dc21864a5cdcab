"""Small helpers for the chain tests."""

from __future__ import annotations

from eth_account import Account
from eth_account.signers.local import LocalAccount

from medledger.chain import Chain, TxSender

ETHER = 10**18


def fresh_sender(chain: Chain, wei: int = 10 * ETHER) -> TxSender:
    """A new random funded account: isolates tests that share one node."""
    account: LocalAccount = Account.create()
    chain.fund(account.address, wei)
    return TxSender(chain, account)
