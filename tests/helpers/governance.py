"""A deployment whose provider registry is governed by a 2-of-3 Safe behind a 48 h timelock."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from medledger import Medledger
from medledger.chain.connection import Chain
from medledger.chain.deployment import deploy_suite
from medledger.governance import Consortium, ConsortiumSetup, create_consortium
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
    return Gov(ml, setup, owners, Account.create())
