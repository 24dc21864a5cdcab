"""A deployment whose provider registry is governed by a 2-of-3 Safe behind a 48 h timelock."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from medledger import Medledger
from medledger.chain.connection import Chain
from medledger.chain.deployment import deploy_suite
from medledger.chain.transactions import TxSender
from medledger.chain.types import ZERO32
from medledger.governance import (
    DEFAULT_MIN_DELAY,
    Consortium,
    ConsortiumSetup,
    Proposal,
    create_consortium,
)
from medledger.storage import open_store


@dataclass
class Gov:
    ml: Medledger
    setup: ConsortiumSetup
    owners: list[LocalAccount]
    outsider: LocalAccount

    @property
    def consortium(self) -> Consortium:
        return self.setup.consortium


def make_gov(chain: Chain, store_dir: Path) -> Gov:
    deployer = chain.dev_accounts()[0]
    deployment = deploy_suite(chain, deployer)
    ml = Medledger(deployment, open_store(str(store_dir)))
    # Owners never need ether: they only sign offline; dev account 1 submits.
    owners = sorted((Account.create() for _ in range(3)), key=lambda a: int(a.address, 16))
    setup = create_consortium(deployment, deployer, [o.address for o in owners], 2)
    deployment.manifest = setup.manifest  # what session.consortium.create does
    return Gov(ml, setup, owners, Account.create())


WEEK = 7 * 86400


def register_proposal(gov: Gov, index: int, responder: bool) -> tuple[str, Proposal]:
    """A proposal scheduling dev party ``index`` as a provider (its own key signature inside)."""
    provider = gov.ml.session(gov.ml.dev_party(index))
    ks = provider.providers.sign_key(deadline=gov.ml.now() + WEEK)
    p = gov.consortium.propose_register(
        provider.address,
        ks.encryption_key.x25519_public_bytes(),
        ZERO32,
        responder,
        "City ER" if responder else "Clinic",
        ks.nonce,
        ks.deadline,
        ks.signature,
    )
    return provider.address, p


def signed(gov: Gov, p: Proposal, *owners: int) -> Proposal:
    for i in owners:
        p = gov.consortium.sign(p, gov.owners[i])
    return p


def submitter(gov: Gov) -> TxSender:
    return TxSender(gov.ml.chain, gov.ml.chain.dev_accounts()[1])


def execute(gov: Gov, p: Proposal) -> int:
    return gov.consortium.execute(p, submitter(gov)).gas_used


def register_provider(gov: Gov, index: int, responder: bool = False) -> str:
    """Register dev party ``index`` the governed way: schedule, wait 48 h, execute."""
    address, p = register_proposal(gov, index, responder)
    execute(gov, signed(gov, p, 0, 1))
    gov.ml.increase_time(DEFAULT_MIN_DELAY + 1)
    execute(gov, signed(gov, gov.consortium.propose_execute(p), 0, 1))
    return address
