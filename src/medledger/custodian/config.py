"""A custodian's configuration: its two keys, its chain node, its database and its policy.

Keys come from a medledger keystore (``medledger custodian init NAME``: an EVM account that signs
receipts plus an X25519 identity key that kfrags are sealed to) or from a raw key file (JSON
``{"privateKey": "0x<32 bytes>", "encryptionKey": "0x<33-byte private encoding>"}``) that must
not be readable by group or others.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from medledger.crypto.keys import PrivateKey, Suite
from medledger.errors import InvalidInput, KeystoreError

#: Confirmations an access transaction needs (1 = mined). Raise it on networks that reorg.
DEFAULT_FINALITY = 1
#: How old (chain seconds) a logged access may be when its re-encryption is asked for.
DEFAULT_MAX_AGE = 300
#: The node is "behind" when its latest block is older than this (wall-clock seconds); 0 = off.
DEFAULT_MAX_LAG = 120
#: Seconds allowed for one chain call.
DEFAULT_CHAIN_TIMEOUT = 5.0
#: Largest accepted request body.
MAX_BODY = 64 * 1024


@dataclass(frozen=True)
class CustodianKeys:
    """The custodian's signing account and HPKE (X25519) key. ``repr`` shows no secret."""

    account: LocalAccount = field(repr=False)
    encryption: PrivateKey = field(repr=False)

    @property
    def address(self) -> str:
        return str(self.account.address)

    @property
    def encryption_key(self) -> bytes:
        """The 32-byte X25519 public key (``encryptionKey`` on-chain and in ``/v1/info``)."""
        return self.encryption.x25519_public_bytes()

    @classmethod
    def generate(cls) -> CustodianKeys:
        return cls(Account.create(), PrivateKey.generate(Suite.X25519))

    def write_key_file(self, path: Path) -> None:
        """Write a raw key file readable by the owner only (created, never overwritten)."""
        doc = {
            "privateKey": "0x" + bytes(self.account.key).hex(),
            "encryptionKey": "0x" + self.encryption.private_bytes().hex(),
        }
        with open(path, "x", opener=lambda p, f: os.open(p, f, 0o600)) as fh:
            json.dump(doc, fh)

    @classmethod
    def from_key_file(cls, path: Path) -> CustodianKeys:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            raise InvalidInput(f"custodian key file {path} is not a regular file")
        if mode & 0o077:
            raise KeystoreError(
                f"custodian key file {path} is readable by others (mode {mode & 0o777:o})",
                hint=f"chmod 600 {path}",
            )
        try:
            doc = json.loads(path.read_text())
            account = Account.from_key(bytes.fromhex(doc["privateKey"].removeprefix("0x")))
            enc = PrivateKey.from_private_bytes(
                bytes.fromhex(doc["encryptionKey"].removeprefix("0x"))
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            raise KeystoreError(f"custodian key file {path} is malformed") from None
        if enc.suite is not Suite.X25519:
            raise KeystoreError("a custodian's encryption key must be X25519")
        return cls(account, enc)


@dataclass(frozen=True)
class CustodianConfig:
    """Everything ``create_app`` needs."""

    keys: CustodianKeys
    rpc: str
    medledger: str
    db: str
    finality: int = DEFAULT_FINALITY
    max_age: int = DEFAULT_MAX_AGE
    max_lag: int = DEFAULT_MAX_LAG
    chain_timeout: float = DEFAULT_CHAIN_TIMEOUT
    #: per-reader token bucket: sustained requests per second and burst size
    rate: float = 20.0
    burst: int = 40
    max_body: int = MAX_BODY

    def __post_init__(self) -> None:
        if self.finality < 1:
            raise InvalidInput("finality must be at least 1 confirmation")
        if self.max_age < 1 or self.max_lag < 0:
            raise InvalidInput("max-age must be positive and max-lag not negative")
        if self.rate <= 0 or self.burst < 1:
            raise InvalidInput("rate must be positive and burst at least 1")
